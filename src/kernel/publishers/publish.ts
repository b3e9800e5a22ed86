/**
 * Publishing a completed job's output to a platform (`POST /v1/jobs/:id/publish`, docs/publishers.md): checks
 * what can be checked at once (job completed, publisher installed, enabled and able to upload, the output a
 * video file), records the publication and starts the upload in this kernel; the answer is 202 with the
 * record, and `GET /v1/jobs/:id/publications` shows how it goes. The platform's session never appears in a
 * view (publish-run.ts keeps it sealed).
 */
import { eq } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import { outputs } from "../../db/schema.ts";
import type { Principal } from "../auth/principal.ts";
import type { KernelContext } from "../context.ts";
import { getJob } from "../jobs/lookup.ts";
import { chooseOutput } from "./publish-output.ts";
import { launchPublication } from "./publish-run.ts";
import { type PublicationRow, insertPublication, listPublications } from "./publish-store.ts";

export interface PublishRequest {
  publisher: string;
  account?: string;
  /** An output id, a profile name, or an index among the job's video files (publish-output.ts). */
  output?: string | number;
  title: string;
  description?: string;
  privacy?: "private" | "unlisted" | "public";
}

/** The publisher must be installed, a publisher, able to upload (capability `upload`) and enabled. */
function uploadingPublisher(ctx: KernelContext, id: string): void {
  const sup = ctx.plugins.get(id);
  if (!sup || sup.manifest?.pillar !== "publisher") throw new AppError("WE-PLG-001", `publisher ${id} not found; GET /v1/plugins lists the installed ones`);
  if (!sup.manifest.capabilities.includes("upload")) {
    throw new AppError("WE-PUB-005", `${id} does not upload files (it only sends live streams); publish a job's output with a publisher that has the upload capability, such as publisher-youtube`);
  }
  if (sup.state === "disabled") throw new AppError("WE-PLG-002", `plugin ${id} is disabled; POST /v1/plugins/${id}/enable after configuring it`);
}

/** The file's size as storage has it (the platform is told up front); a file gone from storage is refused now, not mid-upload. */
async function storedSize(ctx: KernelContext, output: typeof outputs.$inferSelect): Promise<number> {
  const storage = await ctx.plugins.route("storage", { id: output.storagePlugin });
  try {
    return (await storage.call<{ size: number }>("stat", { key: output.storageKey })).size;
  } catch (error) {
    if (error instanceof AppError && error.code === "WE-STO-001") throw new AppError("WE-STO-001", `the output ${output.profile ?? output.id} (${output.storageKey}) is no longer in storage ${output.storagePlugin}; was it deleted?`);
    throw error;
  }
}

export async function publishJobOutput(ctx: KernelContext, jobId: string, request: PublishRequest, principal: Principal | undefined) {
  const job = await getJob(ctx, jobId);
  if (job.status !== "completed") {
    throw new AppError("WE-PUB-004", `job ${job.id} is ${job.status}; only a completed job's outputs can be published`, { status: job.status });
  }
  uploadingPublisher(ctx, request.publisher);
  const output = chooseOutput(job.id, await ctx.db.select().from(outputs).where(eq(outputs.jobId, job.id)), request.output);
  const size = await storedSize(ctx, output);
  const row = await insertPublication(
    ctx.db,
    {
      jobId: job.id,
      outputId: output.id,
      publisher: request.publisher,
      account: request.account ?? null,
      title: request.title,
      description: request.description ?? "",
      privacy: request.privacy ?? "private",
      bytesTotal: size,
      createdBy: principal?.id ?? "anonymous",
    },
    ctx.instanceId,
  );
  launchPublication(ctx, row);
  return publicationView(row);
}

export async function jobPublications(ctx: KernelContext, jobId: string, limit: number, offset: number) {
  const job = await getJob(ctx, jobId);
  return (await listPublications(ctx.db, job.id, limit, offset)).map(publicationView);
}

/** The API's view: never the session or the lease. While `uploading`, `error` is the last transient one (being retried). Pure. */
export function publicationView(row: PublicationRow) {
  return {
    id: row.id,
    job_id: row.jobId,
    output_id: row.outputId,
    publisher: row.publisher,
    account: row.account,
    title: row.title,
    description: row.description,
    privacy: row.privacy,
    status: row.status,
    bytes_total: row.bytesTotal,
    bytes_confirmed: row.bytesConfirmed,
    platform_video_id: row.platformVideoId,
    url: row.url,
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage ?? "" } : null,
    runs: row.runs,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    finished_at: row.finishedAt?.toISOString() ?? null,
  };
}
