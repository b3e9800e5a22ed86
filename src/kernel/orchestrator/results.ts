/**
 * Handling what workers report (progress, outcomes) from the results queue, shared by all kernels through
 * one durable consumer. Every handler is idempotent: an outcome is accepted only through the guarded move of
 * the task *with its lease token*, so a redelivered or stale report changes nothing. Outcome handling locks
 * the job row, so "every part is done → create the packaging task" happens once even with several kernels.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Bus } from "../../bus/types.ts";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { JOB_CANCEL_EVENT, type JobCancel, type Lease, type ResultMessage, type TaskError, type TaskOutcome, type TaskProgress } from "../../core/messages.ts";
import * as v from "valibot";
import { checkResult, type LiveProgress, liveProgressSchema, type RestreamProgress, restreamProgressSchema, type TaskType } from "../../core/task-contracts.ts";
import { isStreamingTask, LIVE_LEASE_TTL_MS, LIVE_STABLE_MS, liveRetryDelayMs, STREAMING_TASK_TYPES } from "../../core/topology.ts";
import type { Db } from "../../db/client.ts";
import { jobs, taskAttempts, tasks } from "../../db/schema.ts";
import { type KernelMetrics, observeAttempt } from "../metrics.ts";
import { jobProgress } from "./progress.ts";
import { isDatabaseUnavailable } from "../api/envelope.ts";
import { type Exec, rowsOf } from "../../db/exec.ts";
import { estimateEtaSeconds, type JobProgressUpdate, workStart } from "../events/progress.ts";
import { retryDelayMs } from "./states.ts";
import { handleHardwareFailure } from "../pipeline/hardware-fallback.ts";
import { cancelOpenTasks, type JobRow, lockJob, moveJob, moveTask, type TaskRow } from "./transitions.ts";

export interface OrchestratorDeps {
  db: Db;
  bus: Bus;
  logger: Logger;
  metrics?: KernelMetrics;
  leaseTtlMs: number;
  /** The VOD pipeline: what a completed task leads to (src/kernel/pipeline/advance.ts). */
  advance(x: Exec, job: JobRow, task: TaskRow): Promise<AdvanceResult>;
  /** Called after a job ended (failed or cancelled): remove intermediate files, etc. */
  onJobEnded?(jobId: string, status: string): Promise<void>;
  /** Ids of finished tasks whose outputs are gone from storage, which a retry runs again (pipeline/cleanup.ts). */
  lostOutputs?(jobId: string, done: TaskRow[]): Promise<string[]>;
  /** Publish queued tasks now (after the commit that queued them). */
  kick(): void;
  /** A job's progress changed (job.progress on GET /v1/events; throttled by the publisher). */
  publishProgress?(p: JobProgressUpdate): void;
  /** A live task reported its transcode telemetry (checked against liveProgressSchema; issue 15 telemetry). */
  onLiveProgress?(update: LiveProgressUpdate): void;
  /** A restream task reported its destinations and input position (checked against restreamProgressSchema; issue 16). */
  onRestreamProgress?(update: RestreamProgressUpdate): void;
}

export interface RestreamProgressUpdate {
  task_id: string;
  attempt: number;
  worker_id: string;
  restream: RestreamProgress;
}

export interface LiveProgressUpdate {
  task_id: string;
  job_id: string;
  attempt: number;
  worker_id: string;
  live: LiveProgress;
}

export interface AdvanceResult {
  /** The job reached a terminal state in this step (completed or failed). */
  ended?: "completed" | "failed";
}

export async function handleResult(deps: OrchestratorDeps, msg: ResultMessage): Promise<void> {
  if (msg.kind === "progress") return handleProgress(deps, msg);
  return handleOutcome(deps, msg);
}

