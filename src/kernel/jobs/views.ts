/** API representations of jobs, their tasks, attempts and timeline (snake_case, no internal fields). */
import { asc, eq, inArray } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { jobEvents, taskAttempts, tasks } from "../../db/schema.ts";
import type { JobRow } from "../orchestrator/transitions.ts";

export function jobSummary(j: JobRow) {
  return {
    id: j.id,
    status: j.status,
    status_reason: j.statusReason,
    progress: j.progress,
    eta_seconds: j.etaSeconds,
    source_url: j.sourceUrl,
    profiles: j.profiles,
    outputs: j.outputs,
    priority: j.priority,
    metadata: j.metadata,
    error: j.errorCode ? { code: j.errorCode, message: j.errorMessage, details: j.errorDetails } : null,
    created_at: j.createdAt,
    started_at: j.startedAt,
    finished_at: j.finishedAt,
    updated_at: j.updatedAt,
  };
}

/**
 * What an attempt left to diagnose it: its error, FFmpeg's exit, argv and stderr tail, and its times.
 * Shared by the job detail and the logs endpoint so both show an attempt the same way.
 */
export function attemptEvidence(a: typeof taskAttempts.$inferSelect) {
  return {
    error_message: a.errorMessage,
    exit_code: a.exitCode,
    signal: a.signal,
    argv: a.argv,
    stderr_tail: a.stderrTail,
    started_at: a.startedAt,
    finished_at: a.finishedAt,
  };
}

/** The probe summary stored by the analyze step, without the (long) keyframe index. */
function sourceSummary(probe: Record<string, unknown> | null) {
  if (!probe) return null;
  const { keyframes: _k, ...rest } = probe as Record<string, unknown> & { keyframes?: unknown };
  return rest;
}

export async function jobDetail(db: Db, j: JobRow) {
  const taskRows = await db.select().from(tasks).where(eq(tasks.jobId, j.id)).orderBy(asc(tasks.createdAt), asc(tasks.type), asc(tasks.seq));
  const attempts = taskRows.length
    ? await db.select().from(taskAttempts).where(inArray(taskAttempts.taskId, taskRows.map((t) => t.id))).orderBy(asc(taskAttempts.attempt))
    : [];
  const events = await db.select().from(jobEvents).where(eq(jobEvents.jobId, j.id)).orderBy(asc(jobEvents.id));
  return {
    ...jobSummary(j),
    source: sourceSummary(j.probe),
    tasks: taskRows.map((t) => ({
      id: t.id,
      type: t.type,
      seq: t.seq,
      pool: t.pool,
      status: t.status,
      attempt: t.attempt,
      failures: t.failures,
      max_attempts: t.maxAttempts,
      progress: t.progress,
      media_seconds: t.mediaSeconds,
      worker_id: t.leaseWorkerId,
      error: t.errorCode ? { code: t.errorCode, message: t.errorMessage } : null,
      started_at: t.startedAt,
      finished_at: t.finishedAt,
      attempts: attempts
        .filter((a) => a.taskId === t.id)
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
