/**
 * Supervises one plugin: start (spawn → describe → API check → configure), periodic health checks, restart
 * with exponential backoff after a crash or a failed health check, and `failed` after too many failures in a
 * row. States: starting | healthy | degraded | failed | disabled.
 */
import { AppError, errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { hostShutdown } from "../../core/shutdown.ts";
import { type PluginManifest, PLUGIN_API_VERSION, isCompatible } from "../protocol.ts";
import { type CallOptions, PluginProcess } from "./process.ts";

export type PluginState = "starting" | "healthy" | "degraded" | "failed" | "disabled";

/** What a hot reload did: the versions before and after, and whether a running process was replaced. */
export interface HotSwapResult {
  plugin: string;
  from: string | null;
  to: string | null;
  swapped: boolean;
}

export interface PluginSource {
  /** Known up front for built-ins; for a binary in PLUGIN_DIR it is learned from `describe`. */
  id?: string;
  command: string[];
  builtin: boolean;
  path?: string;
}

export interface SupervisorTimings {
  describeTimeoutMs: number;
  callTimeoutMs: number;
  healthIntervalMs: number;
  healthTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Consecutive failures after which the plugin is `failed` and no longer restarted. */
  maxFailures: number;
  /** A plugin healthy this long has its failure count reset. */
  stableAfterMs: number;
  /**
   * How long a call waits for a plugin that is (re)starting before it is answered 503 WE-PLG-005 with a
   * retry hint: editing auth-basic's users restarts it, and the requests of that moment must not fail.
   */
  readyWaitMs: number;
  /**
   * The same wait while the plugin has never been ready yet (its first start, which a kernel no longer waits
   * for before listening): longer, since a request arriving just after the kernel started must not fail
   * because a plugin process was still loading on a busy host.
   */
  firstStartWaitMs: number;
  /** How long a restart lets the old process finish the calls it is running before stopping it. */
  drainMs: number;
}

export const DEFAULT_TIMINGS: SupervisorTimings = {
  describeTimeoutMs: 10_000,
  callTimeoutMs: 30_000,
  healthIntervalMs: 10_000,
  healthTimeoutMs: 5_000,
  backoffBaseMs: 1_000,
  backoffMaxMs: 30_000,
  maxFailures: 5,
  stableAfterMs: 60_000,
  readyWaitMs: 5_000,
  firstStartWaitMs: 30_000,
  drainMs: 5_000,
};

/** The Retry-After (seconds) given with a 503 for a plugin that did not become ready in time. */
export const RESTART_RETRY_AFTER_S = 2;

/** min(base · 2^(n-1), max) for the n-th consecutive failure. Pure. */
export function restartDelay(failures: number, timings: Pick<SupervisorTimings, "backoffBaseMs" | "backoffMaxMs">): number {
  return Math.min(timings.backoffBaseMs * 2 ** Math.max(0, failures - 1), timings.backoffMaxMs);
}

export interface SupervisorOptions {
  logger: Logger;
  timings?: Partial<SupervisorTimings>;
  /** The plugin's configuration (from plugin_configs) at each (re)start. */
  config(id: string): Promise<Record<string, unknown>>;
  /** Where the declared variables are read from (never passed wholesale). */
  hostEnv: Record<string, string | undefined>;
  onStateChange?(s: PluginSupervisor): void;
  /** RPC metrics hook: duration of each pillar call and its error code, if any. */
  observe?(id: string, method: string, seconds: number, errorCode?: string): void;
}

/** How long a plugin's exit by a stop signal waits for the host's own signal handler to mark the shutdown. */
const SIGNAL_SETTLE_MS = 250;

/** The only variables every plugin process gets; everything else must be declared and is sent in `configure`. */
const BASE_ENV = ["PATH", "HOME", "TMPDIR", "LANG", "TZ"];

export class PluginSupervisor {
  manifest: PluginManifest | undefined;
  state: PluginState = "starting";
  lastError: string | undefined;
  restarts = 0;
  healthDetail: string | undefined;
  lastHealthAt: Date | undefined;
  private failures = 0;
  private proc: PluginProcess | undefined;
  private healthTimer: ReturnType<typeof setInterval> | undefined;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private healthySince = 0;
  /** True until the first start settles (ready, failed or disabled): calls then wait `firstStartWaitMs`. */
  private firstStart = true;
  private stopped = false;
  /** Restarts asked for and not yet settled (they run one after another): calls wait rather than fail. */
  private restartsInFlight = 0;
  private restartChain: Promise<void> = Promise.resolve();
  /** Calls waiting for the plugin to become ready (or to settle as failed/disabled), woken on each change. */
  private readonly waiters = new Set<() => void>();
  private readonly t: SupervisorTimings;

  constructor(
    readonly source: PluginSource,
    private readonly opts: SupervisorOptions,
  ) {
    this.t = { ...DEFAULT_TIMINGS, ...opts.timings };
  }

  get id(): string {
    return this.manifest?.id ?? this.source.id ?? this.source.path ?? "unknown";
  }

  get pid(): number | undefined {
    return this.proc?.alive ? this.proc.pid : undefined;
  }

  /** Spawns and describes only (used to learn a PLUGIN_DIR binary's id before deciding to run it). */
  async describe(): Promise<PluginManifest> {
    const proc = this.spawn();
    try {
      return await this.handshake(proc);
    } finally {
      await proc.stop(500);
    }
  }

  /** Starts the plugin; resolves when it is healthy/degraded or has failed (never rejects). */
  async start(): Promise<void> {
    this.stopped = false;
    this.setState("starting");
    const proc = this.spawn();
    this.proc = proc;
    try {
      await this.handshake(proc);
      await proc.call("configure", { config: await this.opts.config(this.id), env: this.declaredEnv() }, { timeoutMs: this.t.callTimeoutMs });
      const health = await proc.call<{ status: string; detail?: string }>("health", undefined, { timeoutMs: this.t.healthTimeoutMs });
      this.recordHealth(health);
      this.watch(proc);
    } catch (e) {
      if (e instanceof IncompatibleError) {
        this.lastError = e.message;
        this.opts.logger.error({ plugin: this.id, error: e.message }, e.message);
        await proc.stop(500);
        this.setState("failed");
        return;
      }
      await this.fail(proc, `start failed: ${errorMessage(e)}`);
    }
  }

  /** Running and answering: calls go straight to the process. */
  get ready(): boolean {
    return !this.restarting && !!this.proc?.alive && (this.state === "healthy" || this.state === "degraded");
  }

  /** Coming up (first start, a restart, or a restart after a crash): worth waiting for briefly. */
  get pending(): boolean {
    if (this.stopped && !this.restarting) return false;
    // A process that just exited is about to be restarted by `fail` (after the signal settle time).
    return this.restarting || this.state === "starting" || (this.proc !== undefined && !this.proc.alive);
  }

  private get restarting(): boolean {
    return this.restartsInFlight > 0;
  }

  /**
   * Calls a pillar method. A plugin that is (re)starting is waited for up to `readyWaitMs`, then the call is
   * answered 503 WE-PLG-005 with `retry_after_s`; WE-PLG-002 when disabled; WE-PLG-004 when failed or stopped.
   */
  async call<T = unknown>(method: string, params?: unknown, opts: CallOptions = {}): Promise<T> {
    if (!this.ready) await this.untilReady(opts.signal);
    const proc = this.proc!;
    const started = performance.now();
    try {
      const result = await proc.call<T>(method, params, { timeoutMs: this.t.callTimeoutMs, ...opts });
      this.opts.observe?.(this.id, method, (performance.now() - started) / 1000);
      return result;
    } catch (e) {
      this.opts.observe?.(this.id, method, (performance.now() - started) / 1000, (e as { code?: string }).code ?? "error");
      throw e;
    }
  }

  /** Resolves once the plugin is ready; throws the error a caller should see when it will not be in time. */
  private async untilReady(signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + (this.firstStart ? Math.max(this.t.firstStartWaitMs, this.t.readyWaitMs) : this.t.readyWaitMs);
    for (;;) {
      if (this.ready) return;
      if (this.state === "disabled" && !this.restarting) throw new AppError("WE-PLG-002", `plugin ${this.id} is disabled`);
      if (!this.pending) {
        if (hostShutdown.requested) throw new AppError("WE-SYS-004", `plugin ${this.id} stopped: the server is shutting down`, { retry_after_s: RESTART_RETRY_AFTER_S });
        throw new AppError("WE-PLG-004", `plugin ${this.id} is not running (${this.state}${this.lastError ? `: ${this.lastError}` : ""})`);
      }
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) {
        throw new AppError("WE-PLG-005", `plugin ${this.id} is restarting; retry in ${RESTART_RETRY_AFTER_S} s`, { plugin: this.id, state: this.state, retry_after_s: RESTART_RETRY_AFTER_S });
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          signal?.removeEventListener("abort", wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
        signal?.addEventListener("abort", wake, { once: true });
      });
    }
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Marks a plugin that could not even be described (or was refused) as failed, without restarts. */
  markFailed(reason: string): void {
    this.lastError = reason;
    this.setState("failed");
  }

  /**
   * Has the plugin itself validate a candidate configuration (WE-PLG-003 if refused), in a throwaway
   * process so the running one is untouched — and so a failed or disabled plugin can be fixed too.
   */
  async validateConfig(config: Record<string, unknown>): Promise<void> {
    const proc = this.spawn();
    try {
      await this.handshake(proc);
      await proc.call("configure", { config, env: this.declaredEnv() }, { timeoutMs: this.t.callTimeoutMs });
    } finally {
      await proc.stop(500);
    }
  }

  /**
   * Hot reload: starts a second process from the same command (a binary replaced in PLUGIN_DIR is the new
   * version), and only once it has described itself, accepted the configuration and answered its health check
   * does it take over: new calls go to it at once, the old process finishes its running calls (bounded by
   * `drainMs`) and stops. A new version that fails any step is stopped and the old one keeps serving — the
   * reload is refused with WE-PLG-006 naming why. A plugin that is not running is simply (re)started.
   */
  async hotSwap(): Promise<HotSwapResult> {
    this.restartsInFlight += 1;
    const run = this.restartChain.then(() => this.swapProcess());
    this.restartChain = run.then(
      () => {},
      () => {},
    );
    try {
      return await run;
    } finally {
      this.restartsInFlight -= 1;
      this.wakeWaiters();
    }
  }

  private async swapProcess(): Promise<HotSwapResult> {
    const previous = this.proc;
    const before = this.manifest?.version;
    if (!previous?.alive || this.stopped || (this.state !== "healthy" && this.state !== "degraded")) {
      // Nothing serving to keep: a plain start (after a stop, so a crashed-and-waiting restart does not race it).
      await this.stop();
      this.failures = 0;
      await this.start();
      if (this.state === "failed") throw new AppError("WE-PLG-006", `plugin ${this.id} did not start after the reload: ${this.lastError ?? "failed"}`, { plugin: this.id });
      return { plugin: this.id, from: before ?? null, to: this.manifest?.version ?? null, swapped: false };
    }
    const next = this.spawn();
    let manifest: PluginManifest;
    let health: { status: string; detail?: string };
    try {
      manifest = await this.describeProcess(next);
      if (manifest.id !== this.id) throw new Error(`the new binary describes itself as ${manifest.id}, not ${this.id}`);
      await next.call("configure", { config: await this.opts.config(this.id), env: this.declaredEnv() }, { timeoutMs: this.t.callTimeoutMs });
      health = await next.call<{ status: string; detail?: string }>("health", undefined, { timeoutMs: this.t.healthTimeoutMs });
    } catch (error) {
      await next.stop(500);
      const reason = errorMessage(error);
      this.opts.logger.error({ plugin: this.id, error: reason, version: before }, `plugin ${this.id} reload refused; version ${before ?? "?"} keeps serving`);
      throw new AppError("WE-PLG-006", `plugin ${this.id} reload refused: the new version failed its start (${reason}); version ${before ?? "?"} keeps serving`, { plugin: this.id, version: before ?? null });
    }
    this.clearTimers();
    this.manifest = manifest;
    this.proc = next;
    this.restarts += 1;
    this.recordHealth(health);
    this.watch(next);
    this.opts.logger.info({ plugin: this.id, from: before, to: manifest.version, pid: next.pid }, `plugin ${this.id} reloaded: ${before ?? "?"} → ${manifest.version}`);
    // The old process finishes what it is running, then stops; its exit is no longer watched (this.proc moved on).
    void previous
      .drain(this.t.drainMs)
      .then(() => previous.stop())
      .catch(() => previous.kill());
    return { plugin: this.id, from: before ?? null, to: manifest.version, swapped: true };
  }

  /** Stops (after the running calls finish, bounded by `drainMs`) and starts again; calls meanwhile wait. */
  async restart(): Promise<void> {
    this.restartsInFlight += 1;
    const run = this.restartChain.then(async () => {
      await this.proc?.drain(this.t.drainMs);
      await this.stop();
      this.failures = 0;
      await this.start();
    });
    this.restartChain = run.catch(() => {});
    try {
      await run;
    } finally {
      this.restartsInFlight -= 1;
      this.wakeWaiters();
    }
  }

  async disable(): Promise<void> {
    await this.stop();
    this.setState("disabled");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    const proc = this.proc;
    this.proc = undefined;
    await proc?.stop();
  }

  private spawn(): PluginProcess {
    const env: Record<string, string> = { WEBENCODE_PLUGIN: "1" };
    for (const k of BASE_ENV) if (this.opts.hostEnv[k] !== undefined) env[k] = this.opts.hostEnv[k]!;
    return new PluginProcess(this.id, this.source.command, env, this.opts.logger, this.t.callTimeoutMs);
  }

  /** describe + API check, adopting the manifest as this plugin's. */
  private handshake(proc: PluginProcess): Promise<PluginManifest> {
    return this.describeProcess(proc, true);
  }

  /** describe + the API version check; `adopt` records the manifest as this plugin's (a hot swap adopts it only on success). */
  private async describeProcess(proc: PluginProcess, adopt = false): Promise<PluginManifest> {
    const m = await proc.call<PluginManifest>("describe", undefined, { timeoutMs: this.t.describeTimeoutMs });
    if (!m || typeof m.id !== "string" || typeof m.api_version !== "string") throw new Error("describe returned no valid manifest");
    if (adopt) this.manifest = m;
    if (!isCompatible(m.api_version)) {
      throw new IncompatibleError(
        `Incompatible API version: plugin ${m.id} ${m.version} speaks plugin API ${m.api_version}, this host speaks ${PLUGIN_API_VERSION}. Rebuild the plugin with the same SDK major version.`,
      );
    }
    return m;
  }

  private declaredEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of this.manifest?.env ?? []) {
      const value = this.opts.hostEnv[name];
      if (value !== undefined) env[name] = value;
    }
    return env;
  }

  private watch(proc: PluginProcess): void {
    proc.exited.then(async (info) => {
      if (this.proc !== proc || this.stopped) return;
      // The host's own stop signal reached the plugin too (same process group): give the host's signal handler
      // a moment to run, then treat the exit as part of the shutdown rather than a crash.
      if (info.signal === "SIGINT" || info.signal === "SIGTERM" || info.signal === "SIGHUP") await Bun.sleep(SIGNAL_SETTLE_MS);
      if (this.proc !== proc || this.stopped) return;
      if (hostShutdown.requested) {
        this.opts.logger.debug({ plugin: this.id, signal: info.signal, code: info.code }, `plugin ${this.id} ended with the host's shutdown`);
        return;
      }
      const how = info.signal ? `killed by ${info.signal}` : `exited with code ${info.code}`;
      void this.fail(proc, `plugin process ${how}`);
    });
    this.healthTimer = setInterval(() => void this.checkHealth(proc), this.t.healthIntervalMs);
  }

  private async checkHealth(proc: PluginProcess): Promise<void> {
    if (this.proc !== proc || !proc.alive) return;
    try {
      this.recordHealth(await proc.call<{ status: string; detail?: string }>("health", undefined, { timeoutMs: this.t.healthTimeoutMs }));
    } catch (e) {
      if (this.proc === proc && proc.alive) await this.fail(proc, `health check failed: ${errorMessage(e)}`);
    }
  }

  private recordHealth(health: { status: string; detail?: string }): void {
    this.lastHealthAt = new Date();
    this.healthDetail = health.detail;
    const state = health.status === "ok" ? "healthy" : "degraded";
    if (state === "healthy") {
      if (this.healthySince === 0) this.healthySince = Date.now();
      if (Date.now() - this.healthySince >= this.t.stableAfterMs) this.failures = 0;
    } else this.healthySince = 0;
    this.setState(state);
  }

  private async fail(proc: PluginProcess, reason: string): Promise<void> {
    if (this.proc !== proc) return;
    // During the host's shutdown a failing health check is a plugin already told to stop: no restart, no alarm.
    if (hostShutdown.requested) this.stopped = true;
    this.clearTimers();
    this.proc = undefined;
    this.failures += 1;
    this.healthySince = 0;
    this.lastError = reason;
    proc.kill();
    if (this.stopped) return;
    if (this.failures >= this.t.maxFailures) {
      this.opts.logger.error({ plugin: this.id, error: reason, failures: this.failures }, `plugin ${this.id} failed ${this.failures} times in a row; not restarting it`);
      this.setState("failed");
      return;
    }
    const delay = restartDelay(this.failures, this.t);
    this.opts.logger.warn({ plugin: this.id, error: reason, restart_in_ms: delay }, `plugin ${this.id} unhealthy; restarting`);
    this.setState("starting");
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      this.restarts += 1;
      void this.start();
    }, delay);
  }

  private clearTimers(): void {
    if (this.healthTimer) clearInterval(this.healthTimer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.healthTimer = undefined;
    this.restartTimer = undefined;
  }

  private setState(next: PluginState): void {
    if (next !== "starting") this.firstStart = false;
    if (this.state === next) return;
    this.state = next;
    this.opts.onStateChange?.(this);
    this.wakeWaiters();
  }
}

class IncompatibleError extends Error {}