async function handleProgress(deps: OrchestratorDeps, msg: TaskProgress): Promise<void> {
  const { db } = deps;
  const percent = Math.max(0, Math.min(100, Number(msg.percent) || 0));
  // A streaming task's lease is renewed by its own short TTL, every other type's by LEASE_TTL (core/topology.ts).
  const ttl = sql`case when ${inArray(tasks.type, [...STREAMING_TASK_TYPES])} then ${`${LIVE_LEASE_TTL_MS} milliseconds`}::interval else ${`${deps.leaseTtlMs} milliseconds`}::interval end`;
  // One statement renews the lease and says whether the task's progress moved: the FROM subquery reads the
  // row as it was before this update, so a keep-alive or a repeated percent is told apart without a second query.
  const res = await db.execute(sql`
    update ${tasks} set progress = greatest(${tasks.progress}, ${percent}), lease_expires_at = now() + ${ttl}
    from (select progress as old_progress from ${tasks} where id = ${msg.lease.task_id}) as before
    where ${and(eq(tasks.id, msg.lease.task_id), eq(tasks.status, "leased"), eq(tasks.leaseToken, msg.lease.token))}
    returning ${tasks.jobId} as job_id, ${tasks.progress} > before.old_progress as advanced`);
  const [found] = rowsOf<{ job_id: string; advanced: boolean }>(res);
  const row = found ? { jobId: found.job_id, advanced: found.advanced === true || String(found.advanced) === "t" } : undefined;
  if (!row) {
    deps.logger.debug({ task_id: msg.lease.task_id, attempt: msg.lease.attempt, worker_id: msg.lease.worker_id }, "progress for a stale lease ignored");
    return;
  }
  if (msg.live !== undefined && deps.onLiveProgress) {
    const live = v.safeParse(liveProgressSchema, msg.live);
    if (live.success) deps.onLiveProgress({ task_id: msg.lease.task_id, job_id: row.jobId, attempt: msg.lease.attempt, worker_id: msg.lease.worker_id, live: live.output });
    else deps.logger.warn({ task_id: msg.lease.task_id, worker_id: msg.lease.worker_id }, "live telemetry that does not match the task contract ignored");
  }
  if (msg.restream !== undefined && deps.onRestreamProgress) {
    const restream = v.safeParse(restreamProgressSchema, msg.restream);
    if (restream.success) deps.onRestreamProgress({ task_id: msg.lease.task_id, attempt: msg.lease.attempt, worker_id: msg.lease.worker_id, restream: restream.output });
    else deps.logger.warn({ task_id: msg.lease.task_id, worker_id: msg.lease.worker_id }, "restream telemetry that does not match the task contract ignored");
  }
  // A report that did not move the task (a keep-alive, the same percent) cannot move the job: the lease
  // renewal above was all it had to do. Skipping the recompute saves four statements per keep-alive.
  if (!row.advanced) return;
  const progress = await refreshJobProgress(db, row.jobId);
  if (progress) deps.publishProgress?.(progress);
}

/** Recomputes the job's progress (monotonic) and ETA from its tasks. */
export async function refreshJobProgress(db: Exec, jobId: string): Promise<JobProgressUpdate | undefined> {
  const rows = await db.select({ type: tasks.type, status: tasks.status, progress: tasks.progress, mediaSeconds: tasks.mediaSeconds, startedAt: tasks.startedAt }).from(tasks).where(eq(tasks.jobId, jobId));
  const p = jobProgress(rows);
  const res = await db.execute(sql`
    update jobs set progress = greatest(progress, ${p}), updated_at = now()
    where id = ${jobId} and status in ('analyzing', 'processing', 'packaging')
    returning id, progress, eta_seconds`);
  const [r] = rowsOf<{ id: string; progress: number; eta_seconds: number | null }>(res);
  if (!r) return undefined;
  // The rate since this run of work started (events/progress.ts), not since the job started.
  const eta = estimateEtaSeconds(Number(r.progress), await workStart(db, jobId));
  // RETURNING shows the ETA this update left alone, i.e. the stored one: an unchanged estimate is not written again.
  const stored = r.eta_seconds === null || r.eta_seconds === undefined ? null : Number(r.eta_seconds);
  if (eta === stored) return { job_id: r.id, progress: Number(r.progress), eta_seconds: eta };
  await db.update(jobs).set({ etaSeconds: eta }).where(and(eq(jobs.id, jobId), inArray(jobs.status, ["analyzing", "processing", "packaging"])));
  return { job_id: r.id, progress: Number(r.progress), eta_seconds: eta };
}

