/**
 * The worker's own metrics (docs/metrics.md): FFmpeg encodes running, slot use, current encode fps, tasks run
 * and their wall time. A standalone worker serves them on WORKER_METRICS_PORT (`GET /metrics`); the worker
 * embedded in a standalone kernel registers them in the kernel's registry instead and opens no port.
 *
 * A port that cannot be bound stops the worker (ListenError, exit code 3): a metrics port silently shared with
 * another process would split scrapes between two workers, and one left off would hide the worker from alerts.
 */
import { errorMessage } from "../core/errors.ts";
import { listen } from "../core/listen.ts";
import type { Logger } from "../core/logger.ts";
import { Counter, Gauge, Histogram, type Registry } from "../core/metrics.ts";
import { createPluginMetrics, type PluginMetrics } from "../plugin-runtime/host/metrics.ts";
import type { TranscodeProgress } from "../plugin-runtime/pillars.ts";

/** How a task ended on this worker: handed back on drain/shutdown is "aborted", a kernel's cancel "cancelled". */
export type WorkerTaskOutcome = "completed" | "failed" | "aborted" | "cancelled";

/** One FFmpeg encode in flight. */
export interface FfmpegRun {
  /** The latest progress block (its fps becomes the run's current rate). */
  progress(p: TranscodeProgress): void;
  /** The run ended (any way); calling it twice is harmless. */
  end(): void;
}

export interface WorkerMetrics {
  readonly registry: Registry;
  /** Present when the worker's plugin host should report plugin RPC metrics into this registry. */
  readonly plugins: PluginMetrics | undefined;
  setSlots(total: number): void;
  setBusy(running: number): void;
  taskFinished(type: string, outcome: WorkerTaskOutcome, seconds: number): void;
  ffmpegStarted(type: string): FfmpegRun;
  /** The latest nvidia-smi sample per GPU (docs/gpu.md); never called without nvidia-smi. */
  setGpu?(samples: ReadonlyArray<{ index: number; utilization: number; memoryUsedBytes: number; memoryTotalBytes: number; encoderSessions: number }>): void;
}

export interface WorkerMetricsOptions {
  /**
   * Also register the plugin metrics (webencode_plugin_*). Off for the embedded worker: the kernel's registry
   * already holds them for the kernel's own plugin host.
   */
  pluginMetrics?: boolean;
}

export function createWorkerMetrics(registry: Registry, opts: WorkerMetricsOptions = {}): WorkerMetrics {
  /** Encodes in flight and the fps each last reported; read at scrape time. */
  const active = new Map<object, { type: string; fps: number }>();
  /** Types seen so far: a type with nothing running reports 0 fps rather than vanishing. */
  const types = new Set<string>();

  new Gauge({
    name: "webencode_worker_ffmpeg_processes",
    help: "FFmpeg encodes this worker is running now",
    registers: [registry],
    collect() {
      this.set(active.size);
    },
  });
  new Gauge({
    name: "webencode_worker_encode_fps",
    help: "Frames per second FFmpeg reports for the encodes running now, summed per task type (0 when none runs)",
    labelNames: ["type"],
    registers: [registry],
    collect() {
      const sums = new Map([...types].map((t) => [t, 0]));
      for (const run of active.values()) sums.set(run.type, (sums.get(run.type) ?? 0) + run.fps);
      for (const [type, fps] of sums) this.set({ type }, fps);
    },
  });
  const slotsTotal = new Gauge({ name: "webencode_worker_slots", help: "Task slots of this worker (WORKER_CONCURRENCY)", registers: [registry] });
  const slotsBusy = new Gauge({ name: "webencode_worker_slots_busy", help: "Task slots running a task now", registers: [registry] });
  const tasks = new Counter({
    name: "webencode_worker_tasks_total",
    help: "Tasks this worker ran (lease granted), by type and outcome (completed, failed, aborted = handed back, cancelled)",
    labelNames: ["type", "outcome"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "webencode_worker_task_duration_seconds",
    help: "Wall time of tasks this worker ran, by type",
    labelNames: ["type"],
    buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [registry],
  });

  const gpuGauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ["gpu"], registers: [registry] });
  const gpuUtilization = gpuGauge("webencode_worker_gpu_utilization_ratio", "GPU utilization (0-1) per nvidia-smi, by GPU index");
  const gpuMemoryUsed = gpuGauge("webencode_worker_gpu_memory_used_bytes", "GPU memory in use per nvidia-smi, by GPU index");
  const gpuMemoryTotal = gpuGauge("webencode_worker_gpu_memory_total_bytes", "GPU memory per nvidia-smi, by GPU index");
  const gpuSessions = gpuGauge("webencode_worker_gpu_encoder_sessions", "NVENC encode sessions open on the GPU (all processes) per nvidia-smi, by GPU index");

  return {
    registry,
    plugins: opts.pluginMetrics ? createPluginMetrics(registry) : undefined,
    setGpu(samples) {
      for (const sample of samples) {
        const gpu = String(sample.index);
        gpuUtilization.set({ gpu }, sample.utilization);
        gpuMemoryUsed.set({ gpu }, sample.memoryUsedBytes);
        gpuMemoryTotal.set({ gpu }, sample.memoryTotalBytes);
        gpuSessions.set({ gpu }, sample.encoderSessions);
      }
    },
    setSlots: (n) => slotsTotal.set(n),
    setBusy: (n) => slotsBusy.set(n),
    taskFinished(type, outcome, seconds) {
      tasks.inc({ type, outcome });
      duration.observe({ type }, Math.max(0, seconds));
    },
    ffmpegStarted(type) {
      types.add(type);
      const key = {};
      active.set(key, { type, fps: 0 });
      return {
        progress(update) {
          const run = active.get(key);
          if (run && typeof update.fps === "number" && Number.isFinite(update.fps) && update.fps >= 0) run.fps = update.fps;
        },
        end() {
          active.delete(key);
        },
      };
    },
  };
}

export interface MetricsServer {
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Serves `GET /metrics` from `registry` on host:port. Port 0 means off (undefined). A port that cannot be
 * bound throws ListenError naming WORKER_METRICS_PORT (src/core/listen.ts); the executable exits on it.
 */
export function serveWorkerMetrics(registry: Registry, options: { port: number; host: string; logger: Logger }): MetricsServer | undefined {
  if (options.port === 0) return undefined;
  const server = listen({ portVariable: "WORKER_METRICS_PORT", hostVariable: "WORKER_METRICS_HOST", port: options.port, host: options.host }, (bind) =>
    Bun.serve({
      ...bind,
      async fetch(req) {
        const path = new URL(req.url).pathname;
        if (path !== "/metrics") return new Response("not found: the worker serves only GET /metrics\n", { status: 404 });
        if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
        try {
          return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
        } catch (error) {
          options.logger.warn({ error: errorMessage(error) }, "worker metrics: collecting failed");
          return new Response(`collecting metrics failed: ${errorMessage(error)}\n`, { status: 500 });
        }
      },
      // Prometheus' own errors (a closed connection) are not the worker's problem.
      error: () => new Response("internal error\n", { status: 500 }),
    }),
  );
  options.logger.info({ port: server.port, host: options.host }, `worker metrics on http://${options.host}:${server.port}/metrics`);
  return { port: server.port ?? options.port, stop: () => server.stop(true) };
}
