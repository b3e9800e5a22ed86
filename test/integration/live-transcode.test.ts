/**
 * The live task's handler (src/worker/tasks/live.ts) against real FFmpeg through the real encoder plugin:
 * a local server plays the ingesting kernel (HTTP-FLV from an FFmpeg publisher at real-time pace, bearer
 * token, 404 once the session ended) and the segment receiver (PUTs). Checked on what arrives: every rung's
 * segments and playlist, each segment starting on a key frame, the same segment boundaries on every rung,
 * progress carrying the `live` object, and how the task ends (source ended / FFmpeg stopped while the source
 * is still live / cancelled).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { createLogger } from "../../src/core/logger.ts";
import { type LiveParams, type LiveProgress, liveProgressSchema } from "../../src/core/task-contracts.ts";
import { PluginHost } from "../../src/plugin-runtime/host/host.ts";
import type { TaskContext } from "../../src/worker/executor.ts";
import { TaskFailure } from "../../src/worker/failures.ts";
import { liveTask } from "../../src/worker/tasks/live.ts";
import { lavfiPublisherArgs, type LiveSourceServer, startLiveSourceServer } from "../helpers/live-source.ts";
import { waitFor } from "../helpers/wait.ts";

const TOKEN = "live-test-token-0123456789";
const logger = createLogger("live-transcode-test", "warn");
let plugins: PluginHost;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "we-live-transcode-"));
  plugins = new PluginHost({
    logger,
    pluginDir: join(root, "plugins"),
    pillars: ["encoder"],
    settings: { get: async (id) => ({ enabled: id === "encoder-ffmpeg", config: {} }) },
    hostEnv: { PATH: process.env.PATH ?? "" },
  });
  await plugins.start();
});

afterAll(async () => {
  await plugins.stop();
  rmSync(root, { recursive: true, force: true });
});

interface Run {
  ctx: TaskContext<"live">;
  progress: LiveProgress[];
  abort: AbortController;
}

function context(server: LiveSourceServer, overrides: Partial<LiveParams>, attempt: number): Run {
  const progress: LiveProgress[] = [];
  const abort = new AbortController();
  const params: LiveParams = {
    stream_id: "st1",
    session_id: "ss1",
    source_url: server.sourceUrl,
    push_url: server.pushUrl,
    token: TOKEN,
    segment_seconds: 1,
    rungs: [
      { name: "240p", width: 320, height: 240, video_kbps: 400 },
      { name: "120p", width: 160, height: 120, video_kbps: 150 },
    ],
    audio_kbps: 64,
    ...overrides,
  };
  const ctx: TaskContext<"live"> = {
    lease: { task_id: "t1", attempt, token: "lease", worker_id: "w1" },
    jobId: "j1",
    type: "live",
    params,
    mediaSeconds: 0,
    deadlineMs: Date.now() + 10 * 60_000,
    dir: root,
    signal: abort.signal,
    plugins,
    logger,
    commands: [],
    outboundAllowCidrs: [],
    progress: (_percent, _speed, live) => {
      if (live) progress.push(live);
    },
  };
  return { ctx, progress, abort };
}

/** The first video frame of a file: is it a key frame, and its pts. */
async function firstFrame(path: string): Promise<{ key: boolean; pts: number }> {
  const out = await Bun.$`ffprobe -v error -select_streams v:0 -read_intervals %+#1 -show_entries frame=key_frame,pict_type,pts_time -of json ${path}`.text();
  const frame = (JSON.parse(out) as { frames: Array<{ key_frame: number; pict_type: string; pts_time: string }> }).frames[0]!;
  return { key: frame.key_frame === 1 && frame.pict_type === "I", pts: Number(frame.pts_time) };
}