async function handleOutcome(deps: OrchestratorDeps, msg: TaskOutcome): Promise<void> {
  const { lease } = msg;
  let ended: { jobId: string; status: string } | undefined;
  let queued = false;
  // Metrics are recorded once the transaction committed: a rolled-back report is redelivered and counted then.
  const after: Array<() => void> = [];
  await deps.db.transaction(async (tx) => {
    const [ref] = await tx.select({ jobId: tasks.jobId }).from(tasks).where(eq(tasks.id, lease.task_id));
    if (!ref) return;
    const job = await lockJob(tx, ref.jobId);
    if (!job) return;
    // Read the task only under the job lock: the reconciler may have requeued it while we waited.
    const [task] = await tx.select().from(tasks).where(eq(tasks.id, lease.task_id));
    if (!task) return;
    const log = deps.logger.child({ job_id: job.id, task_id: task.id, attempt: lease.attempt, worker_id: lease.worker_id });
    if (task.status !== "leased" || task.leaseToken !== lease.token) {
      log.warn({ task_status: task.status, outcome: msg.outcome }, "report with a stale lease refused");
      return;
    }
    // A completed report's result is checked against the task type's contract before anything stores or
    // uses it; one that breaks it is refused and handled as the failed attempt it is.
    const checked = msg.outcome === "completed" ? checkResult(task.type, msg.result ?? {}) : undefined;
    const report = checked && !checked.ok ? refusedResult(task.type, msg, checked.problem, log) : msg;
    await closeAttempt(tx, lease, report);
    if (checked?.ok) {
      const done = await moveTask(tx, task, "completed", { leaseToken: lease.token, from: ["leased"] }, { result: checked.value, progress: 100, errorCode: null, errorMessage: null });
      if (!done) return;
      after.push(() => observeAttempt(deps.metrics, task, job.profiles, "completed", msg.elapsed_ms));
      const r = await advanceOrFail(tx, deps, job, done, log);
      const progress = await refreshJobProgress(tx, job.id);
      if (progress) after.push(() => deps.publishProgress?.(progress));
      if (r.ended) ended = { jobId: job.id, status: r.ended };
      queued = true;
      return;
    }
    if (report.outcome === "aborted") {
      // Handed back (drain, shutdown): run again elsewhere, without counting a failure.
      const back = await moveTask(tx, task, "queued", { leaseToken: lease.token, from: ["leased"] }, { attempt: task.attempt + 1, publishedAt: null, notBefore: null, progress: 0 }, { reason: "handed back by worker" });
      if (back) {
        after.push(() => {
          observeAttempt(deps.metrics, task, job.profiles, "aborted", msg.elapsed_ms);
          deps.metrics?.redeliveries.inc({ pool: task.pool });
        });
      }
      queued = true;
      return;
    }
    const result = await failTask(tx, deps, job, task, report.error ?? { class: "retryable", code: "WE-JOB-008", message: "task failed without an error report" }, lease.token);
    if (result !== "stale") {
      after.push(() => {
        observeAttempt(deps.metrics, task, job.profiles, "failed", msg.elapsed_ms);
        if (result === "requeued") deps.metrics?.redeliveries.inc({ pool: task.pool });
      });
    }
    if (result === "job-failed") ended = { jobId: job.id, status: "failed" };
    else if (result === "requeued") queued = true;
  });
  for (const record of after) record();
  if (queued) deps.kick();
  if (ended) await afterJobEnded(deps, ended.jobId, ended.status);
}

