/**
 * Runs one upload (a leased `publications` row) through its publisher's `upload_vod`: the plugin reads the
 * output itself — the storage object's local path when the storage has one on this host, else a read URL
 * valid for UPLOAD_URL_TTL_S — so media never crosses the control channel. Each progress notification is
 * persisted: the platform's session sealed with the kernel's secret key (it authorizes uploading, so it is
 * never logged or shown) and the bytes it confirmed; a later run — after an interruption the plugin could not
 * ride out, or on another kernel after this one died — hands the session back and the platform continues.
 */
import { eq } from "drizzle-orm";
import { AppError, errorMessage } from "../../core/errors.ts";
import { outputs } from "../../db/schema.ts";
import type { UploadSource, VodUploadProgress, VodUploadResult } from "../../plugin-runtime/pillars.ts";
import type { KernelContext } from "../context.ts";
import { keepCredentials } from "./credentials.ts";
import { type Outcome, PUBLISH_LEASE_MS, type PublicationRow, finishRun, recordProgress, renewLease } from "./publish-store.ts";

/** A read URL outlives any sane upload; a run that outlasts it fails retryably and the next one gets a new URL. */
export const UPLOAD_URL_TTL_S = 12 * 3600;
/** Runs of one upload before a transient failure becomes its final one. */
export const MAX_RUNS = 5;
/** The plugin call's own limit: the plugin bounds each request itself, this only catches a hung plugin. */
const UPLOAD_CALL_TIMEOUT_MS = 24 * 3600_000;

/** Which errors leave the upload to be resumed later: the platform or storage briefly unavailable, a plugin restarting. Pure. */
export function isTransient(code: string, details: Record<string, unknown> | undefined): boolean {
  if (code === "WE-PUB-003" || code === "WE-STO-004") return details?.retryable === true;
  // WE-PLG-004: the plugin crashed or exited mid-call (not cancelled by us, not an unknown method).
  return code === "WE-PLG-005" || code === "WE-SYS-004" || (code === "WE-PLG-004" && details?.cancelled !== true && details?.rpc_code === undefined);
}

/** The runs of this kernel, so that stopping it can hand them back (per context: tests run several kernels). */
const active = new WeakMap<KernelContext, Map<string, { abort: AbortController; done: Promise<void> }>>();

function runsOf(ctx: KernelContext) {
  let map = active.get(ctx);
  if (!map) active.set(ctx, (map = new Map()));
  return map;
}

/** Starts the run in the background (never throws; its outcome is in the row). */
export function launchPublication(ctx: KernelContext, row: PublicationRow): void {
  const runs = runsOf(ctx);
  if (runs.has(row.id)) return;
  const abort = new AbortController();
  const done = runPublication(ctx, row, abort.signal)
    .catch((error) => ctx.logger.error({ error: errorMessage(error), publication_id: row.id }, "publication run failed to record its outcome"))
    .finally(() => runs.delete(row.id));
  runs.set(row.id, { abort, done });
}

/** Aborts this kernel's runs and waits for them to release their leases (another kernel resumes them). */
export async function stopPublications(ctx: KernelContext): Promise<void> {
  const runs = [...runsOf(ctx).values()];
  for (const r of runs) r.abort.abort(new AppError("WE-SYS-004", "the kernel is stopping"));
  await Promise.all(runs.map((r) => r.done));
}

async function sourceOf(ctx: KernelContext, outputId: string): Promise<{ source: UploadSource; contentType: string }> {
  const [output] = await ctx.db.select().from(outputs).where(eq(outputs.id, outputId));
  if (!output) throw new AppError("WE-STO-001", `the output ${outputId} was deleted before it was uploaded`);
  const storage = await ctx.plugins.route("storage", { id: output.storagePlugin });
  const contentType = output.kind === "webm" ? "video/webm" : "video/mp4";
  const local = await storage.call<{ path: string | null }>("local_path", { key: output.storageKey });
  if (local.path) return { source: { path: local.path }, contentType };
  const { url } = await storage.call<{ url: string }>("read_url", { key: output.storageKey, expires_in: UPLOAD_URL_TTL_S });
  return { source: { url }, contentType };
}

