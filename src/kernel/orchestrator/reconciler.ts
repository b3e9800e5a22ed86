/**
 * The reconciler: active in exactly one kernel at a time (a PostgreSQL advisory lock on a dedicated
 * connection; another kernel takes over when that connection or kernel dies). Each tick it
 * - requeues tasks whose lease expired (worker died, hung, or was cut off) as a retryable failure,
 * - times out tasks past their deadline (tells the worker to stop FFmpeg, then retries),
 * - publishes queued tasks that were never delivered (a kernel crashed between commit and publish),
 * - re-publishes long-queued tasks once a capable worker exists (the bus may have lost them),
 * - keeps the workers table in step with presence (offline when heartbeats stop),
 * - says on each waiting job why it waits (no healthy workers / missing capability).
 */
import { and, eq, inArray, isNotNull, isNull, lt, sql } from "drizzle-orm";
import type { Bus } from "../../bus/types.ts";
import { errorMessage, isAppError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { TASK_CANCEL_EVENT, type TaskCancel } from "../../core/messages.ts";
import { LIVE_POOL } from "../../core/pools.ts";
import type { Database, HeldLock } from "../../db/client.ts";
import { jobs, taskAttempts, tasks, workers } from "../../db/schema.ts";
import { publishReady } from "./dispatch.ts";
import { afterJobEnded, failTask, type OrchestratorDeps } from "./results.ts";
import { lockJob } from "./transitions.ts";
import { poolEncoder } from "../../media/hardware/index.ts";
import { rowsOf } from "../../db/exec.ts";

/** Arbitrary constant: "WE-RECON". */
const LEADER_KEY = 0x5745524543;
const REPUBLISH_AFTER = "5 minutes";
/** Is any task queued or leased? (tasks_status_pool_idx) */
const ACTIVE_TASK = sql`select 1 from tasks where status in ('queued', 'leased') limit 1`;

export interface ReconcilerOptions {
  database: Database;
  deps: OrchestratorDeps;
  intervalMs?: number;
  /** Worker registry sync (presence → workers table); leader-only so joined/left is logged once. */
  syncWorkers(): Promise<void>;
  /** A lease expired and its attempt was settled (retried or the job failed): counted per pool. */
  onLeaseExpired?(pool: string): void;
  /**
   * Full passes while idle (no queued or leased task), in ms; default 5000. Between them the leader only
   * asks whether any task is queued or leased (one indexed query; the bus's worker presence is listed at the
   * full passes), so an idle kernel stays quiet (issue 20).
   */
  idleIntervalMs?: number;
  /**
   * True while the kernel LISTENs for queued tasks (migration 0009's NOTIFY, task-notify.ts): the idle
   * per-second check is skipped then, since a task queued by anyone wakes the reconciler (notified()).
   * While it is false (connection down, not supported) the check runs every tick as before.
   */
  listening?(): boolean;
}

export class Reconciler {
  private lock: HeldLock | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;
  /** Idle back-off: when the next full pass is due while no task is queued or leased (0: every tick is one). */
  private nextFullPassAt = 0;
  /** A wake-up arrived since the current full pass began: it may have missed that work, so no back-off after it. */
  private woken = false;

  constructor(private readonly o: ReconcilerOptions) {}

  /**
   * The orchestrator's kick hook (index.ts): a transaction queued work (a new job, a report, a retry), so the
   * back-off ends and the next 1 s tick is a full pass.
   */
  wake(): void {
    this.woken = true;
    this.nextFullPassAt = 0;
  }

  /**
   * A NOTIFY: some transaction (any kernel's) queued a task. Ends the back-off like wake(); a reconciler that
   * was backed off runs its full pass now rather than at the next tick (an unpublished task from a kernel that
   * died before publishing is recovered at once). While busy it changes nothing: every tick is a full pass.
   */
  notified(): void {
    this.woken = true;
    if (this.nextFullPassAt === 0 || !this.timer) return;
    this.nextFullPassAt = 0;
    setTimeout(() => void this.tick(), 0);
  }


  get isLeader(): boolean {
    return this.lock !== undefined;
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs ?? 1000);
    void this.tick();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.running) await Bun.sleep(10);
    await this.lock?.release();
    this.lock = undefined;
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const log = this.o.deps.logger;
    try {
      if (!this.lock) {
        this.lock = await this.o.database.tryLock(LEADER_KEY);
        if (this.lock) log.info("reconciler: this kernel is now the active reconciler");
        else return;
      }
      // Idle back-off: between full passes, one indexed query. Any queued or leased task (a new job, a report,
      // a crashed kernel's unpublished work) makes this tick a full pass, so lease expiry and recovery are not
      // delayed. The bus's worker presence is compared at the full passes only (every idleIntervalMs): a worker
      // joining an idle kernel is registered within that, and one joining while work is queued at once.
      // With LISTEN healthy not even that: queued work NOTIFYs (notified()), and a leased task keeps the back-off off.
      if (Date.now() < this.nextFullPassAt && (this.o.listening?.() || !(await this.hasActiveTasks()))) return;
      if (!(await this.lock.held())) {
        log.warn("reconciler: lost the leader lock (database connection gone); standing by");
        await this.lock.release().catch(() => {});
        this.lock = undefined;
        return;
      }
      this.woken = false;
      await this.o.syncWorkers();
      await this.expireLeases();
      await this.timeOutDeadlines();
      await this.republishStale();
      await publishReady(this.o.deps.db, this.o.deps.bus, log);
      await this.explainWaiting();
      // Back off only when nothing is queued or leased: a leased task's expiry is checked every tick.
      this.nextFullPassAt = this.woken || (await this.hasActiveTasks()) ? 0 : Date.now() + (this.o.idleIntervalMs ?? 5000);
    } catch (error) {
      this.nextFullPassAt = 0;
      log.warn({ error: errorMessage(error) }, "reconciler tick failed; retrying");
      this.o.deps.metrics?.errors.inc({ source: "reconciler", code: isAppError(error) ? error.code : "WE-SYS-001" });
    } finally {
      this.running = false;
    }
  }

  /** Hand-written, not the query builder: it runs every second while idle, and building it cost ~3× the round trip. */
  private async hasActiveTasks(): Promise<boolean> {
    return rowsOf(await this.o.deps.db.execute(ACTIVE_TASK)).length > 0;
  }

  private async expireLeases(): Promise<void> {
    const { db } = this.o.deps;
    const expired = await db
      .select({ id: tasks.id, pool: tasks.pool })
      .from(tasks)
      .where(and(eq(tasks.status, "leased"), lt(tasks.leaseExpiresAt, sql`now()`)))
      .limit(100);
    for (const { id, pool } of expired) {
      const verdict = await this.failLeased(id, (t) => ({ class: "retryable", code: "WE-WRK-003", message: `lease expired: worker ${t.leaseWorkerId} stopped reporting (dead, hung or unreachable)` }), "lease_expires_at");
      if (verdict) this.o.onLeaseExpired?.(pool);
    }
  }

  private async timeOutDeadlines(): Promise<void> {
    const { db, bus } = this.o.deps;
    const late = await db
      .select({ id: tasks.id, attempt: tasks.attempt })
      .from(tasks)
      .where(and(eq(tasks.status, "leased"), lt(tasks.deadlineAt, sql`now()`)))
      .limit(100);
    for (const t of late) {
      await bus.publish(TASK_CANCEL_EVENT, { task_id: t.id, attempt: t.attempt, reason: "deadline passed" } satisfies TaskCancel).catch(() => {});
      await this.failLeased(t.id, () => ({ class: "retryable", code: "WE-JOB-008", message: "task timed out: it ran past its deadline and was stopped" }), "deadline_at");
    }
  }

  /** Re-checks the condition under the job lock, then fails the attempt (requeue or fail the job). */
  private async failLeased(taskId: string, error: (t: typeof tasks.$inferSelect) => Parameters<typeof failTask>[4], column: "lease_expires_at" | "deadline_at"): Promise<"requeued" | "job-failed" | undefined> {
    const d = this.o.deps;
    let ended = false;
    let jobId = "";
    let settled: { verdict: "requeued" | "job-failed"; pool: string } | undefined;
    await d.db.transaction(async (tx) => {
      const [t] = await tx.select().from(tasks).where(eq(tasks.id, taskId));
      if (!t) return;
      const job = await lockJob(tx, t.jobId);
      const [still] = await tx
        .select({ id: tasks.id })
        .from(tasks)
        .where(and(eq(tasks.id, taskId), eq(tasks.status, "leased"), lt(column === "deadline_at" ? tasks.deadlineAt : tasks.leaseExpiresAt, sql`now()`)));
      if (!job || !still || !t.leaseToken) return;
      jobId = job.id;
      // Re-read under the lock: a report may have settled the attempt since the first read.
      const [current] = await tx.select().from(tasks).where(eq(tasks.id, taskId));
      if (!current?.leaseToken) return;
      const e = error(current);
      const verdict = await failTask(tx, d, job, current, e, current.leaseToken);
      if (verdict === "stale") return;
      settled = { verdict, pool: current.pool };
      ended = verdict === "job-failed";
      // The attempt's worker will never report it (or is being stopped): the verdict goes on the attempt.
      await tx
        .update(taskAttempts)
        .set({ outcome: column === "deadline_at" ? "timed-out" : "lease-expired", finishedAt: sql`now()`, errorClass: e.class, errorCode: e.code, errorMessage: e.message })
        .where(and(eq(taskAttempts.taskId, current.id), eq(taskAttempts.attempt, current.attempt), isNull(taskAttempts.outcome)));
    });
    if (settled?.verdict === "requeued") d.metrics?.redeliveries.inc({ pool: settled.pool });
    if (ended) await afterJobEnded(d, jobId, "failed");
    else d.kick();
    return settled?.verdict;
  }

  private async healthyPools(): Promise<Set<string>> {
    const rows = await this.o.deps.db.select({ pools: workers.pools }).from(workers).where(eq(workers.status, "healthy"));
    return new Set(rows.flatMap((r) => r.pools));
  }

  private async republishStale(): Promise<void> {
    const pools = [...(await this.healthyPools())];
    if (!pools.length) return;
    const again = await this.o.deps.db
      .update(tasks)
      .set({ publishedAt: null })
      .where(and(eq(tasks.status, "queued"), isNotNull(tasks.publishedAt), lt(tasks.publishedAt, sql`now() - ${REPUBLISH_AFTER}::interval`), inArray(tasks.pool, pools)))
      .returning({ pool: tasks.pool });
    for (const { pool } of again) this.o.deps.metrics?.redeliveries.inc({ pool });
  }

  /** The runbook's "Job Stuck in Pending", answered on the job itself. */
  private async explainWaiting(): Promise<void> {
    const { db } = this.o.deps;
    const pools = await this.healthyPools();
    const waiting = await db.selectDistinct({ jobId: tasks.jobId, pool: tasks.pool }).from(tasks).where(eq(tasks.status, "queued"));
    const reasons = new Map<string, string>();
    for (const w of waiting) {
      if (pools.has(w.pool)) continue;
      reasons.set(
        w.jobId,
        pools.size === 0
          ? "waiting: no healthy workers are connected (check GET /v1/workers)"
          : `waiting: no healthy worker has ${missingCapability(w.pool)} (workers offer: ${[...pools].sort().join(", ")})`,
      );
    }
    for (const [jobId, reason] of reasons) {
      await db.update(jobs).set({ statusReason: reason }).where(and(eq(jobs.id, jobId), sql`status_reason is distinct from ${reason}`));
    }
    const stale = await db.select({ id: jobs.id }).from(jobs).where(isNotNull(jobs.statusReason));
    const clear = stale.map((r) => r.id).filter((id) => !reasons.has(id));
    if (clear.length) await db.update(jobs).set({ statusReason: null }).where(inArray(jobs.id, clear));
  }
}

/** What a pool needs, as the waiting reason names it: a hardware pool is one proven encoder (docs/gpu.md). */
function missingCapability(pool: string): string {
  if (pool === LIVE_POOL) return "live slots (pool live: a worker started with LIVE_SLOTS=1 or more; the standalone kernel's embedded worker has one)";
  const hardware = poolEncoder(pool);
  return hardware ? `proven encoder ${hardware.encoder} (pool ${pool}; a GPU worker offers it after its test encode passes)` : `capability ${pool}`;
}
