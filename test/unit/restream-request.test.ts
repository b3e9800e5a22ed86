import { describe, expect, test } from "bun:test";
import { AppError } from "../../src/core/errors.ts";
import { createSecretBox } from "../../src/core/secret-box.ts";
import { destinationViews, openDestinations, parseRtmpUrl, planRestream, type DestinationReportLike } from "../../src/kernel/restream/request.ts";

const box = createSecretBox("a-test-secret-key-of-enough-length-0123456789");
const KEY = "live_123456_SeCrEtKeY";

function refusal(body: unknown): AppError {
  try {
    planRestream(body, box);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error("the body was accepted");
}

describe("restream request", () => {
  test("a valid body is planned: keys sealed, ids given, loop defaults to false", () => {
    const plan = planRestream(
      { input: { storage_key: "uploads/show.mp4" }, destinations: [{ url: "rtmp://a.rtmp.youtube.com/live2", key: KEY }, { url: "rtmps://live.twitch.tv/app", key: "other", transcode: { height: 720, video_kbps: 3000 } }] },
      box,
    );
    expect(plan.input).toEqual({ storage_key: "uploads/show.mp4" });
    expect(plan.loop).toBe(false);
    expect(plan.destinations.map((d) => [d.id, d.publisher, d.url, d.transcode ?? null])).toEqual([
      ["d1", "rtmp", "rtmp://a.rtmp.youtube.com/live2", null],
      ["d2", "rtmp", "rtmps://live.twitch.tv/app", { height: 720, video_kbps: 3000 }],
    ]);
    expect(JSON.stringify(plan)).not.toContain(KEY);
    expect(box.isEncrypted(plan.destinations[0]!.key_sealed)).toBe(true);
    const opened = openDestinations(plan.destinations, box);
    expect(opened.map((d) => d.key)).toEqual([KEY, "other"]);
    expect(opened[1]!.transcode).toEqual({ height: 720, video_kbps: 3000 });
  });

  test("a URL input with loop", () => {
    const plan = planRestream({ input: { url: "https://media.example.com/a.mp4" }, loop: true, destinations: [{ url: "rtmp://127.0.0.1:1935/live", key: "k" }] }, box);
    expect(plan.input).toEqual({ url: "https://media.example.com/a.mp4" });
    expect(plan.loop).toBe(true);
  });

  test("destination problems are WE-STR-005 naming the field; the key is never quoted", () => {
    const cases: [unknown, string][] = [
      [{ url: "http://example.com/live", key: KEY }, "destinations[0].url"],
      [{ url: "rtmp://user:pass@example.com/live", key: KEY }, "destinations[0].url"],
      [{ url: "rtmp://example.com/live", key: `${KEY} x` }, "destinations[0].key"],
      [{ url: "rtmp://example.com/live", key: `${KEY}/x` }, "destinations[0].key"],
      [{ url: "rtmp://example.com/live", key: "" }, "destinations[0].key"],
      [{ url: "rtmp://example.com/live", key: KEY, transcode: { height: 721, video_kbps: 3000 } }, "destinations[0].transcode.height"],
      [{ url: "rtmp://example.com/live", key: KEY, extra: 1 }, "destinations[0].extra"],
    ];
    for (const [destination, field] of cases) {
      const error = refusal({ input: { storage_key: "a.mp4" }, destinations: [destination] });
      expect(error.code).toBe("WE-STR-005");
      expect(error.status).toBe(422);
      expect(error.message.startsWith(`${field}: `)).toBe(true);
      expect(error.details).toEqual({ field });
      expect(error.message).not.toContain(KEY);
    }
  });

  test("other problems are WE-STR-001", () => {
    const cases: [unknown, string][] = [
      [{ input: {}, destinations: [{ url: "rtmp://h/live", key: "k" }] }, "input: give exactly one"],
      [{ input: { storage_key: "a", url: "https://h/a.mp4" }, destinations: [{ url: "rtmp://h/live", key: "k" }] }, "input: give exactly one"],
      [{ input: { url: "file:///etc/passwd" }, destinations: [{ url: "rtmp://h/live", key: "k" }] }, "input.url: must be an http(s) URL"],
      [{ input: { storage_key: "a" }, loop: "yes", destinations: [{ url: "rtmp://h/live", key: "k" }] }, "loop: must be true or false"],
      [null, "body: "],
    ];
    for (const [body, start] of cases) {
      const error = refusal(body);
      expect(error.code).toBe("WE-STR-001");
      expect(error.message.startsWith(start)).toBe(true);
    }
    expect(refusal({ input: { storage_key: "a" }, destinations: [] }).code).toBe("WE-STR-005");
  });

  test("parseRtmpUrl", () => {
    expect(parseRtmpUrl("rtmps://live.twitch.tv/app")?.hostname).toBe("live.twitch.tv");
    expect(parseRtmpUrl("rtmp:///live")).toBeUndefined();
    expect(parseRtmpUrl("srt://h:9000")).toBeUndefined();
    expect(parseRtmpUrl("not a url")).toBeUndefined();
  });
});

describe("restream destination views", () => {
  const plan = planRestream({ input: { storage_key: "a.mp4" }, destinations: [{ url: "rtmp://h/live", key: KEY }, { url: "rtmp://h2/live", key: KEY }] }, box);
  const reports: DestinationReportLike[] = [{ id: "d1", status: "live", bitrate_kbps: 812, uptime_s: 14, reconnects: 2, last_error: "Connection refused" }];

  test("a running restream shows each destination's report; one not reported yet is connecting", () => {
    const views = destinationViews(plan.destinations, reports, false);
    expect(views).toEqual([
      { id: "d1", publisher: "rtmp", url: "rtmp://h/live", transcode: null, status: "live", bitrate_kbps: 812, uptime_s: 14, reconnects: 2, last_error: "Connection refused" },
      { id: "d2", publisher: "rtmp", url: "rtmp://h2/live", transcode: null, status: "connecting", bitrate_kbps: 0, uptime_s: 0, reconnects: 0, last_error: null },
    ]);
    expect(JSON.stringify(views)).not.toContain(KEY);
    expect(JSON.stringify(views)).not.toContain("key");
  });

  test("an ended restream shows stopped (a failed destination stays failed)", () => {
    const views = destinationViews(plan.destinations, [...reports, { id: "d2", status: "failed", bitrate_kbps: 0, uptime_s: 0, reconnects: 0, last_error: "unauthorized" }], true);
    expect(views.map((view) => [view.status, view.bitrate_kbps, view.uptime_s, view.reconnects])).toEqual([
      ["stopped", 0, 0, 2],
      ["failed", 0, 0, 0],
    ]);
  });
});
