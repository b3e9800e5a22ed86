/**
 * Runs tasks on a worker: pulls deliveries from its pools' queues into free slots (WORKER_CONCURRENCY),
 * claims a lease before running anything, reports progress (which also keeps the lease alive) and the
 * outcome through the durable results queue, and only then acknowledges the delivery. Cancels and drains
 * stop FFmpeg through the task's AbortSignal; every task's temporary directory is removed afterwards.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Bus, BusMessage, Consumer, Unsubscribe } from "../bus/types.ts";
import { Slots } from "../bus/types.ts";
import { AppError, errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import {
  CLAIM_SUBJECT,
  type ClaimReply,
  JOB_CANCEL_EVENT,
  type JobCancel,
  type Lease,
  type TaskDelivery,
  type TaskError,
  type TaskOutcome,
  type TaskProgress,
  TASK_CANCEL_EVENT,
  type TaskCancel,
  type TaskType,
} from "../core/messages.ts";
import { checkParams, isTaskType, type LiveProgress, type ParamsOf, type RestreamProgress, type ResultOf } from "../core/task-contracts.ts";
import { isStreamingTask, LIVE_POOL, leaseKeepaliveMs, RESULTS_QUEUE, workQueue } from "../core/topology.ts";
import type { PluginHost } from "../plugin-runtime/host/host.ts";
import { classifyError, TaskFailure } from "./failures.ts";
import type { FfmpegRun, WorkerMetrics } from "./metrics.ts";
import { type GpuDevices, GpuSlots } from "./gpu-health.ts";
import { isHardwarePool } from "../media/hardware/index.ts";

export interface TaskContext<T extends TaskType = TaskType> {
  lease: Lease;
  jobId: string;
  type: T;
  /** Checked against the task type's contract before the handler runs. */
  params: ParamsOf<T>;
  mediaSeconds: number;
  /** The kernel times the attempt out at this moment (epoch ms): FFmpeg runs get a timeout before it. */
  deadlineMs: number;
  /** Empty directory for this attempt; removed when the task ends. */
  dir: string;
  signal: AbortSignal;
  plugins: PluginHost;
  logger: Logger;
  /** `live`: a live task's telemetry, carried by this and every following keep-alive until the next call. */
  progress(percent: number, speed?: number, live?: LiveProgress, restream?: RestreamProgress): void;
  /** Counts an FFmpeg encode and its fps in the worker's metrics (absent when there are none). */
  ffmpegStarted?(): FfmpegRun;
  /** FFmpeg commands run so far (argv without the binary's environment), newest last: kept as evidence. */
  commands: string[][];
  /** OUTBOUND_ALLOW_CIDRS: private networks user-given source URLs may reach. */
  outboundAllowCidrs: readonly string[];
  /** The worker's GPU devices (sessions, degraded state); absent on a worker without proven hardware encoders. */
  gpu?: GpuDevices;
}

export type TaskHandler<T extends TaskType = TaskType> = (ctx: TaskContext<T>) => Promise<ResultOf<T>>;
/** One handler per task type: a new type fails compilation until it is handled. */
export type TaskHandlers = { [T in TaskType]: TaskHandler<T> };

interface Running {
  jobId: string;
  type: TaskType;
  lease: Lease;
  abort: AbortController;
  /** Why it was aborted: a cancel (nothing to report) or a drain (hand it back). */
  abortReason?: "cancelled" | "handed-back";
}

export interface ExecutorOptions {
  workerId: string;
  workDir: string;
  concurrency: number;
  /** Slots of the live pool (LIVE_SLOTS), separate from `concurrency`; the live pool is pulled only when > 0. */
  liveConcurrency?: number;
  pools: string[];
  bus: Bus;
  plugins: PluginHost;
  logger: Logger;
  handlers: TaskHandlers;
  onRunningChange?(n: number): void;
  metrics?: WorkerMetrics;
  /** OUTBOUND_ALLOW_CIDRS (default none: only public addresses). */
  outboundAllowCidrs?: readonly string[];
  /** GPU devices: hardware pools are pulled within their encode sessions (gpu-health.ts). */
  gpu?: GpuDevices;
}

