/**
 * The plugin host of one process (kernel or worker): finds plugins (built-ins plus compiled binaries in
 * PLUGIN_DIR, which override a built-in of the same id), supervises them, and routes calls.
 */
import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { BUILTIN_PLUGINS, type BuiltinPlugin, builtinCommand } from "../builtin.ts";
import type { Pillar } from "../protocol.ts";
import { manifestOf } from "../sdk.ts";
import type { PluginMetrics } from "./metrics.ts";
import { choosePlugin, type Routable } from "./routing.ts";
import { type HotSwapResult, type PluginSource, PluginSupervisor, type SupervisorTimings } from "./supervisor.ts";

/** What the host needs to know about a plugin's stored settings (plugin_configs, or the kernel's copy). */
export interface PluginSettings {
  enabled: boolean;
  priority?: number;
  /** Full configuration including secret values (decrypted). */
  config: Record<string, unknown>;
}

export interface PluginSettingsSource {
  get(id: string): Promise<PluginSettings | undefined>;
}

export interface PluginHostOptions {
  logger: Logger;
  pluginDir: string;
  /** Pillars this process runs (kernel: storage, auth, live, publisher; worker: storage, encoder). */
  pillars: Pillar[];
  /**
   * Pillars other processes run (the kernel's view of the workers' encoder plugins): their built-ins are
   * described here (manifest, config schema, secret fields) so they can be listed and configured, but
   * never started.
   */
  catalogPillars?: Pillar[];
  settings: PluginSettingsSource;
  hostEnv?: Record<string, string | undefined>;
  timings?: Partial<SupervisorTimings>;
  metrics?: PluginMetrics;
  builtins?: Record<string, BuiltinPlugin>;
  onStateChange?(s: PluginSupervisor): void;
  /**
   * How often to look for replaced binaries in PLUGIN_DIR (PLUGIN_WATCH_INTERVAL; 0 = never): a binary whose
   * size, modification time or inode changed is hot-reloaded (PluginSupervisor.hotSwap).
   */
  watchIntervalMs?: number;
}