async function runPublication(ctx: KernelContext, row: PublicationRow, signal: AbortSignal): Promise<void> {
  const owner = ctx.instanceId;
  const log = { publication_id: row.id, job_id: row.jobId, publisher: row.publisher };
  const lost = new AbortController();
  // Renewed while it runs; a lease lost to another kernel stops this run (that kernel resumes it).
  const renew = setInterval(() => {
    void renewLease(ctx.db, row.id, owner).then(
      (held) => held || lost.abort(new AppError("WE-SYS-004", "another kernel took the upload over")),
      (error) => ctx.logger.warn({ ...log, error: errorMessage(error) }, "could not renew the upload's lease"),
    );
  }, PUBLISH_LEASE_MS / 3);
  // Progress rows are written in order, one at a time; the sealed session only when it changes.
  let writes: Promise<unknown> = Promise.resolve();
  let session = row.sessionSealed ? ctx.secrets.decrypt(row.sessionSealed) : undefined;
  const onProgress = (data: unknown) => {
    const p = data as Partial<VodUploadProgress>;
    if (typeof p?.bytes_confirmed !== "number") return;
    const changed = typeof p.session === "string" && p.session !== session;
    if (changed) session = p.session;
    const progress = { bytesConfirmed: p.bytes_confirmed, ...(changed ? { sessionSealed: ctx.secrets.encrypt(p.session!) } : {}) };
    writes = writes.then(() => recordProgress(ctx.db, row.id, owner, progress)).catch((error) => ctx.logger.warn({ ...log, error: errorMessage(error) }, "could not record upload progress"));
  };
  let outcome: Outcome;
  try {
    ctx.logger.info({ ...log, run: row.runs, resuming: Boolean(session), bytes_confirmed: row.bytesConfirmed }, "publication upload started");
    const { source, contentType } = await sourceOf(ctx, row.outputId);
    const sup = ctx.plugins.get(row.publisher);
    if (!sup || sup.manifest?.pillar !== "publisher") throw new AppError("WE-PLG-001", `publisher ${row.publisher} not found; GET /v1/plugins lists the installed ones`);
    const params = { ...(row.account ? { account: row.account } : {}), source, size: row.bytesTotal, content_type: contentType, title: row.title, description: row.description, privacy: row.privacy, ...(session ? { session } : {}) };
    const raw = await sup.call<VodUploadResult>("upload_vod", params, { signal: AbortSignal.any([signal, lost.signal]), onProgress, timeoutMs: UPLOAD_CALL_TIMEOUT_MS });
    const result = await keepCredentials(ctx.pluginSettings, row.publisher, raw);
    outcome = { status: "completed", platformVideoId: result.video_id, url: result.url, bytes: result.bytes };
  } catch (error) {
    outcome = outcomeOf(row, error, signal.aborted || lost.signal.aborted);
  } finally {
    clearInterval(renew);
  }
  await writes;
  await finishRun(ctx.db, row.id, owner, outcome);
  const level = outcome.status === "failed" ? "warn" : "info";
  ctx.logger[level]({ ...log, outcome: outcome.status, ...("errorCode" in outcome ? { code: outcome.errorCode, error: outcome.errorMessage } : {}) }, `publication upload ${outcome.status}`);
}

/** What a failed run leaves: released (stopping), resumed later (transient, runs left) or failed. Pure. */
export function outcomeOf(row: Pick<PublicationRow, "runs">, error: unknown, stopped: boolean): Outcome {
  if (stopped) return { status: "released" };
  const code = error instanceof AppError ? error.code : "WE-SYS-001";
  const message = error instanceof AppError ? error.message : "internal error during the upload; the kernel log has the details";
  const details = error instanceof AppError ? error.details : undefined;
  if (isTransient(code, details) && row.runs < MAX_RUNS) return { status: "retry", errorCode: code, errorMessage: message, retryInMs: 15_000 * row.runs };
  return { status: "failed", errorCode: code, errorMessage: message };
}
