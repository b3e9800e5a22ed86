/**
 * Restream isolation (issue 16, "Done when"): one input restreamed to a healthy local RTMP receiver (the
 * project's own ingest server), a server that accepts TCP and never reads, a closed port, and the healthy
 * server with a refused key. The healthy receiver gets continuous media while the others retry or fail; killed
 * and restarted, it is reconnected after the backoff. Real FFmpeg processes, real sockets, no mocks.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { avcSequenceDimensions } from "../../src/live/flv/media-info.ts";
import { FlvTagType } from "../../src/live/flv/tags.ts";
import { DEFAULT_INGEST_LIMITS, startRtmpServer, type RtmpServer } from "../../src/live/ingest/server.ts";
import { FlvReader } from "../../src/media/restream/flv-reader.ts";
import { DEFAULT_BACKOFF } from "../../src/media/restream/backoff.ts";
import { RestreamRunner, type DestinationReport, type RestreamEvent } from "../../src/worker/tasks/restream.ts";
import { makeClip } from "../helpers/media.ts";
import { waitFor } from "../helpers/wait.ts";

const logger = pino({ level: "silent" });
let dir: string;
let clip: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "restream-isolation-"));
  // 1 s GOPs: a restarted publisher starts at the latest keyframe, so its gap stays short.
  clip = await makeClip(dir, "source", { width: 320, height: 240, rate: "25", duration_s: 3, audio: true, gop: 25 });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ReceivedTag {
  session: number;
  type: number;
  timestamp: number;
  at: number;
  /** For an AVC sequence header: the coded size it announces. */
  dimensions?: { width: number; height: number };
}

/** The healthy receiver: accepts the key "good", refuses every other as unknown; records every tag it gets. */
async function receiver(port: number, received: ReceivedTag[], sessionNumber: () => number): Promise<RtmpServer> {
  return startRtmpServer({
    host: "127.0.0.1",
    port,
    limits: DEFAULT_INGEST_LIMITS,
    logger,
    authorize: async (request) =>
      request.streamKey === "good" ? { accept: true, streamId: "healthy" } : { accept: false, code: "NetStream.Publish.BadName", description: "unknown stream key" },
    onPublish: (session) => {
      const number = sessionNumber();
      const reader = new FlvReader();
      void (async () => {
        try {
          for await (const chunk of session.subscribe()) {
            for (const tag of reader.push(chunk)) {
              const dimensions = tag.type === FlvTagType.video ? avcSequenceDimensions(tag.body) : undefined;
              received.push({ session: number, type: tag.type, timestamp: tag.timestamp, at: Date.now(), ...(dimensions ? { dimensions } : {}) });
            }
          }
        } catch {
          // the session ended
        }
      })();
    },
    onEnd: () => {},
  });
}

/** Largest step between consecutive video timestamps of one receiver session, ms. */
function largestVideoGap(tags: ReceivedTag[], session: number): { gap: number; frames: number; spanMs: number } {
  const video = tags.filter((tag) => tag.session === session && tag.type === FlvTagType.video).map((tag) => tag.timestamp);
  let gap = 0;
  for (let i = 1; i < video.length; i++) gap = Math.max(gap, video[i]! - video[i - 1]!);
  return { gap, frames: video.length, spanMs: video.length > 0 ? video[video.length - 1]! - video[0]! : 0 };
}