/**
 * A completed report whose result breaks its task type's contract (core/task-contracts.ts), as the failed
 * attempt it becomes: never stored, never cast. An analysis that cannot be planned from fails the job as an
 * unsupported source (the analysis describes the source, and FFprobe will describe it the same way again);
 * any other malformed result is retried, since a worker of another version may have sent it.
 */
function refusedResult(type: TaskType, msg: TaskOutcome, problem: string, log: Logger): TaskOutcome {
  const error: TaskError =
    type === "analyze"
      ? { class: "permanent", code: "WE-JOB-007", message: `unsupported source: ${problem}` }
      : { class: "retryable", code: "WE-JOB-008", message: `worker ${msg.lease.worker_id} reported a malformed ${type} result: ${problem}` };
  log.warn({ code: error.code, problem }, `${type} result refused: it does not match the task contract`);
  return { kind: "outcome", lease: msg.lease, outcome: "failed", error, ...(msg.argv ? { argv: msg.argv } : {}), elapsed_ms: msg.elapsed_ms };
}

/**
 * The pipeline step after a completed task, in a savepoint. If it throws for anything but an unavailable
 * database or a transaction conflict (those roll back and the report is redelivered, as before), the job
 * fails now with the reason: a step that throws on every delivery would otherwise only end when the
 * deliveries run out, long after, as "worker stopped reporting".
 */
async function advanceOrFail(tx: Tx, deps: OrchestratorDeps, job: JobRow, done: TaskRow, log: Logger): Promise<AdvanceResult> {
  try {
    return await tx.transaction((step) => deps.advance(step, job, done));
  } catch (e) {
    if (isDatabaseUnavailable(e) || isTransactionConflict(e)) throw e;
    const message = `the kernel could not continue the job after its ${done.type} task: ${errorMessage(e)}`;
    log.error({ error: e }, "pipeline step failed; failing the job");
    await moveJob(tx, job.id, "failed", { patch: { errorCode: "WE-JOB-008", errorMessage: message, errorDetails: { task_id: done.id, task_type: done.type } }, detail: { code: "WE-JOB-008", error: message } });
    await cancelOpenTasks(tx, job.id, "job failed");
    return { ended: "failed" };
  }
}

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/**
 * Serialization failure or deadlock (SQLSTATE class 40), out of resources (53), a cancelled statement (57):
 * the next delivery may well succeed. Drivers may wrap the database's error: its causes are looked at too.
 */
function isTransactionConflict(error: unknown, depth = 0): boolean {
  const err = error as { code?: unknown; cause?: unknown } | null | undefined;
  if (!err || typeof err !== "object" || depth > 5) return false;
  if (typeof err.code === "string" && /^(40|53|57)[0-9A-Z]{3}$/.test(err.code)) return true;
  return err.cause !== undefined && err.cause !== error && isTransactionConflict(err.cause, depth + 1);
}

async function closeAttempt(db: Exec, lease: Lease, msg: TaskOutcome): Promise<void> {
  const e = msg.error;
  await db
    .update(taskAttempts)
    .set({
      outcome: msg.outcome,
      finishedAt: sql`now()`,
      ...(e
        ? { errorClass: e.class, errorCode: e.code, errorMessage: e.message, exitCode: e.exit_code ?? null, signal: e.signal ?? null, argv: e.argv ?? msg.argv ?? null, stderrTail: e.stderr_tail ?? null }
        : { argv: msg.argv ?? null }),
    })
    .where(and(eq(taskAttempts.taskId, lease.task_id), eq(taskAttempts.attempt, lease.attempt)));
}

/**
 * A failed attempt: permanent errors fail the job at once; retryable ones requeue with backoff until
 * max_attempts failures, then fail the job. Used for worker reports and for the reconciler's verdicts
 * (lease expired, deadline passed). Call it under the job lock; if the attempt's lease no longer holds the
 * task (someone else already decided its fate), nothing happens: "stale".
 */
