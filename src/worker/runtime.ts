/**
 * The worker process's lifecycle: detect capabilities, clean the work directory, register in the presence
 * registry and keep heartbeating. Task execution plugs in on top (src/worker/executor.ts).
 */
import { mkdirSync, rmSync } from "node:fs";
import { hostname } from "node:os";
import type { Bus } from "../bus/types.ts";
import type { Logger } from "../core/logger.ts";
import { VERSION } from "../core/version.ts";
import type { WorkerPresence } from "../core/worker-info.ts";
import type { PluginHost } from "../plugin-runtime/host/host.ts";
import type { WorkerCapabilities } from "../media/capabilities.ts";
import type { WorkerConfig } from "./config.ts";
import type { GpuDevices } from "./gpu-health.ts";

export interface WorkerRuntimeOptions {
  config: WorkerConfig;
  logger: Logger;
  bus: Bus;
  capabilities: WorkerCapabilities;
  /** GPU devices: the pools shrink while a device is degraded, and presence reports them (gpu-health.ts). */
  gpu?: GpuDevices;
  plugins: PluginHost;
}

export class WorkerRuntime {
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private readonly startedAt = new Date().toISOString();
  draining = false;
  running = 0;

  constructor(private readonly opts: WorkerRuntimeOptions) {}

  get id(): string {
    return this.opts.config.WORKER_ID;
  }

  get pools(): string[] {
    return this.opts.gpu?.pools() ?? this.opts.capabilities.pools;
  }

  async start(): Promise<void> {
    const { config, logger } = this.opts;
    // Leftovers of a previous run (killed mid-task) are never valid: start from an empty directory.
    rmSync(config.WORK_DIR, { recursive: true, force: true });
    mkdirSync(config.WORK_DIR, { recursive: true });
    await this.beat();
    this.heartbeat = setInterval(() => {
      this.beat().catch((error) => logger.warn({ error, worker_id: this.id }, "heartbeat failed; retrying"));
    }, config.HEARTBEAT_INTERVAL);
    logger.info(
      { worker_id: this.id, pools: this.pools, slots: config.WORKER_CONCURRENCY, ffmpeg: this.opts.capabilities.ffmpeg.version },
      "worker registered",
    );
  }

  presence(): WorkerPresence {
    return {
      id: this.id,
      hostname: hostname(),
      version: VERSION,
      slots: this.opts.config.WORKER_CONCURRENCY,
      running: this.running,
      pools: this.pools,
      draining: this.draining,
      capabilities: { ...this.opts.capabilities, pools: this.pools, plugins: this.pluginStates(), ...(this.opts.gpu ? { gpu: { devices: this.opts.gpu.report() } } : {}) },
      startedAt: this.startedAt,
    };
  }

  /** The worker's plugins as the kernel shows them (GET /v1/plugins lists worker-hosted plugins too). */
  pluginStates() {
    return this.opts.plugins.list().map((p) => ({ id: p.id, pillar: p.manifest?.pillar, version: p.manifest?.version, state: p.state, last_error: p.lastError ?? null }));
  }

  /** Presence keys allow no dots (NATS KV); the real id travels in the entry. */
  private get presenceKey(): string {
    return this.id.replace(/[^-/=\w]/g, "_");
  }

  async beat(): Promise<void> {
    await this.opts.bus.presence.put(this.presenceKey, this.presence());
  }

  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.opts.bus.presence.remove(this.presenceKey).catch(() => {});
    rmSync(this.opts.config.WORK_DIR, { recursive: true, force: true });
    this.opts.logger.info({ worker_id: this.id }, "worker stopped");
  }
}

/** How long a starting worker waits for a kernel's first answer before it says what is probably wrong. */
export const NO_KERNEL_WARNING_MS = 30_000;

/**
 * Until `answered` settles, warns every NO_KERNEL_WARNING_MS that no kernel has answered. The worker's first
 * request to a kernel (plugin settings, bootstrap.ts) is the cheap signal: it succeeds as soon as one kernel with
 * the same NATS server and BUS_PREFIX runs. A worker with another BUS_PREFIX used to wait in silence.
 */
export function warnWhileNoKernel(answered: Promise<unknown>, logger: Logger, config: Pick<WorkerConfig, "BUS_PREFIX" | "NATS_URL">, everyMs = NO_KERNEL_WARNING_MS): void {
  const started = Date.now();
  const timer = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    logger.warn(
      { bus_prefix: config.BUS_PREFIX, waited_s: s },
      `no kernel has answered for ${s} s on ${redactUrl(config.NATS_URL)} with BUS_PREFIX=${config.BUS_PREFIX}: start a kernel, or set BUS_PREFIX (and NATS_URL) to the kernels' values (default BUS_PREFIX is webencode)`,
    );
  }, everyMs);
  timer.unref?.();
  answered.then(
    () => clearInterval(timer),
    () => clearInterval(timer),
  );
}

/** A NATS URL without its credentials, for a log line. Pure. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//");
}
