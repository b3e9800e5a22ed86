/**
 * Guarded state transitions (docs/architecture.md §4, §5): every job/task state change is ONE conditional UPDATE
 * (`… WHERE id = $1 AND status IN (allowed sources) [AND attempt/lease] RETURNING`); zero rows means the move
 * was refused. A terminal state is never a source (states.ts), so it is never overwritten. Each accepted move
 * is recorded in job_events with its time: the job's timeline.
 *
 * Nothing else in the code base writes `jobs.status` or `tasks.status`.
 */
import { and, eq, inArray, isNull, lte, notInArray, or, sql, type SQL } from "drizzle-orm";
import type { TaskType } from "../../core/task-contracts.ts";
import type { Exec } from "../../db/exec.ts";
import { jobEvents, jobs, taskAttempts, tasks } from "../../db/schema.ts";
import { jobEventType, recordEvents } from "../events/record.ts";
import { type JobStatus, JOB_MOVES, JOB_TERMINAL, type TaskStatus, TASK_MOVES, TASK_TERMINAL } from "./states.ts";

export type JobRow = typeof jobs.$inferSelect;
export type TaskRow = typeof tasks.$inferSelect;
/** Column values or SQL expressions (e.g. `now() + interval`). */
export type Patch<T> = { [K in keyof T]?: T[K] | SQL };

/**
 * The states a move to `to` may start from when the caller names none: never a terminal state. Leaving a
 * terminal state (a retry) must be asked for explicitly with `from: ["failed"]`, so no ordinary pipeline
 * step can ever revive a failed or cancelled job.
 */
function sources<S extends string>(moves: Record<S, readonly S[]>, to: S, terminal: readonly S[]): S[] {
  return (Object.keys(moves) as S[]).filter((from) => moves[from].includes(to) && !terminal.includes(from));
}

export async function moveJob(
  db: Exec,
  jobId: string,
  to: JobStatus,
  opts: { from?: JobStatus[]; patch?: Patch<typeof jobs.$inferInsert>; detail?: Record<string, unknown> } = {},
): Promise<JobRow | undefined> {
  const allowed = (opts.from ?? sources(JOB_MOVES, to, JOB_TERMINAL)).filter((f) => JOB_MOVES[f].includes(to));
  if (!allowed.length) return undefined;
  const terminal = to === "completed" || to === "failed" || to === "cancelled";
  const [row] = await db
    .update(jobs)
    .set({
      ...opts.patch,
      status: to,
      updatedAt: sql`now()`,
      ...(to === "analyzing" ? { startedAt: sql`coalesce(${jobs.startedAt}, now())` } : {}),
      // A job that ended has nothing left to estimate.
      ...(terminal ? { finishedAt: sql`now()`, statusReason: null, etaSeconds: null } : { finishedAt: null }),
    })
    .where(and(eq(jobs.id, jobId), inArray(jobs.status, allowed)))
    .returning();
  if (row) {
    const from = allowed.length === 1 ? allowed[0]! : null;
    await db.insert(jobEvents).values({ jobId, toStatus: to, fromStatus: from, detail: opts.detail });
    await recordEvents(db, [{ type: jobEventType(to), jobId, data: jobEventData(row, from, opts.detail) }]);
  }
  return row;
}

export interface TaskGuard {
  /** Only when the task is on this attempt (fencing). */
  attempt?: number;
  /** Only when this lease token holds the task. */
  leaseToken?: string;
  from?: TaskStatus[];
}

export async function moveTask(
  db: Exec,
  task: { id: string; jobId: string },
  to: TaskStatus,
  guard: TaskGuard = {},
  patch: Patch<typeof tasks.$inferInsert> = {},
  detail?: Record<string, unknown>,
): Promise<TaskRow | undefined> {
  const allowed = (guard.from ?? sources(TASK_MOVES, to, TASK_TERMINAL)).filter((f) => TASK_MOVES[f].includes(to));
  if (!allowed.length) return undefined;
  const conds: SQL[] = [eq(tasks.id, task.id), inArray(tasks.status, allowed)];
  if (guard.attempt !== undefined) conds.push(eq(tasks.attempt, guard.attempt));
  if (guard.leaseToken !== undefined) conds.push(eq(tasks.leaseToken, guard.leaseToken));
  if (to === "leased") conds.push(or(isNull(tasks.notBefore), lte(tasks.notBefore, sql`now()`))!);
  const leaving = to !== "leased";
  const [row] = await db
    .update(tasks)
    .set({
      ...patch,
      status: to,
      updatedAt: sql`now()`,
      ...(leaving ? { leaseToken: null, leaseWorkerId: null, leaseExpiresAt: null } : {}),
      ...(to === "completed" || to === "failed" || to === "cancelled" ? { finishedAt: sql`now()` } : {}),
    })
    .where(and(...conds))
    .returning();
  if (row) {
    await db.insert(jobEvents).values({
      jobId: task.jobId,
      taskId: task.id,
      toStatus: `task:${to}`,
      detail: { type: row.type, seq: row.seq, attempt: row.attempt, ...detail },
    });
    await recordEvents(db, [taskEvent(row, detail)]);
  }
  return row;
}