test("one input to a healthy receiver, a silent server, a closed port and a refused key: the healthy one never waits; it reconnects after a restart", async () => {
  const received: ReceivedTag[] = [];
  let sessions = 0;
  let healthy = await receiver(0, received, () => ++sessions);
  const healthyPort = healthy.port;

  // Accepts TCP and never reads a byte (paused): an RTMP handshake to it hangs forever.
  const silentSockets: Socket[] = [];
  const silent: Server = createServer({ pauseOnConnect: true }, (socket) => void silentSockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
  const silentPort = (silent.address() as { port: number }).port;
  // A port that was just free: connections are refused.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", () => resolve()));
  const closedPort = (closed.address() as { port: number }).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));

  const events: RestreamEvent[] = [];
  let latest: DestinationReport[] = [];
  const runner = new RestreamRunner({
    input: { kind: "file", source: clip, loop: true },
    destinations: [
      { id: "healthy", publisher: "rtmp", url: `rtmp://127.0.0.1:${healthyPort}/live`, key: "good", enabled: true },
      { id: "silent", publisher: "rtmp", url: `rtmp://127.0.0.1:${silentPort}/live`, key: "silent-key", enabled: true },
      { id: "refused", publisher: "rtmp", url: `rtmp://127.0.0.1:${closedPort}/live`, key: "refused-key", enabled: true },
      { id: "bad-key", publisher: "rtmp", url: `rtmp://127.0.0.1:${healthyPort}/live`, key: "wrong-key-123", enabled: true },
      { id: "disabled", publisher: "rtmp", url: `rtmp://127.0.0.1:${healthyPort}/live`, key: "good", enabled: false },
    ],
    logger,
    // Short for the test, yet well above a publisher's start on a loaded machine (about 1 s idle).
    stallTimeoutMs: 6_000,
    onChange: (report) => (latest = report),
    onEvent: (event) => void events.push(event),
  });
  const byId = (id: string) => runner.report().find((destination) => destination.id === id);
  runner.start();
  try {
    expect(runner.report().map((destination) => destination.id)).toEqual(["healthy", "silent", "refused", "bad-key"]);

    // The silent destination is killed by the watchdog and retried; the refused one retries; the bad key fails for good.
    await waitFor(() => (byId("silent")?.reconnects ?? 0) >= 1, 30_000, "the silent destination killed by the watchdog and started again");
    await waitFor(() => (byId("refused")?.reconnects ?? 0) >= 1, 30_000, "the refused destination retried");
    await waitFor(() => byId("bad-key")?.status === "failed", 30_000, "the refused key failed");
    await waitFor(() => byId("healthy")?.status === "live", 30_000, "the healthy destination live");

    expect(byId("bad-key")!.last_error).toBe("Server error: unknown stream key");
    expect(byId("silent")!.last_error).toContain("does not answer");
    expect(byId("refused")!.last_error).toContain("Connection refused");
    expect(byId("refused")!.last_error).not.toContain("refused-key");
    expect(byId("healthy")).toMatchObject({ reconnects: 0, last_error: null });

    // Continuous media on the healthy receiver while the others hang and retry: no step over 1 s in what it
    // recorded, and media for at least half of the wall time since its first tag arrived (a receiver held up
    // by the silent destination's hung handshake would have recorded nothing for those seconds).
    const first = largestVideoGap(received, 1);
    const firstArrival = received.find((tag) => tag.session === 1)!.at;
    expect(first.gap).toBeLessThanOrEqual(1000);
    expect(first.spanMs).toBeGreaterThanOrEqual((Date.now() - firstArrival) * 0.5);
    expect(first.frames).toBeGreaterThan(25);
    expect(sessions).toBe(1); // the bad key never got a session

    // Kill the healthy receiver; restart it on the same port: reconnected after the backoff.
    await healthy.stop();
    await waitFor(() => byId("healthy")?.status === "retrying", 30_000, "the healthy destination retrying after its receiver went away");
    healthy = await receiver(healthyPort, received, () => ++sessions);
    await waitFor(() => byId("healthy")?.status === "live" && sessions >= 2, DEFAULT_BACKOFF.maxMs, "the healthy destination reconnected");
    await waitFor(() => largestVideoGap(received, 2).frames > 25, 30_000, "media on the restarted receiver");
    const second = largestVideoGap(received, 2);
    expect(second.gap).toBeLessThanOrEqual(1000);
    expect(byId("healthy")!.reconnects).toBeGreaterThanOrEqual(1);
    await waitFor(() => (byId("healthy")?.bitrate_kbps ?? 0) > 0, 30_000, "a bitrate reported for the reconnected destination");

    // Every state change was pushed to onChange (what the task turns into progress reports).
    expect(latest.find((destination) => destination.id === "healthy")?.status).toBe("live");
    const summary = events.map((event) => `${event.type}:${event.destination_id}${event.terminal ? ":terminal" : ""}`);
    expect(summary).toContain("restream.destination.failed:silent");
    expect(summary).toContain("restream.destination.failed:refused");
    expect(summary).toContain("restream.destination.failed:bad-key:terminal");
    expect(summary).toContain("restream.destination.failed:healthy");
    expect(summary).toContain("restream.destination.recovered:healthy");
    // One `failed` per outage, not one per retry.
    expect(summary.filter((entry) => entry === "restream.destination.failed:refused").length).toBe(1);
    expect(events.some((event) => (event.error ?? "").includes("wrong-key-123"))).toBe(false);
  } finally {
    const outcome = await runner.stop();
    expect(outcome.reason).toBe("stopped");
    expect(outcome.destinations.map((destination) => `${destination.id}:${destination.status}`)).toEqual(["healthy:stopped", "silent:stopped", "refused:stopped", "bad-key:failed"]);
    await healthy.stop();
    for (const socket of silentSockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
}, 120_000);

test("a destination that stops reading overflows only its own bounded queue and is restarted; the healthy one stays live", async () => {
  const received: ReceivedTag[] = [];
  let sessions = 0;
  const healthy = await receiver(0, received, () => ++sessions);
  const silentSockets: Socket[] = [];
  const silent: Server = createServer({ pauseOnConnect: true }, (socket) => void silentSockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
  const silentPort = (silent.address() as { port: number }).port;
  let latest: DestinationReport[] = [];
  const runner = new RestreamRunner({
    input: { kind: "file", source: clip, loop: true },
    destinations: [
      { id: "healthy", publisher: "rtmp", url: `rtmp://127.0.0.1:${healthy.port}/live`, key: "good", enabled: true },
      { id: "silent", publisher: "rtmp", url: `rtmp://127.0.0.1:${silentPort}/live`, key: "k", enabled: true },
    ],
    logger,
    // The watchdog is out of the way here: the queue bound alone must catch the stuck destination.
    stallTimeoutMs: 120_000,
    // Room for a GOP of this input (about 100 KiB) plus the pipe's own buffer, little more.
    maxQueueBytes: 256 * 1024,
    onChange: (report) => (latest = report),
  });
  const byId = (id: string) => runner.report().find((destination) => destination.id === id);
  runner.start();
  try {
    await waitFor(() => (byId("silent")?.reconnects ?? 0) >= 1, 60_000, "the stuck destination dropped at its queue bound and restarted");
    expect(byId("silent")!.last_error).toContain("queue overflowed");
    await waitFor(() => largestVideoGap(received, 1).frames > 50, 30_000, "media on the healthy receiver");
    expect(byId("healthy")).toMatchObject({ status: "live", reconnects: 0, last_error: null });
    expect(largestVideoGap(received, 1).gap).toBeLessThanOrEqual(1000);
    expect(sessions).toBe(1);
    expect(latest.find((destination) => destination.id === "silent")?.last_error).toContain("queue overflowed");
  } finally {
    await runner.stop();
    await healthy.stop();
    for (const socket of silentSockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
}, 120_000);

test("a file without loop plays once, copied to one destination and transcoded to 120p for another: the run ends input_ended with every destination stopped; an unreadable input ends input_failed with FFmpeg's message", async () => {
  const received: ReceivedTag[] = [];
  const transcoded: ReceivedTag[] = [];
  let sessions = 0;
  let transcodedSessions = 0;
  const healthy = await receiver(0, received, () => ++sessions);
  const small = await receiver(0, transcoded, () => ++transcodedSessions);
  try {
    const once = new RestreamRunner({
      input: { kind: "file", source: clip, loop: false },
      destinations: [
        { id: "healthy", publisher: "rtmp", url: `rtmp://127.0.0.1:${healthy.port}/live`, key: "good", enabled: true },
        { id: "small", publisher: "rtmp", url: `rtmp://127.0.0.1:${small.port}/live`, key: "good", enabled: true, transcode: { height: 120, video_kbps: 150 } },
      ],
      logger,
    });
    once.start();
    const outcome = await once.done;
    expect(outcome).toMatchObject({
      reason: "input_ended",
      destinations: [
        { id: "healthy", status: "stopped", reconnects: 0, last_error: null },
        { id: "small", status: "stopped", reconnects: 0, last_error: null },
      ],
    });
    // Stream copy keeps the source's 320x240; the transcoded destination announces 160x120.
    await waitFor(() => transcoded.some((tag) => tag.dimensions !== undefined) && largestVideoGap(transcoded, 1).frames > 25, 30_000, "the transcoded stream");
    expect(received.find((tag) => tag.dimensions)?.dimensions).toEqual({ width: 320, height: 240 });
    expect(transcoded.find((tag) => tag.dimensions)?.dimensions).toEqual({ width: 160, height: 120 });
    // The 3 s clip arrived whole: 25 fps from 0 to about 2.96 s.
    await waitFor(() => largestVideoGap(received, 1).spanMs >= 2800, 30_000, "the whole clip at the receiver");
    expect(largestVideoGap(received, 1).frames).toBeGreaterThanOrEqual(70);
    expect(once.inputPositionSeconds()).toBeGreaterThanOrEqual(2.8);
    expect(once.inputPositionSeconds()).toBeLessThan(3.2);

    const missing = new RestreamRunner({
      input: { kind: "file", source: join(dir, "no-such-file.mp4"), loop: true },
      destinations: [{ id: "healthy", publisher: "rtmp", url: `rtmp://127.0.0.1:${healthy.port}/live`, key: "good", enabled: true }],
      logger,
    });
    missing.start();
    const failed = await missing.done;
    expect(failed.reason).toBe("input_failed");
    expect(failed.error).toContain("No such file or directory");
    expect(failed.destinations[0]!.status).toBe("stopped");
  } finally {
    await healthy.stop();
    await small.stop();
  }
}, 120_000);
