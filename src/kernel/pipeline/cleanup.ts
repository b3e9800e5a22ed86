/**
 * Storage clean-up when a job ends: intermediate parts always go; a job that failed or was cancelled keeps
 * nothing (no half-written outputs), a completed one keeps its outputs under jobs/<id>/.
 */
import { eq } from "drizzle-orm";
import { jobs } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import { outputPrefix, partsPrefix } from "./advance.ts";

export function createCleanup(ctx: Pick<KernelContext, "db" | "plugins" | "logger">) {
  return async function onJobEnded(jobId: string, status: string): Promise<void> {
    const [job] = await ctx.db.select({ options: jobs.options }).from(jobs).where(eq(jobs.id, jobId));
    const id = String((job?.options as { storage?: string } | undefined)?.storage ?? "storage-fs");
    const storage = await ctx.plugins.route("storage", { id });
    const prefix = status === "completed" ? partsPrefix(jobId) : outputPrefix(jobId);
    const { deleted } = await storage.call<{ deleted: number }>("delete_prefix", { prefix });
    if (deleted) ctx.logger.info({ job_id: jobId, prefix, deleted }, "removed job files from storage");
  };
}
