/** API representations of jobs, their tasks, attempts and timeline (snake_case, no internal fields). */
import { asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { jobEvents, jobLogs, taskAttempts, tasks } from "../../db/schema.ts";
import { isJobTerminal } from "../orchestrator/states.ts";
import type { JobRow } from "../orchestrator/transitions.ts";

export function jobSummary(row: JobRow) {
  return {
    id: row.id,
    status: row.status,
    status_reason: row.statusReason,
    progress: row.progress,
    // A job that ended has nothing left to estimate (rows from before the transition cleared it included).
    eta_seconds: isJobTerminal(row.status) ? null : row.etaSeconds,
    source_url: row.sourceUrl,
    profiles: row.profiles,
    outputs: row.outputs,
    priority: row.priority,
    metadata: row.metadata,
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage, details: row.errorDetails } : null,
    created_at: row.createdAt,
    started_at: row.startedAt,
    finished_at: row.finishedAt,
    updated_at: row.updatedAt,
  };
}

/**
 * What an attempt left to diagnose it: its error, FFmpeg's exit, argv and stderr tail, and its times.
 * Shared by the job detail and the logs endpoint so both show an attempt the same way.
 */
export function attemptEvidence(attempt: typeof taskAttempts.$inferSelect) {
  return {
    error_message: attempt.errorMessage,
    exit_code: attempt.exitCode,
    signal: attempt.signal,
    argv: attempt.argv,
    stderr_tail: attempt.stderrTail,
    started_at: attempt.startedAt,
    finished_at: attempt.finishedAt,
  };
}

/** The probe summary stored by the analyze step, without the (long) keyframe index. */
function sourceSummary(probe: Record<string, unknown> | null) {
  if (!probe) return null;
  const { keyframes: _k, ...rest } = probe as Record<string, unknown> & { keyframes?: unknown };
  return rest;
}

export async function jobDetail(db: Db, job: JobRow) {
  const taskRows = await db.select().from(tasks).where(eq(tasks.jobId, job.id)).orderBy(asc(tasks.createdAt), asc(tasks.type), asc(tasks.seq));
  const attempts = taskRows.length
    ? await db.select().from(taskAttempts).where(inArray(taskAttempts.taskId, taskRows.map((t) => t.id))).orderBy(asc(taskAttempts.attempt))
    : [];
  const events = await db.select().from(jobEvents).where(eq(jobEvents.jobId, job.id)).orderBy(asc(jobEvents.id));
  return {
    ...jobSummary(job),
    source: sourceSummary(job.probe),
    tasks: taskRows.map((task) => ({
      id: task.id,
      type: task.type,
      seq: task.seq,
      pool: task.pool,
      status: task.status,
      attempt: task.attempt,
      failures: task.failures,
      max_attempts: task.maxAttempts,
      progress: task.progress,
      media_seconds: task.mediaSeconds,
      // The lease's worker while it runs; afterwards the worker of the last attempt (the lease is cleared).
      worker_id: task.leaseWorkerId ?? attempts.filter((a) => a.taskId === task.id).at(-1)?.workerId ?? null,
      error: task.errorCode ? { code: task.errorCode, message: task.errorMessage } : null,
      started_at: task.startedAt,
      finished_at: task.finishedAt,
      attempts: attempts
        .filter((a) => a.taskId === task.id)
        .map((a) => ({
          attempt: a.attempt,
          worker_id: a.workerId,
          outcome: a.outcome,
          error_class: a.errorClass,
          error_code: a.errorCode,
          ...attemptEvidence(a),
        })),
    })),
    timeline: events.map((e) => ({ at: e.at, status: e.toStatus, ...(e.taskId ? { task_id: e.taskId } : {}), ...(e.detail ? { detail: e.detail } : {}) })),
  };
}

type AttemptRow = typeof taskAttempts.$inferSelect;
type AttemptOf = { type: string; seq: number; a: AttemptRow };

/**
 * A job's log: every attempt's start and end (which worker, the outcome, and for FFmpeg the command, exit
 * code or signal and stderr tail), with any stored job_logs lines, in time order. Attempts are where the
 * workers' evidence is kept (results.ts closes them), so the log is read from them. Pure.
 */
export function logEntries(attempts: AttemptOf[], stored: Array<typeof jobLogs.$inferSelect> = []) {
  const entries = [];
  for (const { type, seq, a } of attempts) {
    const what = `${type} ${seq} attempt ${a.attempt}`;
    entries.push({ at: a.startedAt, level: "info", task_id: a.taskId, worker_id: a.workerId, message: `${what} started on worker ${a.workerId}` });
    if (!a.finishedAt || !a.outcome) continue;
    const level = a.outcome === "completed" ? "info" : a.outcome === "failed" ? "error" : "warn";
    const why = a.errorMessage ? `: ${a.errorMessage}` : "";
    entries.push({
      at: a.finishedAt,
      level,
      task_id: a.taskId,
      worker_id: a.workerId,
      message: `${what} ${a.outcome}${a.errorCode ? ` (${a.errorCode})` : ""}${why}`,
      ...(a.argv ? { argv: a.argv } : {}),
      ...(a.exitCode !== null ? { exit_code: a.exitCode } : {}),
      ...(a.signal ? { signal: a.signal } : {}),
      ...(a.stderrTail ? { stderr_tail: a.stderrTail } : {}),
    });
  }
  for (const l of stored) entries.push({ at: l.at, level: l.level, task_id: l.taskId, worker_id: null, message: l.message });
  return entries.sort((x, y) => x.at.getTime() - y.at.getTime());
}

/** GET /v1/jobs/:id/logs: `entries` (logEntries) and every attempt's evidence. */
export async function jobLogView(db: Db, jobId: string) {
  const stored = await db.select().from(jobLogs).where(eq(jobLogs.jobId, jobId)).orderBy(jobLogs.id);
  const rows = await db
    .select({ type: tasks.type, seq: tasks.seq, a: taskAttempts })
    .from(taskAttempts)
    .innerJoin(tasks, eq(tasks.id, taskAttempts.taskId))
    .where(eq(tasks.jobId, jobId))
    .orderBy(taskAttempts.startedAt, taskAttempts.id);
  return {
    entries: logEntries(rows, stored),
    attempts: rows.map(({ type, seq, a }) => ({ task_id: a.taskId, task_type: type, seq, attempt: a.attempt, worker_id: a.workerId, outcome: a.outcome, ...attemptEvidence(a) })),
  };
}
