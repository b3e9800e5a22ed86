/**
 * Brings a worker up on a bus: plugin settings from a kernel, the storage and encoder plugins, capabilities
 * from the encoder plugin (FFmpeg versions, encoders, hardware proven by a test encode), then registration.
 * Shared by the webencode-worker executable and the standalone kernel's embedded worker.
 */
import type { Bus, Unsubscribe } from "../bus/types.ts";
import type { Logger } from "../core/logger.ts";
import { BUILTIN_PLUGINS } from "../plugins/builtin.ts";
import { PluginHost } from "../plugins/host/host.ts";
import { PLUGIN_CHANGED, type PluginChanged, RemotePluginSettings } from "../plugins/remote-settings.ts";
import type { WorkerCapabilities } from "./capabilities.ts";
import type { WorkerConfig } from "./config.ts";
import { WorkerRuntime } from "./runtime.ts";

export const WORKER_PILLARS = ["storage", "encoder"] as const;

export interface BootedWorker {
  runtime: WorkerRuntime;
  plugins: PluginHost;
  stop(): Promise<void>;
}

export async function bootWorker(opts: { config: WorkerConfig; logger: Logger; bus: Bus; hostEnv?: Record<string, string | undefined> }): Promise<BootedWorker> {
  const { config, logger, bus } = opts;
  const settings = new RemotePluginSettings(bus, logger);
  const builtinIds = Object.entries(BUILTIN_PLUGINS)
    .filter(([, b]) => (WORKER_PILLARS as readonly string[]).includes(b.pillar))
    .map(([id]) => id);
  await settings.prefetch(builtinIds);
  const plugins = new PluginHost({ logger, pluginDir: config.PLUGIN_DIR, pillars: [...WORKER_PILLARS], settings, hostEnv: opts.hostEnv });
  let unsubscribe: Unsubscribe | undefined;
  try {
    await plugins.start();
    const encoder = await plugins.route("encoder");
    const capabilities = await encoder.call<WorkerCapabilities>("capabilities", undefined, { timeoutMs: 60_000 });
    const runtime = new WorkerRuntime({ config, logger, bus, capabilities, plugins });
    unsubscribe = bus.subscribe<PluginChanged>(PLUGIN_CHANGED, (ev) => {
      settings.invalidate(ev.id);
      void plugins.reload(ev.id);
    });
    await runtime.start();
    return {
      runtime,
      plugins,
      async stop() {
        unsubscribe?.();
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