/** EXTINF durations of a playlist, in order. */
const extinf = (playlist: string) => [...playlist.matchAll(/^#EXTINF:([\d.]+),/gm)].map((m) => Number(m[1]));

describe("live task handler", () => {
  test("every rung's segments arrive keyframe-aligned, progress carries the live object, the task ends source_ended", async () => {
    const dir = join(root, "run1");
    const server = startLiveSourceServer({ dir, token: TOKEN, publisherArgs: lavfiPublisherArgs({ seconds: 4, width: 320, height: 240, fps: 30, realtime: true }) });
    try {
      const run = context(server, {}, 3);
      const result = await liveTask(run.ctx);
      expect(result.reason).toBe("source_ended");
      expect(result.media_seconds).toBeGreaterThan(3.5);
      expect(result.media_seconds).toBeLessThan(4.5);
      expect(server.refused).toBe(0);

      const starts: Record<string, number[]> = {};
      const durations: Record<string, number[]> = {};
      for (const rung of ["240p", "120p"]) {
        const files = server.received.filter((file) => file.rung === rung).map((file) => file.file);
        const segments = [...new Set(files.filter((file) => file.endsWith(".ts")))].sort((a, b) => Number(a.split("_")[1]!.split(".")[0]) - Number(b.split("_")[1]!.split(".")[0]));
        expect(files).toContain("e3.m3u8");
        expect(segments.slice(0, 4)).toEqual(["e3_0.ts", "e3_1.ts", "e3_2.ts", "e3_3.ts"]);
        starts[rung] = [];
        for (const segment of segments.slice(0, 4)) {
          const frame = await firstFrame(join(dir, rung, segment));
          expect({ rung, segment, key: frame.key }).toEqual({ rung, segment, key: true });
          starts[rung]!.push(frame.pts);
        }
        const playlist = readFileSync(join(dir, rung, "e3.m3u8"), "utf8");
        expect(playlist).toContain("#EXT-X-INDEPENDENT-SEGMENTS");
        expect(playlist).toContain("#EXT-X-PROGRAM-DATE-TIME:");
        durations[rung] = extinf(playlist).slice(0, 4);
        expect(durations[rung]!.slice(0, 3)).toEqual([1, 1, 1]);
      }
      // Same cut points on every rung: a player switches renditions on segment boundaries.
      expect(starts["120p"]).toEqual(starts["240p"]!);
      expect(durations["120p"]).toEqual(durations["240p"]!);

      expect(run.progress.length).toBeGreaterThanOrEqual(2);
      for (const live of run.progress) expect(v.safeParse(liveProgressSchema, live).success).toBe(true);
      expect(run.progress.every((live) => live.epoch === 3)).toBe(true);
      const last = run.progress.at(-1)!;
      expect(last.segments).toBeGreaterThanOrEqual(3);
      expect(last.fps).toBeGreaterThan(0);
      expect(last.speed).toBeGreaterThan(0);
      // The bearer token authorizes the session: it is never kept in the attempt's evidence.
      expect(run.ctx.commands.length).toBe(1);
      expect(run.ctx.commands[0]!.join(" ")).not.toContain(TOKEN);
    } finally {
      await server.stop();
    }
  });

  test("FFmpeg stopping while the source still answers live is a retryable failure (the task is re-run as a new epoch)", async () => {
    const server = startLiveSourceServer({
      dir: join(root, "run2"),
      token: TOKEN,
      publisherArgs: lavfiPublisherArgs({ seconds: 1, width: 160, height: 120, fps: 30, realtime: false }),
      endWithPublisher: false,
    });
    try {
      const run = context(server, { rungs: [{ name: "120p", width: 160, height: 120, video_kbps: 150 }] }, 1);
      const failure = await liveTask(run.ctx).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(TaskFailure);
      const error = (failure as TaskFailure).error;
      expect(error.class).toBe("retryable");
      expect(error.message).toMatch(/^live transcode \(epoch 1\) stopped after [\d.]+ s while the source is still live; it is restarted$/);
      expect(JSON.stringify(error)).not.toContain(TOKEN);
    } finally {
      await server.stop();
    }
  });

  test("a session that already ended is done at once; a cancel stops FFmpeg and ends the task cancelled", async () => {
    const server = startLiveSourceServer({ dir: join(root, "run3"), token: TOKEN, publisherArgs: lavfiPublisherArgs({ seconds: 30, width: 160, height: 120, fps: 30, realtime: true }) });
    try {
      server.ended = true;
      const done = context(server, {}, 2);
      expect(await liveTask(done.ctx)).toEqual({ reason: "source_ended", media_seconds: 0 });
      expect(done.ctx.commands).toEqual([]);

      server.ended = false;
      const run = context(server, { rungs: [{ name: "120p", width: 160, height: 120, video_kbps: 150 }] }, 4);
      const pending = liveTask(run.ctx);
      await waitFor(() => server.received.some((file) => file.file === "e4_1.ts"), 30_000, "the second segment of epoch 4");
      run.abort.abort(new Error("cancelled"));
      const result = await pending;
      expect(result.reason).toBe("cancelled");
      expect(result.media_seconds).toBeGreaterThan(1);
    } finally {
      await server.stop();
    }
  });
});