/** Executable regular files directly in PLUGIN_DIR (plugins.toml and dotfiles are not plugins). */
export function scanPluginDir(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names
    .filter((n) => !n.startsWith(".") && !n.endsWith(".toml") && !n.endsWith(".md"))
    .map((n) => join(dir, n))
    .filter((p) => {
      try {
        if (!statSync(p).isFile()) return false;
        accessSync(p, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

export class PluginHost {
  private readonly sups = new Map<string, PluginSupervisor>();
  private readonly catalog = new Map<string, PluginSupervisor>();
  private readonly hostEnv: Record<string, string | undefined>;
  private stopWatching: (() => void) | undefined;
  private startup: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(private readonly opts: PluginHostOptions) {
    this.hostEnv = opts.hostEnv ?? process.env;
  }

  /**
   * Finds and starts the plugins. With `wait: false` it returns once every plugin is known — ids, pillars and
   * manifests, so routing and listings work — and the processes come up in the background: a call to a plugin
   * still starting waits for it (`readyWaitMs`, supervisor.ts). `started()` resolves when that has settled.
   */
  async start(opts: { wait?: boolean } = {}): Promise<void> {
    await this.discover();
    const launching = this.launch();
    if (opts.wait !== false) await launching;
  }

  /**
   * Finds the plugins (PLUGIN_DIR binaries described, built-ins' manifests read in-process) without starting
   * any: afterwards every plugin is listed and routable (state `starting`, so calls to it wait). The kernel
   * listens between `discover` and `launch`, so the plugin processes do not compete with its start for CPU.
   */
  async discover(): Promise<void> {
    const { logger, pillars } = this.opts;
    const builtins = this.opts.builtins ?? BUILTIN_PLUGINS;
    // 1. Binaries in PLUGIN_DIR: learn their ids (and refuse incompatible ones) before choosing built-ins.
    for (const path of scanPluginDir(this.opts.pluginDir)) {
      const sup = this.supervisor({ command: [path], builtin: false, path });
      try {
        const m = await sup.describe();
        if (!pillars.includes(m.pillar)) continue;
        if (this.sups.has(m.id)) {
          logger.warn({ plugin: m.id, path }, `two plugins with id ${m.id} in PLUGIN_DIR; using ${this.sups.get(m.id)!.source.path}`);
          continue;
        }
        this.sups.set(m.id, sup);
        if (builtins[m.id]) logger.info({ plugin: m.id, path }, `plugin ${m.id} from PLUGIN_DIR overrides the built-in`);
      } catch (e) {
        sup.markFailed(errorMessage(e));
        this.sups.set(sup.id, sup);
        logger.error({ plugin: sup.id, path, error: errorMessage(e) }, `plugin ${sup.id} refused: ${errorMessage(e)}`);
      }
    }
    // 2. Built-ins of our pillars that no binary overrides, described in-process (their code is in this executable).
    for (const [id, b] of Object.entries(builtins)) {
      if (!pillars.includes(b.pillar) || this.sups.has(id)) continue;
      this.sups.set(id, await this.builtinSupervisor(id, b));
    }
    for (const [id, b] of Object.entries(builtins)) {
      if (!this.opts.catalogPillars?.includes(b.pillar) || this.sups.has(id)) continue;
      this.catalog.set(id, await this.builtinSupervisor(id, b));
    }
    // Disabled ones are shown as such from the start (not `starting` until launch reaches them).
    for (const sup of this.sups.values()) {
      if (sup.manifest && sup.state !== "failed" && (await this.opts.settings.get(sup.id))?.enabled === false) await sup.disable();
    }
  }

  /** Starts what `discover` found and is enabled, concurrently; resolves when each is ready, failed or disabled. */
  launch(): Promise<void> {
    const starting = Promise.all([...this.sups.values()].map((sup) => this.startOne(sup))).then(() => {
      for (const sup of this.sups.values()) this.opts.metrics?.state(sup.id, sup.state, sup.manifest?.pillar);
    });
    this.startup = starting.catch((e) => this.opts.logger.error({ error: errorMessage(e) }, `plugins: start failed: ${errorMessage(e)}`));
    if (this.opts.watchIntervalMs && this.opts.watchIntervalMs > 0) this.stopWatching = this.watchBinaries(this.opts.watchIntervalMs);
    return starting;
  }

  /** Resolves when the plugins found by `start` have each become ready, failed or been disabled. */
  started(): Promise<void> {
    return this.startup;
  }

  private async startOne(sup: PluginSupervisor): Promise<void> {
    if (sup.state === "failed") return;
    const settings = await this.opts.settings.get(sup.id);
    // Stopped while the settings were read (a kernel stopped during its start): spawn nothing that would outlive it.
    if (this.stopping) return;
    if (settings && !settings.enabled) {
      // Learn the manifest anyway: a disabled plugin can still be configured and enabled through the API.
      let described = true;
      if (!sup.manifest) await sup.describe().catch((e) => ((described = false), sup.markFailed(errorMessage(e))));
      if (described) await sup.disable();
      return;
    }
    return sup.start();
  }

  /**
   * A built-in's manifest is taken from its definition in this process instead of spawning the executable to
   * ask it (the process it runs in is this same executable, so it describes itself identically; the handshake
   * of each start still adopts what the process says). A definition that cannot be loaded here falls back to
   * the process's own describe.
   */
  private async builtinSupervisor(id: string, b: BuiltinPlugin): Promise<PluginSupervisor> {
    const sup = this.supervisor({ id, command: builtinCommand(id), builtin: true });
    try {
      sup.manifest = manifestOf(await b.load());
    } catch (e) {
      this.opts.logger.debug({ plugin: id, error: errorMessage(e) }, `built-in ${id}: manifest not loadable in-process; asking the process`);
      await sup.describe().catch((error) => sup.markFailed(errorMessage(error)));
    }
    return sup;
  }

  /** Plugins of the catalog pillars (run by other processes), described but not run here. */
  cataloged(): PluginSupervisor[] {
    return [...this.catalog.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  getCataloged(id: string): PluginSupervisor | undefined {
    return this.catalog.get(id);
  }

  list(): PluginSupervisor[] {
    return [...this.sups.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  get(id: string): PluginSupervisor | undefined {
    return this.sups.get(id);
  }

  async route(pillar: Pillar, want: { id?: string; scheme?: string } = {}): Promise<PluginSupervisor> {
    const routables: Array<Routable & { sup: PluginSupervisor }> = [];
    for (const sup of this.sups.values()) {
      const settings = await this.opts.settings.get(sup.id);
      routables.push({
        sup,
        id: sup.id,
        pillar: sup.manifest?.pillar ?? this.opts.builtins?.[sup.id]?.pillar ?? BUILTIN_PLUGINS[sup.id]?.pillar,
        priority: settings?.priority ?? sup.manifest?.priority ?? 0,
        schemes: sup.manifest?.schemes ?? [],
        usable: sup.ready,
        pending: sup.pending,
        disabled: sup.state === "disabled",
      });
    }
    return choosePlugin(routables, pillar, want).sup;
  }

  /**
   * Hot reload of one plugin (a new binary in PLUGIN_DIR, or `POST /v1/plugins/:id/reload`): the new version
   * takes over only after a good start; otherwise WE-PLG-006 and the old one keeps serving. Undefined when
   * this process does not run the plugin (or it is disabled here).
   */
  async hotReload(id: string): Promise<HotSwapResult | undefined> {
    const sup = this.sups.get(id);
    if (!sup || sup.state === "disabled") return undefined;
    return sup.hotSwap();
  }

  /** Watches PLUGIN_DIR binaries for replacement; returns the function that stops watching. */
  private watchBinaries(intervalMs: number): () => void {
    const seen = new Map<string, string>();
    const fingerprint = (path: string): string | undefined => {
      try {
        const st = statSync(path);
        return `${st.ino}:${st.size}:${st.mtimeMs}`;
      } catch {
        return undefined;
      }
    };
    for (const sup of this.sups.values()) if (sup.source.path) seen.set(sup.source.path, fingerprint(sup.source.path) ?? "");
    const timer = setInterval(() => {
      for (const sup of this.sups.values()) {
        const path = sup.source.path;
        if (!path) continue;
        const now = fingerprint(path);
        // A copy in progress shows as a changing fingerprint: act when it is stable for one interval.
        if (now === undefined || now === seen.get(path)) continue;
        const previous = seen.get(path);
        seen.set(path, now);
        if (previous === undefined) continue;
        setTimeout(() => {
          if (fingerprint(path) !== now) return; // still being written: the next tick sees it again
          this.opts.logger.info({ plugin: sup.id, path }, `plugin binary ${path} replaced; reloading ${sup.id}`);
          this.hotReload(sup.id).catch((error) => this.opts.logger.error({ plugin: sup.id, error: errorMessage(error) }, errorMessage(error)));
        }, intervalMs);
      }
    }, intervalMs);
    timer.unref?.();
    return () => clearInterval(timer);
  }

  /** Applies changed settings to one plugin: restart with the new config, or stop it when disabled. */
  async reload(id: string): Promise<void> {
    const sup = this.sups.get(id);
    if (!sup) return;
    const settings = await this.opts.settings.get(id);
    if (settings && !settings.enabled) await sup.disable();
    else await sup.restart();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopWatching?.();
    await Promise.all([...this.sups.values()].map((s) => s.stop()));
  }

  private supervisor(source: PluginSource): PluginSupervisor {
    const metrics = this.opts.metrics;
    return new PluginSupervisor(source, {
      logger: this.opts.logger,
      timings: this.opts.timings,
      hostEnv: this.hostEnv,
      config: async (id) => (await this.opts.settings.get(id))?.config ?? {},
      onStateChange: (s) => {
        metrics?.state(s.id, s.state, s.manifest?.pillar);
        this.opts.onStateChange?.(s);
      },
      observe: metrics ? (id, method, seconds, code) => metrics.observe(id, method, seconds, code) : undefined,
    });
  }
}