export class TaskExecutor {
  readonly slots: Slots;
  /** Live transcodes hold a slot for a whole stream: they get their own, so VOD work and live never starve each other. */
  readonly liveSlots: Slots;
  private consumers: Consumer[] = [];
  private subs: Unsubscribe[] = [];
  private readonly running = new Map<string, Running>();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly o: ExecutorOptions) {
    this.slots = new Slots(o.concurrency);
    this.liveSlots = new Slots(o.liveConcurrency ?? 0);
    this.gpuSlots = o.gpu ? new GpuSlots(o.gpu.sessionCapacity, this.slots) : undefined;
  }

  /** Hardware pools also need a free GPU encode session (WORKER_GPU_SESSIONS per device). */
  private readonly gpuSlots: Slots | undefined;

  /** The pools changed (a GPU device degraded or recovered, gpu-health.ts): pull from the new set. */
  async setPools(pools: string[]): Promise<void> {
    const wasPulling = this.pulling;
    this.o.pools = pools;
    await this.pause();
    if (wasPulling) this.resume();
  }

  get runningCount(): number {
    return this.running.size;
  }

  get pulling(): boolean {
    return this.consumers.length > 0;
  }

  start(): void {
    this.subs.push(
      this.o.bus.subscribe<JobCancel>(JOB_CANCEL_EVENT, (ev) => {
        for (const r of this.running.values()) if (r.jobId === ev.job_id) this.abort(r, "cancelled");
      }),
      this.o.bus.subscribe<TaskCancel>(TASK_CANCEL_EVENT, (ev) => {
        const r = this.running.get(ev.task_id);
        if (r && r.lease.attempt === ev.attempt) this.abort(r, "cancelled");
      }),
    );
    this.resume();
  }

  /** Starts pulling from every pool (after a drain: undrain). */
  resume(): void {
    if (this.consumers.length) return;
    const pools = this.o.pools.filter((pool) => pool !== LIVE_POOL || this.liveSlots.capacity > 0);
    this.consumers = pools.map((pool) =>
      this.o.bus.consume<TaskDelivery>(workQueue(pool), { slots: pool === LIVE_POOL ? this.liveSlots : isHardwarePool(pool) && this.gpuSlots ? this.gpuSlots : this.slots }, (msg) => this.onDelivery(msg)),
    );
  }

  /** Stops taking work; running tasks continue. */
  async pause(): Promise<void> {
    const cs = this.consumers;
    this.consumers = [];
    await Promise.all(cs.map((c) => c.stop()));
  }

  /**
   * Drain: stop taking work, give running tasks `graceMs` to finish, then stop them and hand them back
   * (requeued elsewhere without counting a failure).
   */
  async drain(graceMs: number): Promise<void> {
    await this.pause();
    // A live transcode never finishes by itself: waiting the grace would only delay its restart on another
    // worker (and this worker's stop). Handed back at once, it is re-queued without counting a failure.
    for (const running of this.running.values()) if (isStreamingTask(running.type)) this.abort(running, "handed-back");
    if (this.running.size) {
      this.o.logger.info({ running: this.running.size, grace_ms: graceMs }, "draining: waiting for running tasks");
      await Promise.race([this.idle(), Bun.sleep(graceMs)]);
    }
    for (const r of this.running.values()) this.abort(r, "handed-back");
    await this.idle();
  }

  async stop(): Promise<void> {
    for (const u of this.subs.splice(0)) u();
    await this.pause();
    for (const r of this.running.values()) this.abort(r, "handed-back");
    await this.idle();
  }

  private idle(): Promise<void> {
    if (this.running.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private abort(running: Running, reason: NonNullable<Running["abortReason"]>): void {
    if (running.abort.signal.aborted) return;
    running.abortReason = reason;
    running.abort.abort(new Error(reason));
  }

  private async onDelivery(msg: BusMessage<TaskDelivery>): Promise<void> {
    const d = msg.data;
    const log = this.o.logger.child({ task_id: d.task_id, job_id: d.job_id, attempt: d.attempt });
    let claim: ClaimReply;
    try {
      claim = await this.o.bus.request<ClaimReply>(CLAIM_SUBJECT, { task_id: d.task_id, attempt: d.attempt, worker_id: this.o.workerId }, 10_000);
    } catch (error) {
      log.warn({ error: errorMessage(error) }, "could not claim the task (no kernel answered); it will be redelivered");
      await msg.nak(5000);
      return;
    }
    if (!claim.granted) {
      log.info({ reason: claim.reason }, "lease refused; dropping the delivery");
      await msg.ack();
      return;
    }
    const started = performance.now();
    const outcome = await this.run(claim, log);
    // No outcome means the kernel cancelled it (nothing to report).
    this.o.metrics?.taskFinished(claim.type, outcome?.outcome ?? "cancelled", (performance.now() - started) / 1000);
    if (outcome) await this.report(outcome, log);
    await msg.ack();
  }

  private async run(claim: Extract<ClaimReply, { granted: true }>, log: Logger): Promise<TaskOutcome | undefined> {
    const { lease } = claim;
    const dir = join(this.o.workDir, `${lease.task_id}-${lease.attempt}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const r: Running = { jobId: claim.job_id, type: claim.type, lease, abort: new AbortController() };
    this.running.set(lease.task_id, r);
    this.o.onRunningChange?.(this.running.size);
    const started = performance.now();
    let last: TaskProgress = { kind: "progress", lease, percent: 0 };
    let lastSent = 0;
    const send = (update: TaskProgress) => {
      lastSent = Date.now();
      void this.o.bus.enqueue(RESULTS_QUEUE, update).catch((error) => log.debug({ error }, "progress not sent"));
    };
    // Progress doubles as the lease keep-alive: send the latest several times per lease TTL.
    const keepalive = setInterval(() => send(last), leaseKeepaliveMs(claim.lease_ttl_ms));
    const commands: string[][] = [];
    log.info({ type: claim.type }, "task started");
    try {
      const result = await this.execute(claim.type, claim.params, {
        lease,
        jobId: claim.job_id,
        mediaSeconds: claim.media_seconds,
        deadlineMs: Date.parse(claim.deadline),
        dir,
        signal: r.abort.signal,
        plugins: this.o.plugins,
        logger: log,
        commands,
        ...(this.o.metrics ? { ffmpegStarted: () => this.o.metrics!.ffmpegStarted(claim.type) } : {}),
        outboundAllowCidrs: this.o.outboundAllowCidrs ?? [],
        ...(this.o.gpu ? { gpu: this.o.gpu } : {}),
        progress: (percent, speed, live, restream) => {
          last = { kind: "progress", lease, percent: Math.round(percent * 10) / 10, ...(speed !== undefined ? { speed } : {}), ...(live ? { live } : {}), ...(restream ? { restream } : {}) };
          if (Date.now() - lastSent >= 1000) send(last); // at most one update a second per task
        },
      });
      if (r.abort.signal.aborted) return this.abortedOutcome(r, started, log);
      log.info({ type: claim.type, elapsed_ms: Math.round(performance.now() - started) }, "task completed");
      return { kind: "outcome", lease, outcome: "completed", result, ...(commands.length ? { argv: commands.at(-1) } : {}), elapsed_ms: Math.round(performance.now() - started) };
    } catch (e) {
      if (r.abort.signal.aborted) return this.abortedOutcome(r, started, log);
      const error: TaskError = classifyError(e);
      log.warn({ type: claim.type, error: error.message, code: error.code, class: error.class, exit_code: error.exit_code }, "task failed");
      return { kind: "outcome", lease, outcome: "failed", error, elapsed_ms: Math.round(performance.now() - started) };
    } finally {
      clearInterval(keepalive);
      rmSync(dir, { recursive: true, force: true });
      this.running.delete(lease.task_id);
      this.o.onRunningChange?.(this.running.size);
      if (this.running.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /**
   * The kernel's params are checked against this worker's contract for the type before anything runs: a
   * kernel of another version may send what this worker cannot read. Refused as a retryable failure (a
   * worker of a matching version may take the next attempt), never cast into what the handler expects.
   */
  private async execute<T extends TaskType>(type: T, params: unknown, base: Omit<TaskContext<T>, "type" | "params">): Promise<ResultOf<T>> {
    if (!isTaskType(type)) {
      throw new TaskFailure({ class: "retryable", code: "WE-JOB-008", message: `worker ${this.o.workerId} does not know the task type ${JSON.stringify(type)}` });
    }
    const checked = checkParams(type, params);
    if (!checked.ok) {
      throw new TaskFailure({ class: "retryable", code: "WE-JOB-008", message: `worker ${this.o.workerId} refused the ${type} task's params: ${checked.problem}` });
    }
    const handler: TaskHandler<T> = this.o.handlers[type];
    return handler({ ...base, type, params: checked.value });
  }

  private abortedOutcome(running: Running, started: number, log: Logger): TaskOutcome | undefined {
    if (running.abortReason === "cancelled") {
      log.info("task stopped: cancelled");
      return undefined; // the kernel already cancelled it; a report would be refused anyway
    }
    log.info("task stopped and handed back");
    return { kind: "outcome", lease: running.lease, outcome: "aborted", elapsed_ms: Math.round(performance.now() - started) };
  }

  /** The outcome must reach the kernel before the delivery is acknowledged: retry until the bus takes it. */
  private async report(outcome: TaskOutcome, log: Logger): Promise<void> {
    const msgId = `result:${outcome.lease.task_id}:${outcome.lease.attempt}`;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.bus.enqueue(RESULTS_QUEUE, outcome, { msgId });
        return;
      } catch (error) {
        if (attempt >= 60) throw new AppError("WE-SYS-003", `could not report task outcome: ${errorMessage(error)}`);
        log.warn({ error: errorMessage(error), attempt }, "could not report the task outcome; retrying");
        await Bun.sleep(Math.min(500 * attempt, 5000));
      }
    }
  }
}
