/**
 * Brings a worker up on a bus: plugin settings from a kernel, the storage and encoder plugins, capabilities
 * from the encoder plugin (FFmpeg versions, encoders, hardware proven by a test encode), then registration.
 * Shared by the webencode-worker executable and the standalone kernel's embedded worker.
 */
import type { Bus, Unsubscribe } from "../bus/types.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { BUILTIN_PLUGINS } from "../plugin-runtime/builtin.ts";
import { PluginHost } from "../plugin-runtime/host/host.ts";
import { WORKER_PILLARS } from "../plugin-runtime/protocol.ts";
import { PLUGIN_CHANGED, type PluginChanged, RemotePluginSettings } from "../plugin-runtime/remote-settings.ts";
import { WORKER_DRAIN_EVENT, type WorkerDrain } from "../core/messages.ts";
import { LIVE_POOL } from "../core/topology.ts";
import type { WorkerCapabilities } from "../media/capabilities.ts";
import type { WorkerConfig } from "./config.ts";
import { TaskExecutor } from "./executor.ts";
import type { WorkerMetrics } from "./metrics.ts";
import { WorkerRuntime } from "./runtime.ts";
import { GpuDevices, sampleNvidiaSmi } from "./gpu-health.ts";
import { testFailureReason } from "../media/ffmpeg-info.ts";
import type { TranscodeResult } from "../plugin-runtime/pillars.ts";
import { TASK_HANDLERS } from "./tasks/index.ts";
import { capabilityCacheKey, capabilityCachePath, readCapabilityCache, writeCapabilityCache } from "./capability-cache.ts";
import { VERSION_WITH_COMMIT } from "../core/version.ts";

export interface BootedWorker {
  runtime: WorkerRuntime;
  plugins: PluginHost;
  executor: TaskExecutor;
  /** Stop taking work, let running tasks finish within WORKER_SHUTDOWN_GRACE, hand the rest back, stop. */
  stop(): Promise<void>;
}

export async function bootWorker(opts: { config: WorkerConfig; logger: Logger; bus: Bus; hostEnv?: Record<string, string | undefined>; metrics?: WorkerMetrics }): Promise<BootedWorker> {
  const { config, logger, bus } = opts;
  const settings = new RemotePluginSettings(bus, logger);
  const builtinIds = Object.entries(BUILTIN_PLUGINS)
    .filter(([, b]) => WORKER_PILLARS.includes(b.pillar))
    .map(([id]) => id);
  await settings.prefetch(builtinIds);
  const plugins = new PluginHost({
    logger,
    pluginDir: config.PLUGIN_DIR,
    pillars: [...WORKER_PILLARS],
    settings,
    hostEnv: opts.hostEnv,
    metrics: opts.metrics?.plugins,
    watchIntervalMs: config.PLUGIN_WATCH_INTERVAL,
  });
  opts.metrics?.setSlots(config.WORKER_CONCURRENCY);
  opts.metrics?.setBusy(0);
  let unsubscribe: Unsubscribe | undefined;
  try {
    await plugins.start();
    const encoder = await plugins.route("encoder").catch((e: unknown) => {
      // The usual cause is an encoder disabled in the kernels' settings; say how to undo it even when no API is up.
      throw new Error(
        `${errorMessage(e)}: this worker cannot run tasks without one. If encoder-ffmpeg was disabled, enable it again: \`webencode-kernel plugins enable encoder-ffmpeg\` ` +
          "(on a kernel host, with the kernels' DATABASE_URL/DATA_DIR; works while a standalone kernel is stopped) or POST /v1/plugins/encoder-ffmpeg/enable on a running kernel",
        { cause: e },
      );
    });
    const detected = await discoverCapabilities({ config, logger, settings, hostEnv: opts.hostEnv, detect: () => encoder.call<WorkerCapabilities>("capabilities", undefined, { timeoutMs: 60_000 }) });
    // A worker with LIVE_SLOTS advertises the live pool too (presence → the kernel knows live work can run).
    const capabilities: WorkerCapabilities = config.LIVE_SLOTS > 0 ? { ...detected, pools: [...detected.pools, LIVE_POOL] } : detected;
    const gpu = gpuDevicesFor(capabilities, config, logger, plugins);
    const runtime = new WorkerRuntime({ config, logger, bus, capabilities, plugins, ...(gpu ? { gpu } : {}) });
    const executor = new TaskExecutor({
      workerId: config.WORKER_ID,
      workDir: config.WORK_DIR,
      concurrency: config.WORKER_CONCURRENCY,
      liveConcurrency: config.LIVE_SLOTS,
      pools: runtime.pools,
      ...(gpu ? { gpu } : {}),
      bus,
      plugins,
      logger,
      handlers: TASK_HANDLERS,
      outboundAllowCidrs: config.OUTBOUND_ALLOW_CIDRS,
      metrics: opts.metrics,
      onRunningChange: (n) => {
        runtime.running = n;
        opts.metrics?.setBusy(n);
        void runtime.beat().catch(() => {});
      },
    });
    const unsubs = [
      bus.subscribe<PluginChanged>(PLUGIN_CHANGED, (ev) => {
        settings.invalidate(ev.id);
        if (ev.action === "reload") void plugins.hotReload(ev.id).catch((error) => logger.error({ plugin: ev.id, error: errorMessage(error) }, errorMessage(error)));
        else void plugins.reload(ev.id);
      }),
      bus.subscribe<WorkerDrain>(WORKER_DRAIN_EVENT, (ev) => {
        if (ev.worker_id !== config.WORKER_ID) return;
        runtime.draining = ev.drain;
        void runtime.beat().catch(() => {});
        if (ev.drain) {
          logger.info("drain requested: no new tasks; running ones get WORKER_SHUTDOWN_GRACE, then are handed back");
          void executor.drain(config.WORKER_SHUTDOWN_GRACE);
        } else {
          logger.info("undrain requested: taking tasks again");
          executor.resume();
        }
      }),
    ];
    // A degraded or recovered GPU changes what this worker may pull; the kernel sees it on the next heartbeat.
    // GPU utilization, memory and sessions from nvidia-smi when it is installed (metrics, memory check).
    const stopSampling = gpu ? sampleNvidiaSmi(gpu, 10_000, (samples) => opts.metrics?.setGpu?.(samples), logger) : () => {};
    gpu?.onChange(() => {
      void executor.setPools(runtime.pools);
      void runtime.beat().catch(() => {});
    });
    unsubscribe = () => {
      unsubs.forEach((u) => u());
      gpu?.stop();
      stopSampling();
    };
    await runtime.start();
    executor.start();
    return {
      runtime,
      plugins,
      executor,
      async stop() {
        unsubscribe?.();
        runtime.draining = true;
        await runtime.beat().catch(() => {});
        await executor.drain(config.WORKER_SHUTDOWN_GRACE);
        await executor.stop();
        await runtime.stop();
        await plugins.stop();
      },
    };
  } catch (e) {
    unsubscribe?.();
    await plugins.stop();
    throw e;
  }
}

