/**
 * A GPU worker's devices: which one a hardware task runs on (the least busy that is not degraded), how many
 * encode sessions each takes at once (WORKER_GPU_SESSIONS: consumer NVIDIA cards refuse more), and which are
 * degraded. A device whose runs fail in the driver WORKER_GPU_DEGRADE_AFTER times in a row (out of memory,
 * device lost, no device; media/hardware/driver-errors.ts) is degraded: it takes no task until its test encode
 * passes again, retried every WORKER_GPU_RETEST_INTERVAL. While every device of an accelerator is degraded its
 * pools are withheld from the bus, so the kernel routes elsewhere and GET /v1/workers shows why.
 */
import type { Logger } from "../core/logger.ts";
import type { WorkerCapabilities } from "../media/capabilities.ts";
import {
  accelerator,
  type DeviceRef,
  driverFailure,
  encoderPool,
  type GpuSample,
  type HardwareAcceleratorId,
  HARDWARE_ACCELERATORS,
  isDeviceFault,
  poolEncoder,
  testEncodeArgv,
} from "../media/hardware/index.ts";
import { TaskFailure } from "./failures.ts";
import { NVIDIA_SMI_QUERY, parseNvidiaSmi } from "../media/hardware/index.ts";
import { runProcess } from "../media/run.ts";
import { Slots } from "../bus/types.ts";

export interface GpuSettings {
  /** NVIDIA GPU indices to use (several GPUs: one slot group each); empty: the driver's default device. */
  gpuDevices: readonly number[];
  /** Concurrent encode sessions per device. */
  sessionsPerDevice: number;
  /** Consecutive device failures that degrade a device. */
  degradeAfter: number;
  retestIntervalMs: number;
  /** VAAPI/QSV render node. */
  renderNode?: string;
  /** GPU memory a device must have free (per the latest nvidia-smi sample) to take a task; 0: no check. */
  minFreeMemoryBytes?: number;
}

export interface DeviceReport {
  accelerator: HardwareAcceleratorId;
  device: string;
  sessions: number;
  max_sessions: number;
  consecutive_failures: number;
  degraded: null | { since: string; reason: string };
}

interface DeviceState {
  accelerator: HardwareAcceleratorId;
  name: string;
  ref: DeviceRef;
  sessions: number;
  consecutive: number;
  degraded?: { since: string; reason: string };
}

/** A held encode session on a device; release() exactly once when the run ends. */
export interface GpuSession {
  device: DeviceRef;
  name: string;
  release(): void;
}

/** Runs a test encode (argv without the binary); resolves to undefined when it passed, else why not. */
export type TestEncode = (argv: string[]) => Promise<string | undefined>;