export async function failTask(db: Exec, deps: Pick<OrchestratorDeps, "logger" | "metrics">, job: JobRow, task: TaskRow, error: TaskError, leaseToken: string): Promise<"requeued" | "job-failed" | "stale"> {
  const failures = failuresAfter(task);
  const log = deps.logger.child({ job_id: job.id, task_id: task.id, attempt: task.attempt });
  // A GPU driver's failure: wait out a session limit, or fall back to the CPU / fail per the profile (docs/gpu.md).
  const hardware = await handleHardwareFailure(db, job, task, error, leaseToken);
  if (hardware !== undefined) {
    log.warn({ error: error.message, code: error.code, pool: task.pool, verdict: hardware }, "hardware encoder failure");
    if (hardware !== "stale") deps.metrics?.errors.inc({ source: "task", code: error.code });
    return hardware === "fell-back" ? "requeued" : hardware;
  }
  if (error.class === "retryable" && failures < task.maxAttempts) {
    // Streaming (live, restream): the first retry at once (failover), then a short backoff (core/topology.ts).
    const delay = isStreamingTask(task.type) ? liveRetryDelayMs(failures) : retryDelayMs(failures);
    const requeued = await moveTask(
      db,
      task,
      "queued",
      { leaseToken, from: ["leased"] },
      { attempt: task.attempt + 1, failures, publishedAt: null, notBefore: sql`now() + ${`${delay} milliseconds`}::interval`, progress: 0, errorCode: error.code, errorMessage: error.message },
      { error: error.message, retry_in_ms: delay },
    );
    if (!requeued) return "stale";
    deps.metrics?.errors.inc({ source: "task", code: error.code });
    log.warn({ error: error.message, code: error.code, failures, retry_in_ms: delay }, "task attempt failed; retrying");
    return "requeued";
  }
  const failed = await moveTask(db, task, "failed", { leaseToken, from: ["leased"] }, { failures, errorCode: error.code, errorMessage: error.message }, { error: error.message });
  if (!failed) return "stale";
  deps.metrics?.errors.inc({ source: "task", code: error.code });
  const why = error.class === "permanent" ? error.message : `${task.type} task failed ${failures} times; last error: ${error.message}`;
  const code = error.class === "permanent" ? error.code : "WE-JOB-008";
  await moveJob(db, job.id, "failed", { patch: { errorCode: code, errorMessage: why, errorDetails: { task_id: task.id, task_type: task.type, attempts: failures, exit_code: error.exit_code ?? null, signal: error.signal ?? null } }, detail: { code, error: why } });
  await cancelOpenTasks(db, job.id, "job failed");
  log.error({ error: why, code }, "job failed");
  return "job-failed";
}

/**
 * The task's failure count after this failure. A live task counts CONSECUTIVE failures: an attempt that ran
 * LIVE_STABLE_MS or longer (a stream that played, then lost its worker) starts the count again, so worker
 * deaths over a long stream never exhaust max_attempts, while a source that fails at once every time does.
 */
export function failuresAfter(task: Pick<TaskRow, "type" | "failures" | "startedAt">, now = Date.now()): number {
  const ranLong = isStreamingTask(task.type) && task.startedAt !== null && now - task.startedAt.getTime() >= LIVE_STABLE_MS;
  return ranLong ? 1 : task.failures + 1;
}

/** After a job ended badly: stop its running work everywhere, then clean up. */
export async function afterJobEnded(deps: Pick<OrchestratorDeps, "bus" | "logger" | "onJobEnded">, jobId: string, status: string): Promise<void> {
  if (status !== "completed") {
    await deps.bus.publish(JOB_CANCEL_EVENT, { job_id: jobId, reason: `job ${status}` } satisfies JobCancel).catch((error) => deps.logger.warn({ error, job_id: jobId }, "could not announce job end"));
  }
  await deps.onJobEnded?.(jobId, status).catch((error) => deps.logger.warn({ error, job_id: jobId }, "cleanup after job end failed"));
}
