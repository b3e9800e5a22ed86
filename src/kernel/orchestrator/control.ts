/**
 * User actions on jobs that move state: cancel and retry. Both are guarded transitions under the job lock;
 * the effects outside the database (stop running FFmpeg, publish requeued tasks, clean storage) happen after
 * the commit.
 */
import { and, eq, inArray } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import { jobs, tasks } from "../../db/schema.ts";
import { afterJobEnded, type OrchestratorDeps } from "./results.ts";
import { cancelOpenTasks, type JobRow, lockJob, moveJob, requeueUnfinished } from "./transitions.ts";

/** Where a failed job resumes: the first stage that still has unfinished work. Pure. */
export function resumeStatus(all: Array<{ type: string; status: string }>): "queued" | "processing" | "packaging" {
  const done = (type: string) => all.some((t) => t.type === type) && all.filter((t) => t.type === type).every((t) => t.status === "completed");
  if (!done("analyze")) return "queued";
  const media = all.filter((t) => t.type === "video" || t.type === "audio");
  if (media.length && media.every((t) => t.status === "completed") && all.some((t) => t.type === "package")) return "packaging";
  return "processing";
}

function refuseTerminal(job: JobRow, action: string): never {
  if (job.status === "cancelled") throw new AppError("WE-JOB-005", `job ${job.id} is already cancelled`);
  if (job.status === "completed") throw new AppError("WE-JOB-006", `job ${job.id} is already completed`);
  throw new AppError("WE-JOB-006", `job ${job.id} already ended (${job.status}); ${action} is not possible`, { status: job.status });
}

export async function cancelJob(deps: OrchestratorDeps, jobId: string): Promise<JobRow> {
  const row = await deps.db.transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    if (!job) throw new AppError("WE-JOB-004", `job ${jobId} not found`);
    const moved = await moveJob(tx, job.id, "cancelled", { detail: { by: "api" } });
    if (!moved) refuseTerminal(job, "cancel");
    await cancelOpenTasks(tx, job.id, "job cancelled");
    return moved;
  });
  await afterJobEnded(deps, jobId, "cancelled");
  return row;
}

/**
 * Resumes a failed or cancelled job: finished tasks are kept, failed and cancelled ones are queued again with a
 * fresh failure budget, and finished media tasks whose outputs are gone from storage (FAILED_JOB_RETENTION, an
 * operator's clean-up) are run again rather than assumed present. The job goes back to where its remaining
 * work starts; when media is re-run, packaging waits for it (advance.ts requeues the package task then).
 */
export async function retryJob(deps: OrchestratorDeps, jobId: string): Promise<JobRow> {
  // Storage is asked before the transaction (plugin calls do not belong under a row lock); a part removed in
  // between makes packaging fail again, retryably, and the next retry re-runs its task.
  const lost = await lostMediaOutputs(deps, jobId);
  const row = await deps.db.transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    if (!job) throw new AppError("WE-JOB-004", `job ${jobId} not found`);
    if (!RETRYABLE.includes(job.status)) {
      if (job.status === "completed") refuseTerminal(job, "retry");
      throw new AppError("WE-JOB-001", `only a failed or cancelled job can be retried; job ${job.id} is ${job.status}`, { status: job.status });
    }
    const all = await tx.select({ id: tasks.id, type: tasks.type, status: tasks.status }).from(tasks).where(eq(tasks.jobId, job.id));
    const after = all.map((t) => (lost.includes(t.id) || t.status === "failed" || t.status === "cancelled" ? { ...t, status: "queued" } : t));
    const rerunMedia = after.some((t) => (t.type === "video" || t.type === "audio") && t.status !== "completed");
    const moved = await moveJob(tx, job.id, resumeStatus(after), {
      from: [job.status as "failed" | "cancelled"],
      patch: { errorCode: null, errorMessage: null, errorDetails: null, etaSeconds: null },
      // progress: where this run starts, for the ETA (events/progress.ts workStart).
      detail: { by: "api", action: "retry", progress: job.progress, ...(lost.length ? { rerun_lost_outputs: lost.length } : {}) },
    });
    if (!moved) refuseTerminal(job, "retry");
    await requeueUnfinished(tx, job.id, { completed: lost, except: rerunMedia ? ["package"] : [] });
    return moved;
  });
  deps.kick();
  return row;
}

const RETRYABLE: readonly string[] = ["failed", "cancelled"];

/** Ids of the job's finished video/audio tasks whose outputs storage no longer has (none when it cannot tell). */
async function lostMediaOutputs(deps: OrchestratorDeps, jobId: string): Promise<string[]> {
  if (!deps.lostOutputs) return [];
  const [job] = await deps.db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, jobId));
  if (!job || !RETRYABLE.includes(job.status)) return [];
  const done = await deps.db.select().from(tasks).where(and(eq(tasks.jobId, jobId), eq(tasks.status, "completed"), inArray(tasks.type, ["video", "audio"])));
  return done.length ? deps.lostOutputs(jobId, done) : [];
}