export class GpuDevices {
  private readonly devices: DeviceState[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The latest nvidia-smi sample per GPU index (none without nvidia-smi). */
  private samples = new Map<number, GpuSample>();
  private listeners: Array<() => void> = [];

  constructor(
    private readonly capabilities: WorkerCapabilities,
    private readonly settings: GpuSettings,
    private readonly testEncode: TestEncode,
    private readonly logger: Logger,
  ) {
    for (const a of HARDWARE_ACCELERATORS) {
      const proven = capabilities.hardware.some((h) => h.family === a.family && h.encoders.length > 0);
      if (!proven) continue;
      const id = a.id as HardwareAcceleratorId;
      if (id === "nvenc" && settings.gpuDevices.length > 0) {
        for (const index of settings.gpuDevices) this.devices.push({ accelerator: id, name: `GPU ${index}`, ref: { index }, sessions: 0, consecutive: 0 });
      } else {
        // The driver's default GPU is index 0: named so in arguments (-gpu 0) and in failure messages.
        const ref: DeviceRef = id === "nvenc" ? { index: 0 } : settings.renderNode ? { path: settings.renderNode } : {};
        this.devices.push({ accelerator: id, name: id === "nvenc" ? "GPU 0" : (ref.path ?? "default device"), ref, sessions: 0, consecutive: 0 });
      }
    }
  }

  /** Total encode sessions across devices: the bound on hardware tasks this worker takes at once. */
  get sessionCapacity(): number {
    return Math.max(1, this.devices.length * this.settings.sessionsPerDevice);
  }

  /** Called whenever the pools this worker may serve change (a device degraded or recovered). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The pools to pull from: every proven encoder's, except those whose devices are all degraded. */
  pools(): string[] {
    const excluded = new Set<string>();
    for (const a of HARDWARE_ACCELERATORS) {
      const mine = this.devices.filter((d) => d.accelerator === a.id);
      if (mine.length > 0 && mine.every((d) => d.degraded)) for (const e of a.probeEncoders) excluded.add(encoderPool(e));
    }
    // The detected pools (with any the worker adds, such as live) less the degraded devices' encoders.
    return this.capabilities.pools.filter((pool) => !excluded.has(pool));
  }

  report(): DeviceReport[] {
    return this.devices.map((d) => ({
      accelerator: d.accelerator,
      device: d.name,
      sessions: d.sessions,
      max_sessions: this.settings.sessionsPerDevice,
      consecutive_failures: d.consecutive,
      degraded: d.degraded ?? null,
    }));
  }

  /** A session on the least busy healthy device of the pool's accelerator; undefined when none is free. */
  acquire(pool: string): GpuSession | undefined {
    const id = poolEncoder(pool)?.accelerator;
    const candidates = this.devices.filter((d) => d.accelerator === id && !d.degraded && d.sessions < this.settings.sessionsPerDevice && this.hasMemory(d));
    const device = candidates.sort((a, b) => a.sessions - b.sessions)[0];
    if (!device) return undefined;
    device.sessions++;
    let released = false;
    return {
      device: device.ref,
      name: device.name,
      release: () => {
        if (released) return;
        released = true;
        device.sessions = Math.max(0, device.sessions - 1);
      },
    };
  }

  /** Records an nvidia-smi sample (metrics, memory check). */
  sampled(samples: readonly GpuSample[]): void {
    this.samples = new Map(samples.map((x) => [x.index, x]));
  }

  /** Whether the device has the configured free memory, per its latest sample (no sample: yes). */
  private hasMemory(d: DeviceState): boolean {
    const need = this.settings.minFreeMemoryBytes ?? 0;
    const sample = d.ref.index === undefined ? undefined : this.samples.get(d.ref.index);
    return need === 0 || sample === undefined || sample.memoryTotalBytes - sample.memoryUsedBytes >= need;
  }

  /** A run on the device succeeded: its failure streak ends. */
  succeeded(name: string): void {
    const d = this.devices.find((x) => x.name === name);
    if (d) d.consecutive = 0;
  }

  /** A run on the device failed in the driver (a device fault): degrade it after `degradeAfter` in a row. */
  failed(name: string, reason: string): void {
    const d = this.devices.find((x) => x.name === name);
    if (!d || d.degraded) return;
    d.consecutive++;
    if (d.consecutive < this.settings.degradeAfter) return;
    d.degraded = { since: new Date().toISOString(), reason };
    this.logger.warn({ accelerator: d.accelerator, device: d.name, reason, failures: d.consecutive }, "GPU device degraded: no GPU tasks until its test encode passes again");
    this.ensureRetesting();
    this.changed();
  }

  /** Re-runs the test encode of every degraded device once; a device that passes is healthy again. */
  async retest(): Promise<void> {
    for (const d of this.devices.filter((x) => x.degraded)) {
      const encoder = this.capabilities.hardware.find((h) => h.family === accelerator(d.accelerator).family)?.encoders[0];
      if (!encoder) continue;
      const problem = await this.testEncode(testEncodeArgv(encoder, accelerator(d.accelerator), d.ref)).catch((e: unknown) => String(e));
      if (problem !== undefined) {
        this.logger.info({ device: d.name, problem }, "degraded GPU device still fails its test encode");
        continue;
      }
      d.degraded = undefined;
      d.consecutive = 0;
      this.logger.info({ accelerator: d.accelerator, device: d.name }, "GPU device passed its test encode: taking GPU tasks again");
      this.changed();
    }
    if (!this.devices.some((x) => x.degraded)) this.stop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private ensureRetesting(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.retest().catch((error) => this.logger.warn({ error }, "GPU retest failed"));
    }, this.settings.retestIntervalMs);
    this.timer.unref?.();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/**
 * Slots of the hardware pools: a delivery needs a GPU session slot and one of the worker's slots, so a worker
 * never pulls more GPU tasks than its devices take sessions, and never more tasks than WORKER_CONCURRENCY.
 */
export class GpuSlots extends Slots {
  constructor(
    capacity: number,
    private readonly outer: Slots,
  ) {
    super(capacity);
  }

  override async reserve(max: number, signal?: AbortSignal): Promise<number> {
    const own = await super.reserve(max, signal);
    if (own === 0) return 0;
    const got = await this.outer.reserve(own, signal);
    if (got < own) super.release(own - got);
    return got;
  }

  override release(n = 1): void {
    super.release(n);
    this.outer.release(n);
  }
}

/**
 * Runs a hardware task's FFmpeg on one of the worker's devices: holds an encode session for the run, and
 * records the outcome against that device (a driver fault counts towards degrading it, a success ends the
 * streak). A software run, or a worker without GPU devices, runs as it is.
 */
export async function onGpu<T>(gpu: GpuDevices | undefined, encoders: readonly string[], run: (device: DeviceRef | undefined) => Promise<T>): Promise<T> {
  const pool = encoders.map((e) => encoderPool(e)).find((p) => p !== "cpu");
  if (!gpu || pool === undefined) return run(undefined);
  const session = gpu.acquire(pool);
  if (!session) {
    // Raced with a degradation, or more deliveries than sessions: wait and retry (the kernel does not count it).
    throw new TaskFailure({ class: "retryable", code: "WE-ENC-002", message: `no free encode session on this worker's devices for ${pool} (busy, short of GPU memory or degraded)` });
  }
  try {
    const result = await run(session.device);
    gpu.succeeded(session.name);
    return result;
  } catch (error) {
    if (error instanceof TaskFailure && error.error.code === "WE-ENC-001") {
      const found = driverFailure(error.error.stderr_tail ?? "");
      if (found && isDeviceFault(found.kind)) gpu.failed(session.name, `${found.kind}: ${found.message}`);
    }
    throw error;
  } finally {
    session.release();
  }
}

/**
 * Samples `nvidia-smi` every `everyMs` when it is installed: the devices' memory check and the worker's GPU
 * metrics read it. Returns the stop function (a no-op without nvidia-smi).
 */
export function sampleNvidiaSmi(gpu: GpuDevices, everyMs: number, onSample: (samples: GpuSample[]) => void, logger: Logger): () => void {
  const binary = Bun.which("nvidia-smi");
  if (binary === null) return () => {};
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      const r = await runProcess([binary, ...NVIDIA_SMI_QUERY], { timeoutMs: 5_000, killGraceMs: 0 });
      if (r.exitCode === 0) {
        const samples = parseNvidiaSmi(r.stdout ?? "");
        gpu.sampled(samples);
        onSample(samples);
      }
    } catch (error) {
      logger.debug({ error }, "nvidia-smi sample failed");
    } finally {
      running = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), everyMs);
  timer.unref?.();
  return () => clearInterval(timer);
}
