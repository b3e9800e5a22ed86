/**
 * The worker that runs inside a standalone kernel, on the kernel's in-process bus. Same runtime as the
 * webencode-worker executable; its settings come from the same variables (WORKER_CONCURRENCY, FFMPEG_PATH, …).
 */
import { join } from "node:path";
import type { Bus } from "../bus/types.ts";
import { environment } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import type { Registry } from "../core/metrics.ts";
import { bootWorker } from "./bootstrap.ts";
import { loadWorkerConfig } from "./config.ts";
import { createWorkerMetrics } from "./metrics.ts";
import type { WorkerRuntime } from "./runtime.ts";

export interface EmbeddedWorker {
  runtime: WorkerRuntime;
  stop(): Promise<void>;
}

/** `outboundAllowCidrs`: the kernel's OUTBOUND_ALLOW_CIDRS, so both ends of a standalone install apply one policy. */
export async function startEmbeddedWorker(opts: { bus: Bus; logger: Logger; dataDir: string; pluginDir: string; outboundAllowCidrs?: readonly string[]; registry?: Registry }): Promise<EmbeddedWorker> {
  const env = environment();
  const config = loadWorkerConfig({
    ...env,
    WORKER_ID: env.WORKER_ID ?? "embedded",
    // Standalone mode serves its own live streams (issue 15): one live transcode unless told otherwise.
    LIVE_SLOTS: env.LIVE_SLOTS ?? "1",
    WORK_DIR: env.WORK_DIR ?? join(opts.dataDir, "work"),
    // The kernel's own stop is bounded (systemd TimeoutStopSec=30s): hand running tasks back sooner.
    WORKER_SHUTDOWN_GRACE: env.WORKER_SHUTDOWN_GRACE ?? "10s",
    PLUGIN_DIR: opts.pluginDir,
    // Its metrics go to the kernel's registry (`registry`, served on the kernel's /metrics): no port of its own.
    WORKER_METRICS_PORT: "0",
    ...(opts.outboundAllowCidrs ? { OUTBOUND_ALLOW_CIDRS: opts.outboundAllowCidrs.join(",") } : {}),
  });
  const logger = opts.logger.child({ component: "embedded-worker" });
  const metrics = opts.registry ? createWorkerMetrics(opts.registry) : undefined;
  const worker = await bootWorker({ config, logger, bus: opts.bus, hostEnv: env, metrics });
  return { runtime: worker.runtime, stop: () => worker.stop() };
}
