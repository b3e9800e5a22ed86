/**
 * What storage keeps of a job after it ended. A completed job keeps its outputs under jobs/<id>/ and loses its
 * intermediate parts. A job that failed or was cancelled loses its outputs (never half-written) but keeps its
 * parts: a retry resumes from them (orchestrator/control.ts). They go when the job is deleted or when
 * FAILED_JOB_RETENTION has passed since it ended (sweepEndedJobParts, run with the kernel's other retentions).
 */
import { and, eq, inArray, lt, sql } from "drizzle-orm";
import { errorMessage, isAppError } from "../../core/errors.ts";
import type { ObjectInfo } from "../../plugin-runtime/pillars.ts";
import { jobEvents, jobs } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import type { TaskRow } from "../orchestrator/transitions.ts";
import { outputPrefix, partsPrefix } from "./advance.ts";

type Ctx = Pick<KernelContext, "db" | "plugins" | "logger">;

/** The timeline entry that says the retention removed a job's parts (job_events.to_status). */
export const PARTS_REMOVED = "storage:parts_removed";

function storageIdOf(options: unknown): string {
  return String((options as { storage?: string } | undefined)?.storage ?? "storage-fs");
}

async function jobStorage(ctx: Ctx, jobId: string) {
  const [job] = await ctx.db.select({ options: jobs.options }).from(jobs).where(eq(jobs.id, jobId));
  return ctx.plugins.route("storage", { id: storageIdOf(job?.options) });
}

export function createCleanup(ctx: Ctx) {
  return async function onJobEnded(jobId: string, status: string): Promise<void> {
    const storage = await jobStorage(ctx, jobId);
    if (status === "completed") {
      const { deleted } = await storage.call<{ deleted: number }>("delete_prefix", { prefix: partsPrefix(jobId) });
      if (deleted) ctx.logger.info({ job_id: jobId, deleted }, "removed the parts of a completed job from storage");
      return;
    }
    // Listed first, deleted after: deleting while paging through a listing could skip keys.
    const keys: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await storage.call<{ items: ObjectInfo[]; next_cursor?: string }>("list", { prefix: outputPrefix(jobId), ...(cursor ? { cursor } : {}) });
      keys.push(...page.items.map((o) => o.key).filter((k) => !k.startsWith(partsPrefix(jobId))));
      cursor = page.next_cursor;
    } while (cursor);
    for (const key of keys) await storage.call("delete", { key });
    if (keys.length) ctx.logger.info({ job_id: jobId, status, deleted: keys.length }, "removed the outputs of an unfinished job from storage; its parts are kept for a retry (FAILED_JOB_RETENTION)");
  };
}

/** The storage keys a finished video or audio task produced (its result). Pure. */
export function producedKeys(task: Pick<TaskRow, "type" | "result">): string[] {
  const r = (task.result ?? {}) as { parts?: Array<{ key?: unknown }>; key?: unknown };
  if (task.type === "video") return (r.parts ?? []).map((p) => p.key).filter((k): k is string => typeof k === "string");
  if (task.type === "audio") return typeof r.key === "string" ? [r.key] : [];
  return [];
}

/**
 * Which finished tasks' outputs storage no longer has (retention, an operator's clean-up, a lost disk): a
 * retry must run them again instead of assuming their files exist. Any other storage error is thrown: a retry
 * that cannot tell answers with the error rather than guessing.
 */
export function createLostOutputs(ctx: Ctx) {
  return async function lostOutputs(jobId: string, done: TaskRow[]): Promise<string[]> {
    const storage = await jobStorage(ctx, jobId);
    const lost: string[] = [];
    for (const task of done) {
      for (const key of producedKeys(task)) {
        const gone = await storage.call("stat", { key }).then(
          () => false,
          (e) => {
            if (isAppError(e) && e.code === "WE-STO-001") return true;
            throw e;
          },
        );
        if (gone) {
          lost.push(task.id);
          break;
        }
      }
    }
    if (lost.length) ctx.logger.info({ job_id: jobId, tasks: lost.length }, "retry: finished tasks whose outputs are gone run again");
    return lost;
  };
}

/**
 * Removes the parts of jobs that failed or were cancelled longer than `retentionMs` ago (at most `batch` per
 * call) and notes it in each job's timeline, so a job is swept once per ending. Returns the job ids swept.
 */
export async function sweepEndedJobParts(ctx: Ctx, retentionMs: number, batch = 100): Promise<string[]> {
  const due = await ctx.db
    .select({ id: jobs.id, options: jobs.options })
    .from(jobs)
    .where(
      and(
        inArray(jobs.status, ["failed", "cancelled"]),
        lt(jobs.finishedAt, sql`now() - ${`${retentionMs} milliseconds`}::interval`),
        sql`not exists (select 1 from ${jobEvents} e where e.job_id = ${jobs.id} and e.to_status = ${PARTS_REMOVED} and e.at >= ${jobs.finishedAt})`,
      ),
    )
    .limit(batch);
  const swept: string[] = [];
  for (const job of due) {
    const storage = await ctx.plugins.route("storage", { id: storageIdOf(job.options) });
    const { deleted } = await storage.call<{ deleted: number }>("delete_prefix", { prefix: partsPrefix(job.id) });
    await ctx.db.insert(jobEvents).values({ jobId: job.id, toStatus: PARTS_REMOVED, detail: { reason: "FAILED_JOB_RETENTION", deleted } });
    swept.push(job.id);
  }
  return swept;
}

/** The periodic FAILED_JOB_RETENTION sweep (kernel/retention.ts runs it with the other retentions); never throws. */
export async function runFailedJobRetention(ctx: Ctx & Pick<KernelContext, "config">): Promise<void> {
  try {
    const swept = await sweepEndedJobParts(ctx, ctx.config.FAILED_JOB_RETENTION);
    if (swept.length) ctx.logger.info({ jobs: swept.length, retention_ms: ctx.config.FAILED_JOB_RETENTION }, "parts of failed and cancelled jobs removed (FAILED_JOB_RETENTION)");
  } catch (error) {
    ctx.logger.warn({ error: errorMessage(error) }, "failed-job retention failed; retrying later");
  }
}
