/**
 * The worker's metrics module on its own: FFmpeg processes and fps while encodes run (too short-lived to catch
 * reliably in a real job), tasks and slots, and the /metrics server: off at port 0, serving on a free port,
 * and a ListenError naming WORKER_METRICS_PORT when the port is taken (the worker exits on it).
 */
import { describe, expect, test } from "bun:test";
import type { Logger } from "../../src/core/logger.ts";
import { createRegistry } from "../../src/core/metrics.ts";
import { createWorkerMetrics, serveWorkerMetrics } from "../../src/worker/metrics.ts";
import { ListenError } from "../../src/core/listen.ts";
import { parseExposition, value } from "../helpers/prom.ts";

const read = async (m: ReturnType<typeof createWorkerMetrics>) => parseExposition(await m.registry.metrics());

function recordingLogger() {
  const lines: Array<{ level: string; msg: string }> = [];
  const at = (level: string) => (_obj: unknown, msg?: string) => void lines.push({ level, msg: msg ?? "" });
  return { lines, logger: { info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") } as unknown as Logger };
}

describe("worker metrics", () => {
  test("FFmpeg processes and fps follow the encodes that run; ending twice is harmless", async () => {
    const m = createWorkerMetrics(createRegistry("worker"));
    expect(value(await read(m), "webencode_worker_ffmpeg_processes")).toBe(0);
    const a = m.ffmpegStarted("video");
    const b = m.ffmpegStarted("video");
    const c = m.ffmpegStarted("audio");
    a.progress({ percent: 10, out_time_s: 1, fps: 30 });
    b.progress({ percent: 10, out_time_s: 1, fps: 20 });
    b.progress({ percent: 20, out_time_s: 2 }); // a block without fps keeps the last one
    c.progress({ percent: 5, out_time_s: 1, fps: Number.NaN });
    let s = await read(m);
    expect(value(s, "webencode_worker_ffmpeg_processes")).toBe(3);
    expect(value(s, "webencode_worker_encode_fps", { type: "video" })).toBe(50);
    expect(value(s, "webencode_worker_encode_fps", { type: "audio" })).toBe(0);
    a.end();
    a.end();
    a.progress({ percent: 50, out_time_s: 5, fps: 99 }); // late progress of an ended run counts for nothing
    s = await read(m);
    expect(value(s, "webencode_worker_ffmpeg_processes")).toBe(2);
    expect(value(s, "webencode_worker_encode_fps", { type: "video" })).toBe(20);
    b.end();
    c.end();
    s = await read(m);
    expect(value(s, "webencode_worker_ffmpeg_processes")).toBe(0);
    // Types seen stay, at 0, so a dashboard shows a flat line rather than a gap.
    expect(value(s, "webencode_worker_encode_fps", { type: "video" })).toBe(0);
    expect(s.samples.filter((x) => x.name === "webencode_worker_encode_fps")).toHaveLength(2);
  });

  test("tasks, durations and slots", async () => {
    const m = createWorkerMetrics(createRegistry("worker"), { pluginMetrics: true });
    m.setSlots(4);
    m.setBusy(3);
    m.taskFinished("video", "completed", 2.5);
    m.taskFinished("video", "failed", 1);
    m.taskFinished("package", "aborted", 0.5);
    const s = await read(m);
    expect(value(s, "webencode_worker_slots")).toBe(4);
    expect(value(s, "webencode_worker_slots_busy")).toBe(3);
    expect(value(s, "webencode_worker_tasks_total", { type: "video", outcome: "completed" })).toBe(1);
    expect(value(s, "webencode_worker_tasks_total", { type: "video" })).toBe(2);
    expect(value(s, "webencode_worker_task_duration_seconds_sum", { type: "video" })).toBe(3.5);
    expect(value(s, "webencode_worker_task_duration_seconds_count", { type: "package" })).toBe(1);
    expect(m.plugins).toBeDefined();
    expect(s.types.get("webencode_plugin_healthy")).toBe("gauge");
  });

  test("the server: off at port 0, GET /metrics on a free port, a ListenError naming WORKER_METRICS_PORT on a taken one", async () => {
    const m = createWorkerMetrics(createRegistry("worker"));
    const log = recordingLogger();
    expect(serveWorkerMetrics(m.registry, { port: 0, host: "127.0.0.1", logger: log.logger })).toBeUndefined();

    const first = serveWorkerMetrics(m.registry, { port: await freePort(), host: "127.0.0.1", logger: log.logger });
    expect(first).toBeDefined();
    try {
      const r = await fetch(`http://127.0.0.1:${first!.port}/metrics`);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toContain("text/plain");
      expect(await r.text()).toContain("# TYPE webencode_worker_slots gauge");
      expect((await fetch(`http://127.0.0.1:${first!.port}/other`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${first!.port}/metrics`, { method: "POST" })).status).toBe(405);

      // A taken port is never shared (no SO_REUSEPORT): ListenError naming the variable, exit code 3.
      let error: unknown;
      try {
        serveWorkerMetrics(m.registry, { port: first!.port, host: "127.0.0.1", logger: log.logger });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ListenError);
      expect((error as ListenError).exitCode).toBe(3);
      expect((error as ListenError).message).toContain(`WORKER_METRICS_PORT=${first!.port}`);
      expect((error as ListenError).message).toContain("already in use");
    } finally {
      await first!.stop();
    }
  });
});

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}
