/**
 * The worker that runs inside a standalone kernel, on the kernel's in-process bus. Same runtime as the
 * webencode-worker executable; its settings come from the same variables (WORKER_CONCURRENCY, FFMPEG_PATH, …).
 */
import { join } from "node:path";
import type { Bus } from "../bus/types.ts";
import { environment } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import { detectCapabilities } from "./capabilities.ts";
import { loadWorkerConfig } from "./config.ts";
import { WorkerRuntime } from "./runtime.ts";

export interface EmbeddedWorker {
  runtime: WorkerRuntime;
  stop(): Promise<void>;
}

export async function startEmbeddedWorker(opts: { bus: Bus; logger: Logger; dataDir: string; pluginDir: string }): Promise<EmbeddedWorker> {
  const env = environment();
  const config = loadWorkerConfig({
    ...env,
    WORKER_ID: env.WORKER_ID ?? "embedded",
    WORK_DIR: env.WORK_DIR ?? join(opts.dataDir, "work"),
    PLUGIN_DIR: opts.pluginDir,
  });
  const logger = opts.logger.child({ component: "embedded-worker" });
  const capabilities = await detectCapabilities({ ffmpegPath: config.FFMPEG_PATH, ffprobePath: config.FFPROBE_PATH });
  const runtime = new WorkerRuntime({ config, logger, bus: opts.bus, capabilities });
  await runtime.start();
  return { runtime, stop: () => runtime.stop() };
}