/** Cancels every unfinished task of a job (one UPDATE). Returns the cancelled tasks. */
export async function cancelOpenTasks(db: Exec, jobId: string, reason: string): Promise<TaskRow[]> {
  const rows = await db
    .update(tasks)
    .set({ status: "cancelled", updatedAt: sql`now()`, finishedAt: sql`now()`, leaseToken: null, leaseWorkerId: null, leaseExpiresAt: null, errorMessage: reason })
    .where(and(eq(tasks.jobId, jobId), inArray(tasks.status, sources(TASK_MOVES, "cancelled", TASK_TERMINAL))))
    .returning();
  if (rows.length) {
    await db.insert(jobEvents).values(rows.map((r) => ({ jobId, taskId: r.id, toStatus: "task:cancelled", detail: { type: r.type, seq: r.seq, attempt: r.attempt, reason } })));
    await recordEvents(db, rows.map((r) => taskEvent(r, { reason })));
    // Attempts that were running end here (their workers are told to stop and report nothing).
    for (const r of rows) {
      await db
        .update(taskAttempts)
        .set({ outcome: "cancelled", finishedAt: sql`now()`, errorMessage: reason })
        .where(and(eq(taskAttempts.taskId, r.id), eq(taskAttempts.attempt, r.attempt), isNull(taskAttempts.outcome)));
    }
  }
  return rows;
}

/**
 * Job retry: failed and cancelled tasks go back to the queue with a new attempt and a fresh failure budget;
 * so do the `completed` tasks named (their outputs are gone). Tasks of the `except` types are left as they are.
 */
export async function requeueUnfinished(db: Exec, jobId: string, opts: { completed?: string[]; except?: TaskType[] } = {}): Promise<TaskRow[]> {
  const which = or(inArray(tasks.status, ["failed", "cancelled"]), opts.completed?.length ? and(eq(tasks.status, "completed"), inArray(tasks.id, opts.completed)) : undefined)!;
  const rows = await db
    .update(tasks)
    .set({ status: "queued", attempt: sql`${tasks.attempt} + 1`, failures: 0, publishedAt: null, notBefore: null, progress: 0, finishedAt: null, errorCode: null, errorMessage: null, updatedAt: sql`now()` })
    .where(and(eq(tasks.jobId, jobId), which, opts.except?.length ? notInArray(tasks.type, opts.except) : undefined))
    .returning();
  if (rows.length) {
    await db.insert(jobEvents).values(rows.map((r) => ({ jobId, taskId: r.id, toStatus: "task:queued", detail: { type: r.type, seq: r.seq, attempt: r.attempt, reason: "job retry" } })));
    await recordEvents(db, rows.map((r) => taskEvent(r, { reason: "job retry" })));
  }
  return rows;
}

/** Locks the job row for the rest of the transaction: serializes result handling per job across kernels. */
export async function lockJob(db: Exec, jobId: string): Promise<JobRow | undefined> {
  const [row] = await db.select().from(jobs).where(eq(jobs.id, jobId)).for("update");
  return row;
}

/** The public shape of a job state event (also the webhook payload's `data`). */
function jobEventData(row: JobRow, from: string | null, detail?: Record<string, unknown>): Record<string, unknown> {
  return {
    job_id: row.id,
    status: row.status,
    from_status: from,
    progress: row.progress,
    ...(row.errorCode ? { error: { code: row.errorCode, message: row.errorMessage } } : {}),
    ...(detail ? { detail } : {}),
  };
}

function taskEvent(row: TaskRow, detail?: Record<string, unknown>) {
  return {
    type: `task.${row.status}`,
    jobId: row.jobId,
    workerId: row.leaseWorkerId,
    data: { task_id: row.id, job_id: row.jobId, task_type: row.type, seq: row.seq, attempt: row.attempt, status: row.status, ...(detail ? { detail } : {}) },
  };
}
