/**
 * `webencode-worker`: pulls tasks from the bus and runs them with FFmpeg.
 * Exit codes: 0 ok, 1 failure (logged), 2 invalid configuration (one line on stderr), 3 a port cannot be opened
 * (WORKER_METRICS_PORT taken: src/core/listen.ts).
 */
import { openBus } from "../bus/factory.ts";
import { EXIT_FAILURE, handleCommonFlags, onShutdownSignal } from "../core/cli.ts";
import { exitOnConfigError } from "../core/config.ts";
import { assertListenHost, ListenError } from "../core/listen.ts";
import { errorMessage } from "../core/errors.ts";
import { createLogger } from "../core/logger.ts";
import { createRegistry } from "../core/metrics.ts";
import { installProcessGuard } from "../core/process-guard.ts";
import { type BootedWorker, bootWorker } from "./bootstrap.ts";
import { runPluginIfRequested } from "../plugin-runtime/entry.ts";
import { loadWorkerConfig } from "./config.ts";
import { warnWhileNoKernel } from "./runtime.ts";
import { createWorkerMetrics, serveWorkerMetrics } from "./metrics.ts";

const HELP = `webencode-worker — WebEncode transcoding worker

Usage:
  webencode-worker             connect to NATS_URL, register and process tasks
  webencode-worker --version   print the version
  webencode-worker --help      this text

Configuration comes from environment variables and ./.env (see the README's configuration table):
  NATS_URL, WORKER_ID, WORKER_CONCURRENCY, WORK_DIR, PLUGIN_DIR, FFMPEG_PATH, FFPROBE_PATH, LOG_LEVEL, …
The worker never needs DATABASE_URL.
`;

async function main(argv: string[]): Promise<void> {
  if (await runPluginIfRequested(argv)) return;
  if (handleCommonFlags("webencode-worker", argv, HELP)) return;
  if (argv.length > 0) {
    process.stderr.write(`unknown command: ${argv.join(" ")}\n\n${HELP}`);
    process.exit(2);
  }
  let config;
  try {
    config = loadWorkerConfig();
  } catch (e) {
    exitOnConfigError(e);
  }
  const logger = createLogger("worker", config.LOG_LEVEL).child({ worker_id: config.WORKER_ID });
  // Errors that escape every handler: fatal while starting, logged and survived once running (core/process-guard.ts):
  // one task's stray callback must not take down the tasks running beside it.
  const guard = installProcessGuard(logger, { service: "worker" });

  // GET /metrics on WORKER_METRICS_PORT (0 = off); a port in use stops the worker (exit 3) before it takes work.
  const metrics = createWorkerMetrics(createRegistry("worker"), { pluginMetrics: true });
  let metricsServer;
  try {
    if (config.WORKER_METRICS_PORT !== 0) await assertListenHost("WORKER_METRICS_HOST", config.WORKER_METRICS_HOST);
    metricsServer = serveWorkerMetrics(metrics.registry, { port: config.WORKER_METRICS_PORT, host: config.WORKER_METRICS_HOST, logger });
  } catch (e) {
    if (!(e instanceof ListenError)) exitOnConfigError(e);
    logger.fatal({ error: e.message, port: e.target.port, code: e.code }, e.message);
    process.exit(e.exitCode);
  }

  let worker: BootedWorker;
  let bus;
  try {
    bus = await openBus(config, logger, `webencode-worker-${config.WORKER_ID}`, "worker");
    const booting = bootWorker({ config, logger, bus, metrics });
    warnWhileNoKernel(booting, logger, config);
    worker = await booting;
    guard.setPhase("serving");
  } catch (e) {
    logger.fatal({ error: errorMessage(e) }, `worker failed to start: ${errorMessage(e)}`);
    await metricsServer?.stop().catch(() => {});
    await bus?.close().catch(() => {});
    process.exit(EXIT_FAILURE);
  }
  onShutdownSignal(
    async (signal) => {
      guard.setPhase("stopping");
      logger.info({ signal }, "shutting down");
      await worker.stop();
      await metricsServer?.stop().catch(() => {});
      await bus.close();
    },
    () => {
      logger.warn("second signal: exiting now");
      process.exit(EXIT_FAILURE);
    },
  );
}

await main(process.argv.slice(2));