/**
 * The encoder's capabilities, from the on-disk cache when FFmpeg, FFprobe, the encoder's settings, the GPU
 * device nodes and the worker version are unchanged and no hardware encoder was proven
 * (src/worker/capability-cache.ts says why hardware is re-proven at every start); otherwise discovered and stored.
 */
async function discoverCapabilities(opts: {
  config: WorkerConfig;
  logger: Logger;
  settings: RemotePluginSettings;
  hostEnv?: Record<string, string | undefined>;
  detect: () => Promise<WorkerCapabilities>;
}): Promise<WorkerCapabilities> {
  const { config, logger } = opts;
  const file = capabilityCachePath(config.WORK_DIR);
  // The same precedence as the encoder-ffmpeg plugin: its settings, then the environment it is given, then PATH.
  const encoderSettings = await opts.settings.get("encoder-ffmpeg").catch(() => undefined);
  const env = opts.hostEnv ?? process.env;
  const fromSettings = (name: string) => (typeof encoderSettings?.config[name] === "string" && encoderSettings.config[name] !== "" ? String(encoderSettings.config[name]) : undefined);
  const key = await capabilityCacheKey({
    workerVersion: VERSION_WITH_COMMIT,
    ffmpegPath: fromSettings("ffmpeg_path") ?? (env.FFMPEG_PATH || config.FFMPEG_PATH),
    ffprobePath: fromSettings("ffprobe_path") ?? (env.FFPROBE_PATH || config.FFPROBE_PATH),
    extra: { settings: encoderSettings?.config ?? null, ffmpeg: config.FFMPEG_PATH, ffprobe: config.FFPROBE_PATH },
  }).catch(() => undefined);
  if (key !== undefined) {
    const cached = await readCapabilityCache(file, key);
    if (cached.hit) {
      logger.info({ cache: file, detected_at: cached.capabilities.detectedAt }, "FFmpeg capabilities from the cache (same binaries)");
      return cached.capabilities;
    }
    logger.debug({ cache: file, reason: cached.reason }, "discovering FFmpeg capabilities");
  }
  const detected = await opts.detect();
  if (key !== undefined) {
    await writeCapabilityCache(file, key, detected).catch((error: unknown) => logger.warn({ cache: file, error: errorMessage(error) }, `cannot write the capability cache: ${errorMessage(error)}`));
  }
  return detected;
}

/**
 * The GPU devices of a worker that proved a hardware encoder (none otherwise). Its retest is a test encode
 * through the encoder plugin's transcode, so it runs the very FFmpeg the tasks run.
 */
function gpuDevicesFor(capabilities: WorkerCapabilities, config: WorkerConfig, logger: Logger, plugins: PluginHost): GpuDevices | undefined {
  if (!capabilities.hardware.some((h) => h.encoders.length > 0)) return undefined;
  const testEncode = async (argv: string[]): Promise<string | undefined> => {
    const encoder = await plugins.route("encoder");
    const result = await encoder.call<TranscodeResult>("transcode", { args: argv, timeout_ms: 30_000 }, { timeoutMs: 40_000 });
    return result.ok ? undefined : testFailureReason(result.stderr_tail, argv[argv.indexOf("-c:v") + 1] ?? "");
  };
  return new GpuDevices(
    capabilities,
    {
      gpuDevices: config.WORKER_GPU_DEVICES,
      sessionsPerDevice: config.WORKER_GPU_SESSIONS,
      degradeAfter: config.WORKER_GPU_DEGRADE_AFTER,
      retestIntervalMs: config.WORKER_GPU_RETEST_INTERVAL,
      minFreeMemoryBytes: config.WORKER_GPU_MIN_FREE_MEMORY_MB * 1024 * 1024,
    },
    testEncode,
    logger,
  );
}
