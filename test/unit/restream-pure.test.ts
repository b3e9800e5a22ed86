import { describe, expect, test } from "bun:test";
import { flvHeader, flvTag, FlvTagType } from "../../src/live/flv/tags.ts";
import {
  isTerminalPublishError,
  publishErrorMessage,
  publishUrl,
  redactKey,
  restreamDestinationArgs,
  restreamInputArgs,
} from "../../src/media/restream/args.ts";
import { backoffDelayMs, DEFAULT_BACKOFF } from "../../src/media/restream/backoff.ts";
import { initialDestinationState, nextDestinationState, uptimeSeconds, type DestinationState } from "../../src/media/restream/destination-state.ts";
import { FlvFormatError, FlvReader } from "../../src/media/restream/flv-reader.ts";
import { bitrateKbps, createPublishProgressParser, type PublishProgress } from "../../src/media/restream/progress.ts";

describe("restream backoff", () => {
  test("2 s, ×1.5, capped at 60 s without jitter (random = 0.5 is the centre)", () => {
    const delays = [1, 2, 3, 4, 8, 9, 50].map((attempt) => backoffDelayMs(attempt, DEFAULT_BACKOFF, 0.5));
    expect(delays).toEqual([2000, 3000, 4500, 6750, 34_172, 51_258, 60_000]);
  });
  test("jitter spreads ±20 % and never exceeds the cap", () => {
    expect(backoffDelayMs(1, DEFAULT_BACKOFF, 0)).toBe(1600);
    expect(backoffDelayMs(1, DEFAULT_BACKOFF, 0.999999)).toBe(2400);
    expect(backoffDelayMs(30, DEFAULT_BACKOFF, 0.999999)).toBe(60_000);
    expect(backoffDelayMs(30, DEFAULT_BACKOFF, 0)).toBe(48_000);
  });
});

describe("restream destination state machine", () => {
  const fail = (state: DestinationState, at: number, terminal = false) =>
    nextDestinationState(state, { type: "failed", at, error: terminal ? "NetStream.Publish.BadName" : "Connection refused", terminal, retryInMs: 2000 });

  test("connecting → live → retrying → connecting (a reconnect) → live resets the failure count", () => {
    let state = initialDestinationState();
    expect(state.status).toBe("connecting");
    state = nextDestinationState(state, { type: "started", at: 0 });
    expect(state.reconnects).toBe(0);
    state = nextDestinationState(state, { type: "progressed", at: 1000 });
    expect(state).toMatchObject({ status: "live", liveSince: 1000 });
    expect(uptimeSeconds(state, 31_000)).toBe(30);
    state = fail(state, 40_000);
    expect(state).toMatchObject({ status: "retrying", consecutiveFailures: 1, lastError: "Connection refused", retryAt: 42_000, liveSince: null });
    expect(uptimeSeconds(state, 50_000)).toBe(0);
    state = nextDestinationState(state, { type: "started", at: 42_000 });
    expect(state).toMatchObject({ status: "connecting", reconnects: 1 });
    state = fail(state, 43_000);
    expect(state.consecutiveFailures).toBe(2);
    state = nextDestinationState(state, { type: "started", at: 46_000 });
    state = nextDestinationState(state, { type: "progressed", at: 47_000 });
    expect(state).toMatchObject({ status: "live", reconnects: 2, consecutiveFailures: 0, lastError: "Connection refused" });
  });

  test("a terminal error is final with the platform's message; late events change nothing", () => {
    let state = fail(initialDestinationState(), 1000, true);
    expect(state).toMatchObject({ status: "failed", lastError: "NetStream.Publish.BadName" });
    expect(nextDestinationState(state, { type: "started", at: 2000 })).toBe(state);
    expect(nextDestinationState(state, { type: "progressed", at: 2000 })).toBe(state);
    state = nextDestinationState(initialDestinationState(), { type: "stopped", at: 5 });
    expect(state.status).toBe("stopped");
    expect(fail(state, 6).status).toBe("stopped");
  });
});

