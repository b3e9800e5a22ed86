/**
 * A job as the dashboard shows it, updated from Server-Sent Events without reloading; and the task strip
 * (which task ran on which worker, retries marked). Pure: no DOM (unit-tested).
 */

export interface JobSummary {
  id: string;
  status: string;
  progress: number;
  eta_seconds: number | null;
  profiles: string[];
  outputs: string[];
  created_at: string;
  error: { code: string; message: string } | null;
  [other: string]: unknown;
}

export interface PlatformEvent {
  id: number | null;
  type: string;
  job_id: string | null;
  worker_id: string | null;
  data: Record<string, unknown>;
  created_at: string;
}

export const FINISHED = new Set(["completed", "failed", "cancelled"]);

/** The job after one event of it (other jobs' events and unknown types leave it as it was). */
export function applyEvent<J extends JobSummary>(job: J, event: PlatformEvent): J {
  if (event.job_id !== job.id) return job;
  const data = event.data;
  if (event.type === "job.progress") {
    // A late progress event must not move a finished job back.
    if (FINISHED.has(job.status)) return job;
    return { ...job, progress: numberOr(data.progress, job.progress), eta_seconds: typeof data.eta_seconds === "number" ? data.eta_seconds : null };
  }
  if (event.type.startsWith("job.") && typeof data.status === "string") {
    const error = data.error && typeof data.error === "object" ? (data.error as JobSummary["error"]) : job.error;
    const progress = data.status === "completed" ? 100 : numberOr(data.progress, job.progress);
    return { ...job, status: data.status, progress, eta_seconds: FINISHED.has(data.status) ? null : job.eta_seconds, error };
  }
  return job;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

/** Applies an event to whichever job of a list it concerns. */
export function applyToList<J extends JobSummary>(jobs: J[], event: PlatformEvent): J[] {
  return jobs.some((j) => j.id === event.job_id) ? jobs.map((j) => applyEvent(j, event)) : jobs;
}

export interface Attempt {
  attempt: number;
  worker_id: string | null;
  outcome: string | null;
  error_code: string | null;
  error_message: string | null;
  stderr_tail: string | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface Task {
  id: string;
  type: string;
  seq: number;
  status: string;
  attempt: number;
  attempts: Attempt[];
  started_at: string | null;
  finished_at: string | null;
}

export interface Bar {
  label: string;
  task_id: string;
  /** Start and width as fractions (0–1) of the job's span. */
  left: number;
  width: number;
  outcome: string;
  /** A later attempt of the same task (a retry). */
  retry: boolean;
}

/** One lane per worker: each attempt of each task as a bar over the job's time span. */
export function taskLanes(tasks: Task[], now: number): Array<{ worker: string; bars: Bar[] }> {
  const spans = tasks.flatMap((task) =>
    task.attempts.filter((a) => a.started_at).map((a) => ({ task, a, start: Date.parse(a.started_at!), end: a.finished_at ? Date.parse(a.finished_at) : now })),
  );
  if (spans.length === 0) return [];
  const first = Math.min(...spans.map((s) => s.start));
  const total = Math.max(1, Math.max(...spans.map((s) => s.end)) - first);
  const lanes = new Map<string, Bar[]>();
  for (const { task, a, start, end } of spans.sort((x, y) => x.start - y.start)) {
    const worker = a.worker_id ?? "unassigned";
    const bar: Bar = {
      label: `${task.type} #${task.seq}${a.attempt > 1 ? ` (attempt ${a.attempt})` : ""}`,
      task_id: task.id,
      left: (start - first) / total,
      width: Math.max(0.005, (end - start) / total),
      outcome: a.outcome ?? "running",
      retry: a.attempt > 1,
    };
    lanes.set(worker, [...(lanes.get(worker) ?? []), bar]);
  }
  return [...lanes.entries()].sort(([x], [y]) => x.localeCompare(y)).map(([worker, bars]) => ({ worker, bars }));
}

/** Failed attempts with what the worker reported, newest first. */
export function failures(tasks: Task[]): Array<{ task: Task; attempt: Attempt }> {
  return tasks
    .flatMap((task) => task.attempts.filter((a) => a.error_code || a.error_message).map((attempt) => ({ task, attempt })))
    .sort((x, y) => (y.attempt.finished_at ?? "").localeCompare(x.attempt.finished_at ?? ""));
}
