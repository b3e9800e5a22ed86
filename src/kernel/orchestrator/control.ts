/**
 * User actions on jobs that move state: cancel and retry. Both are guarded transitions under the job lock;
 * the effects outside the database (stop running FFmpeg, publish requeued tasks, clean storage) happen after
 * the commit.
 */
import { eq } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import { tasks } from "../../db/schema.ts";
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

export async function cancelJob(d: OrchestratorDeps, jobId: string): Promise<JobRow> {
  const row = await d.db.transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    if (!job) throw new AppError("WE-JOB-004", `job ${jobId} not found`);
    const moved = await moveJob(tx, job.id, "cancelled", { detail: { by: "api" } });
    if (!moved) refuseTerminal(job, "cancel");
    await cancelOpenTasks(tx, job.id, "job cancelled");
    return moved;
  });
  await afterJobEnded(d, jobId, "cancelled");
  return row;
}

/**
 * Resumes a failed job: finished tasks are kept, failed and cancelled ones are queued again with a fresh
 * failure budget. The job goes back to where its remaining work starts.
 */
export async function retryJob(d: OrchestratorDeps, jobId: string): Promise<JobRow> {
  const row = await d.db.transaction(async (tx) => {
    const job = await lockJob(tx, jobId);
    if (!job) throw new AppError("WE-JOB-004", `job ${jobId} not found`);
    if (job.status !== "failed") {
      if (job.status === "cancelled" || job.status === "completed") refuseTerminal(job, "retry");
      throw new AppError("WE-JOB-001", `only a failed job can be retried; job ${job.id} is ${job.status}`, { status: job.status });
    }
    const all = await tx.select({ type: tasks.type, status: tasks.status }).from(tasks).where(eq(tasks.jobId, job.id));
    const moved = await moveJob(tx, job.id, resumeStatus(all), {
      from: ["failed"],
      patch: { errorCode: null, errorMessage: null, errorDetails: null },
      detail: { by: "api", action: "retry" },
    });
    if (!moved) refuseTerminal(job, "retry");
    await requeueUnfinished(tx, job.id);
    return moved;
  });
  d.kick();
  return row;
}