describe("restream FFmpeg argv", () => {
  const destination = { url: "rtmp://a.example/live2/", key: "sk_secret" };
  test("stream copy by default, FLV to <url>/<key>, progress on stdout", () => {
    const argv = restreamDestinationArgs(destination);
    expect(argv.slice(argv.indexOf("-i"), argv.indexOf("-i") + 2)).toEqual(["-i", "pipe:0"]);
    expect(argv).toContain("copy");
    expect(argv).not.toContain("libx264");
    expect(argv.slice(-6)).toEqual(["-progress", "pipe:1", "-nostats", "-f", "flv", "rtmp://a.example/live2/sk_secret"]);
  });
  test("a transcode scales to the height and caps the video bitrate", () => {
    const argv = restreamDestinationArgs({ ...destination, transcode: { height: 720, video_kbps: 3000 } });
    const at = (flag: string) => argv[argv.indexOf(flag) + 1];
    expect(at("-vf")).toBe("scale=-2:720");
    expect(at("-c:v")).toBe("libx264");
    expect(at("-b:v")).toBe("3000k");
    expect(at("-maxrate")).toBe("3000k");
    expect(at("-c:a")).toBe("aac");
    expect(argv).not.toContain("copy");
  });
  test("input: a file is paced with -re and loops on request; a live source is not paced", () => {
    const looped = restreamInputArgs({ kind: "file", source: "/tmp/a.mp4", loop: true, startSeconds: 12.5 });
    expect(looped.indexOf("-re")).toBeLessThan(looped.indexOf("-i"));
    expect(looped[looped.indexOf("-stream_loop") + 1]).toBe("-1");
    expect(looped[looped.indexOf("-ss") + 1]).toBe("12.5");
    expect(looped.slice(-5)).toEqual(["-c", "copy", "-f", "flv", "pipe:1"]);
    const once = restreamInputArgs({ kind: "file", source: "/tmp/a.mp4", loop: false });
    expect(once).not.toContain("-stream_loop");
    const live = restreamInputArgs({ kind: "live", source: "http://k/internal/live/s/source.flv" });
    expect(live).not.toContain("-re");
  });
  test("publish URL, key redaction and terminal errors", () => {
    expect(publishUrl({ url: "rtmps://x/app", key: "" })).toBe("rtmps://x/app");
    expect(redactKey("rtmp://x/app/sk_1: Connection refused", "sk_1")).toBe("rtmp://x/app/<key>: Connection refused");
    const refused = "[tcp @ 0x1] Connection to tcp://127.0.0.1:9 failed: Connection refused\nrtmp://127.0.0.1:9/live/sk_1: Connection refused";
    expect(isTerminalPublishError(refused)).toBe(false);
    expect(publishErrorMessage(refused, "sk_1")).toBe("rtmp://127.0.0.1:9/live/<key>: Connection refused");
    const badKey = "[rtmp @ 0x55] Server error: unknown stream key sk_1\nrtmp://h/live/sk_1: Operation not permitted";
    expect(isTerminalPublishError("[rtmp @ 0x55] NetStream.Publish.BadName")).toBe(true);
    expect(isTerminalPublishError(badKey)).toBe(true);
    expect(isTerminalPublishError("[rtmp @ 0x55] Server error: server is full")).toBe(false);
    expect(publishErrorMessage(badKey, "sk_1")).toBe("Server error: unknown stream key <key>");
    expect(publishErrorMessage("", "k")).toBe("publisher exited without a message");
  });
});

describe("restream progress and FLV reader", () => {
  test("progress blocks report bytes and media time; lines may be split", () => {
    const blocks: PublishProgress[] = [];
    const parser = createPublishProgressParser((block) => blocks.push(block));
    parser.push("total_size=1000\nout_time_us=500");
    parser.push("000\nprogress=continue\ntotal_size=N/A\nprogress=continue\n");
    expect(blocks).toEqual([
      { totalBytes: 1000, outTimeSeconds: 0.5 },
      { totalBytes: 1000, outTimeSeconds: 0.5 },
    ]);
    expect(bitrateKbps({ totalBytes: 0, at: 0 }, { totalBytes: 250_000, at: 2000 })).toBe(1000);
    expect(bitrateKbps({ totalBytes: 0, at: 5 }, { totalBytes: 9, at: 5 })).toBe(0);
  });
  test("tags come out whole whatever the chunking; non-FLV input is refused", () => {
    const bytes = new Uint8Array([
      ...flvHeader(true, true),
      ...flvTag(FlvTagType.script, 0, Uint8Array.of(1, 2)),
      ...flvTag(FlvTagType.video, 40, Uint8Array.of(0x17, 0, 0, 0, 0)),
      ...flvTag(FlvTagType.audio, 0x01_00_00_10, Uint8Array.of(0xaf, 1, 9)),
    ]);
    for (const size of [1, 7, 13, bytes.length]) {
      const reader = new FlvReader();
      const tags = [];
      for (let offset = 0; offset < bytes.length; offset += size) tags.push(...reader.push(bytes.slice(offset, offset + size)));
      expect(tags.map((tag) => [tag.type, tag.timestamp, tag.body.length])).toEqual([
        [18, 0, 2],
        [9, 40, 5],
        [8, 0x01_00_00_10, 3],
      ]);
    }
    expect(() => new FlvReader().push(new TextEncoder().encode("not an flv stream"))).toThrow(FlvFormatError);
  });
});
