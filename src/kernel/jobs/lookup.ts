/**
 * Jobs as the `/v1/jobs` routes read and delete them (src/kernel/api/jobs.ts validates and authorizes; the SQL
 * is here). Submission is create.ts, cancel and retry the orchestrator's control.ts.
 */
import { and, desc, eq, gte, inArray, lte, sql } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import { JOB_STATUSES, jobs, outputs } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import { isJobTerminal } from "../orchestrator/states.ts";
import { outputView } from "./outputs.ts";

export { JOB_STATUSES };
export type JobRow = typeof jobs.$inferSelect;

export async function getJob(ctx: KernelContext, id: string): Promise<JobRow> {
  const [row] = await ctx.db.select().from(jobs).where(eq(jobs.id, id));
  if (!row) throw new AppError("WE-JOB-004", `job ${id} not found`);
  return row;
}

export interface JobFilter {
  statuses: string[];
  createdAfter?: Date;
  createdBefore?: Date;
  /** Jobs that name this profile (or ladder) among their profiles. */
  profile?: string;
  limit: number;
  offset: number;
}

/** Newest first. */
export async function listJobs(ctx: KernelContext, filter: JobFilter): Promise<JobRow[]> {
  const where = and(
    filter.statuses.length ? inArray(jobs.status, filter.statuses) : undefined,
    filter.createdAfter ? gte(jobs.createdAt, filter.createdAfter) : undefined,
    filter.createdBefore ? lte(jobs.createdAt, filter.createdBefore) : undefined,
    // jsonb containment: the profiles array holds this id (the id is a bound parameter, JSON-encoded).
    filter.profile ? sql`${jobs.profiles} @> ${JSON.stringify([filter.profile])}::jsonb` : undefined,
  );
  return ctx.db.select().from(jobs).where(where).orderBy(desc(jobs.createdAt), desc(jobs.id)).limit(filter.limit).offset(filter.offset);
}

/** The job's outputs with their download/playback URLs. */
export async function jobOutputs(ctx: KernelContext, id: string) {
  const job = await getJob(ctx, id);
  const rows = await ctx.db.select().from(outputs).where(eq(outputs.jobId, job.id));
  return Promise.all(rows.map((o) => outputView(ctx, o)));
}

/** Deletes a finished job: its files in storage first, then its rows (WE-JOB-010 while it is not finished). */
export async function deleteJob(ctx: KernelContext, id: string): Promise<void> {
  const job = await getJob(ctx, id);
  if (!isJobTerminal(job.status)) throw new AppError("WE-JOB-010", `job ${job.id} is ${job.status}; cancel it before deleting`, { status: job.status });
  const storageId = String((job.options as { storage?: string }).storage ?? "storage-fs");
  const storage = await ctx.plugins.route("storage", { id: storageId });
  await storage.call("delete_prefix", { prefix: `jobs/${job.id}/` });
  await ctx.db.delete(jobs).where(eq(jobs.id, job.id));
}
