/**
 * Job and task state machines (pure). The one place that says which moves exist; the guarded UPDATEs in
 * transitions.ts only ever perform moves listed here.
 *
 *   job:  queued → analyzing → processing → packaging → completed
 *         any non-terminal → failed | cancelled;  failed | cancelled → queued | processing | packaging (retry)
 *   task: queued → leased → completed
 *         leased → queued (retry, lease expired, handed back) | failed;  queued|leased → cancelled
 *         failed | cancelled → queued (job retry); completed → queued (job retry, when its output is gone)
 * Leaving a terminal state is only ever asked for explicitly (transitions.ts: `from`), by a user's retry.
 */
import type { JOB_STATUSES, TASK_STATUSES } from "../../db/schema.ts";

export type JobStatus = (typeof JOB_STATUSES)[number];
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const JOB_TERMINAL: readonly JobStatus[] = ["completed", "failed", "cancelled"];
export const TASK_TERMINAL: readonly TaskStatus[] = ["completed", "failed", "cancelled"];

export const JOB_MOVES: Record<JobStatus, readonly JobStatus[]> = {
  queued: ["analyzing", "failed", "cancelled"],
  analyzing: ["processing", "queued", "failed", "cancelled"],
  processing: ["packaging", "failed", "cancelled"],
  packaging: ["completed", "processing", "failed", "cancelled"],
  completed: [],
  failed: ["queued", "processing", "packaging"],
  cancelled: ["queued", "processing", "packaging"],
};

export const TASK_MOVES: Record<TaskStatus, readonly TaskStatus[]> = {
  queued: ["leased", "cancelled"],
  leased: ["completed", "queued", "failed", "cancelled"],
  completed: ["queued"],
  failed: ["queued"],
  cancelled: ["queued"],
};

export function canMoveJob(from: JobStatus, to: JobStatus): boolean {
  return JOB_MOVES[from].includes(to);
}

export function canMoveTask(from: TaskStatus, to: TaskStatus): boolean {
  return TASK_MOVES[from].includes(to);
}

export function isJobTerminal(state: string): boolean {
  return (JOB_TERMINAL as readonly string[]).includes(state);
}

/** Retry backoff after the n-th failure: min(5 s · 2^n, 5 min) (docs/architecture.md §5). */
export function retryDelayMs(failures: number): number {
  return Math.min(5000 * 2 ** failures, 300_000);
}
