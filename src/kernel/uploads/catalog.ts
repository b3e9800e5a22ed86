/**
 * Uploaded sources (POST /v1/files): where they live, which jobs use them, listing, deletion and the
 * UPLOAD_RETENTION sweep. An upload is an object under `uploads/` in the default storage; a job uses it when
 * its source_url is that key. Nothing else records uploads: the storage listing is the truth, so an upload
 * written by any kernel (or copied in by an operator) is seen by all of them.
 */
import { and, inArray, notInArray } from "drizzle-orm";
import { AppError, errorMessage, isAppError } from "../../core/errors.ts";
import type { ObjectInfo } from "../../plugin-runtime/pillars.ts";
import type { PluginSupervisor as PluginClient } from "../../plugin-runtime/host/supervisor.ts";
import { jobs } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import { JOB_TERMINAL } from "../orchestrator/states.ts";

export const UPLOAD_PREFIX = "uploads/";

type Ctx = Pick<KernelContext, "db" | "plugins">;

/** The storage uploads go to and key sources are read from: storage-fs when enabled, else the default storage. */
export function uploadStorage(ctx: Pick<KernelContext, "plugins">): Promise<PluginClient> {
  return ctx.plugins.route("storage", { scheme: "fs" }).catch(() => ctx.plugins.route("storage"));
}

export interface JobRef {
  id: string;
  status: string;
}

export interface UploadView {
  key: string;
  filename: string;
  size_bytes: number;
  created_at: string;
  /** Jobs whose source_url is this key (any status). */
  jobs: JobRef[];
  referenced: boolean;
}

/** Every object under uploads/, newest first (the storage lists in key order, which is random here). */
export async function listUploads(storage: PluginClient): Promise<ObjectInfo[]> {
  const all: ObjectInfo[] = [];
  let cursor: string | undefined;
  do {
    const page = await storage.call<{ items: ObjectInfo[]; next_cursor?: string }>("list", { prefix: UPLOAD_PREFIX, limit: 1000, ...(cursor ? { cursor } : {}) });
    all.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return all.sort((a, b) => b.modified.localeCompare(a.modified) || a.key.localeCompare(b.key));
}

/** Jobs that use these keys as their source, by key. `activeOnly`: only jobs not finished yet. */
export async function jobsUsing(ctx: Pick<KernelContext, "db">, keys: string[], activeOnly = false): Promise<Map<string, JobRef[]>> {
  const refs = new Map<string, JobRef[]>();
  if (!keys.length) return refs;
  const rows = await ctx.db
    .select({ id: jobs.id, status: jobs.status, sourceUrl: jobs.sourceUrl })
    .from(jobs)
    .where(and(inArray(jobs.sourceUrl, keys), activeOnly ? notInArray(jobs.status, [...JOB_TERMINAL]) : undefined));
  for (const r of rows) refs.set(r.sourceUrl, [...(refs.get(r.sourceUrl) ?? []), { id: r.id, status: r.status }]);
  return refs;
}

export function uploadView(info: ObjectInfo, refs: JobRef[] = []): UploadView {
  return { key: info.key, filename: info.key.split("/").pop() ?? info.key, size_bytes: info.size, created_at: info.modified, jobs: refs, referenced: refs.length > 0 };
}

/** The key from the route's wildcard: given as is (slashes) or percent-encoded (%2F); malformed escapes are a 400. */
export function keyFromPath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new AppError("WE-REQ-001", "the key in the path has a malformed %-escape");
  }
}

/** Keys under uploads/ only: job parts and outputs are removed with their job, never through /v1/files. */
export function checkUploadKey(key: string): void {
  if (!key.startsWith(UPLOAD_PREFIX) || key.split("/").some((s) => s === "" || s === "." || s === ".."))
    throw new AppError("WE-REQ-001", `${JSON.stringify(key.slice(0, 200))} is not an upload key (uploads/<id>/<name>, as POST /v1/files returned); job outputs are deleted with DELETE /v1/jobs/:id`);
}

/**
 * Deletes one upload. Refused (409 WE-JOB-010) while an unfinished job reads it: deleting it would fail that
 * job at its next read. Finished jobs do not hold it (a retry of a failed job that still needs the source
 * then fails with a clear WE-STO-001).
 */
export async function deleteUpload(ctx: Ctx, key: string): Promise<void> {
  checkUploadKey(key);
  const storage = await uploadStorage(ctx);
  await storage.call("stat", { key }); // WE-STO-001 (404) when absent
  const active = (await jobsUsing(ctx, [key], true)).get(key) ?? [];
  if (active.length)
    throw new AppError("WE-JOB-010", `upload ${key} is the source of unfinished job(s) ${active.map((j) => j.id).join(", ")}; wait for them to finish or cancel them first`, { jobs: active });
  await storage.call("delete", { key });
}

/** Uploads older than the cutoff that no job uses (pure). */
export function expiredUploads(items: ObjectInfo[], used: ReadonlySet<string>, cutoff: Date): ObjectInfo[] {
  return items.filter((o) => !used.has(o.key) && new Date(o.modified).getTime() < cutoff.getTime());
}

/**
 * UPLOAD_RETENTION: removes uploads no job uses once they are older than `retentionMs` (0 keeps them forever).
 * Idempotent, so every kernel may run it; two kernels deleting the same object is harmless.
 */
export async function sweepUploads(ctx: Ctx, retentionMs: number, now = new Date()): Promise<string[]> {
  if (retentionMs <= 0) return [];
  const storage = await uploadStorage(ctx);
  const old = (await listUploads(storage)).filter((o) => new Date(o.modified).getTime() < now.getTime() - retentionMs);
  if (!old.length) return [];
  const used = new Set<string>();
  for (let i = 0; i < old.length; i += 500) for (const k of (await jobsUsing(ctx, old.slice(i, i + 500).map((o) => o.key))).keys()) used.add(k);
  const deleted: string[] = [];
  for (const o of expiredUploads(old, used, new Date(now.getTime() - retentionMs))) {
    // Re-checked per object: a job may have been submitted with this key since the batch was read.
    if ((await jobsUsing(ctx, [o.key])).size) continue;
    await storage.call("delete", { key: o.key });
    deleted.push(o.key);
  }
  return deleted;
}

/** The retention loop's step (kernel/retention.ts): never throws, logs what it removed or why it could not. */
export async function runUploadRetention(ctx: Ctx & Pick<KernelContext, "config" | "logger">): Promise<void> {
  try {
    const deleted = await sweepUploads(ctx, ctx.config.UPLOAD_RETENTION);
    if (deleted.length) ctx.logger.info({ deleted: deleted.length, retention_ms: ctx.config.UPLOAD_RETENTION }, "unused uploads deleted (UPLOAD_RETENTION)");
  } catch (error) {
    ctx.logger.warn({ error: errorMessage(error) }, "upload retention failed; retrying later");
  }
}

/**
 * A key source_url must name an existing object, or the job would only fail later in analyze. WE-JOB-002
 * (400) with what to do instead.
 */
export async function checkSourceKey(storage: PluginClient, key: string): Promise<void> {
  try {
    await storage.call("stat", { key });
  } catch (e) {
    if (isAppError(e) && e.code === "WE-STO-001")
      throw new AppError("WE-JOB-002", `source_url ${JSON.stringify(key.slice(0, 200))} was not found in storage ${storage.id}: upload the file first (POST /v1/files, multipart field "file") and use the key it returns, or give an http(s):// or s3:// URL`, { source_url: key.slice(0, 500), storage: storage.id });
    throw e;
  }
}
