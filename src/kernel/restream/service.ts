/**
 * The restream domain (issue 16, docs/restream.md): create, start, stop, delete. A running restream is one
 * `restream` task (pool live) in a job of its own, like a live session's transcode (live/live-task.ts): the
 * job carries `metadata.restream`, source_url `restream:<id>`, and ends completed when the input ended.
 * Stopping a restream cancels its job; the worker's task is cancelled through the job's cancel event.
 *
 * Exported for the live stream destinations (src/kernel/live/destinations*): `startRestream` with a
 * `live_session` input and origin "stream", and `stopRestream` (see docs/restream.md "For other modules").
 */
import { and, eq } from "drizzle-orm";
import { AppError, errorMessage } from "../../core/errors.ts";
import { LIVE_POOL } from "../../core/pools.ts";
import type { RestreamInputParams, RestreamParams } from "../../core/task-contracts.ts";
import { LIVE_MAX_ATTEMPTS } from "../../core/topology.ts";
import type { Db } from "../../db/client.ts";
import type { Exec } from "../../db/exec.ts";
import { jobEvents, jobs, outputs, tasks } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import { recordEvent } from "../events/record.ts";
import { liveSourceUrl } from "../live/internal-url.ts";
import { LIVE_TOKEN_TTL_MS, signLiveToken } from "../live/token.ts";
import { getStream, openSessionOf } from "../live/streams-store.ts";
import { cancelJob } from "../orchestrator/control.ts";
import type { AdvanceResult } from "../orchestrator/results.ts";
import { type JobRow, moveJob } from "../orchestrator/transitions.ts";
import { uploadStorage } from "../uploads/catalog.ts";
import type { RequestedInput, StoredDestination } from "./request.ts";
import { forgetRestreamMetrics } from "./restream-metrics.ts";
import { kickRestreams, restreamInternalBase } from "./runtime-base.ts";
import { ENDED_STATUSES, initialStatus, type RestreamStatus } from "./schedule.ts";
import { deleteRestreamRow, getRestream, insertRestream, lockRestream, type RestreamRow, updateRestream } from "./store.ts";
import { RESTREAM_TOKEN_TTL_MS, signRestreamToken } from "./token.ts";

/** The input as stored on the row: resolved once, at create. */
export type StoredInput =
  | { kind: "file"; source_url: string; storage: string; from: RequestedInput }
  | { kind: "live"; stream_id: string; session_id: string };

export interface StartRestreamOptions {
  name?: string | null;
  /** A live session (the stream destinations' case), or what POST /v1/restreams takes. */
  input: { live_session: { stream_id: string; session_id: string } } | RequestedInput;
  destinations: StoredDestination[];
  origin: "api" | "stream";
  loop?: boolean;
  startAt?: Date | null;
  stopAt?: Date | null;
  createdBy?: string;
}

export const restreamJobSource = (id: string) => `restream:${id}`;

/** Creates a restream; one without a future start_at is started at once (its task queued). */
export async function startRestream(ctx: KernelContext, options: StartRestreamOptions): Promise<RestreamRow> {
  const input = await resolveInput(ctx, options.input);
  const status = initialStatus(options.startAt ?? null, Date.now());
  const row = await insertRestream(ctx.db, {
    name: options.name ?? null,
    origin: options.origin,
    input,
    loop: options.loop ?? false,
    startAt: options.startAt ?? null,
    stopAt: options.stopAt ?? null,
    destinations: options.destinations as unknown as Record<string, unknown>[],
    status: "scheduled",
    inputDurationS: await inputDuration(ctx.db, input),
    createdBy: options.createdBy ?? options.origin,
  });
  if (status === "starting") return launchRestream(ctx, row.id);
  kickRestreams(ctx);
  return row;
}

/** Stops a restream (running: its job is cancelled; scheduled: it never starts). Ended ones are left as they are. */
export async function stopRestream(ctx: KernelContext, restreamId: string, why = "stopped"): Promise<RestreamRow> {
  const row = await getRestream(ctx.db, restreamId);
  if (ENDED_STATUSES.includes(row.status as RestreamStatus)) return row;
  if (row.jobId) {
    await cancelJob(ctx.orchestrator.deps, row.jobId).catch((error) => ctx.logger.debug({ restream_id: row.id, error: errorMessage(error) }, "restream job already ended"));
  }
  ctx.logger.info({ restream_id: row.id, why }, "restream stopped");
  forgetRestreamMetrics(ctx.metrics, row.id, (row.reports as Array<{ id: string }>).map((report) => report.id));
  return updateRestream(ctx.db, row.id, { status: "stopped", endedAt: new Date() });
}

/** POST /v1/restreams/:id/start: an ended (or still scheduled) restream starts now; a running one is a conflict. */
export async function startNow(ctx: KernelContext, restreamId: string): Promise<RestreamRow> {
  const row = await getRestream(ctx.db, restreamId);
  if (row.status !== "scheduled" && !ENDED_STATUSES.includes(row.status as RestreamStatus)) {
    throw new AppError("WE-STR-010", `restream ${row.id} is already running (${row.status})`, { status: row.status });
  }
  // A file that played to its end starts over; a stopped one continues where it stopped. A stop_at already
  // passed would stop it again at once: it is dropped.
  const patch = { ...(row.status === "completed" ? { positionS: 0 } : {}), ...(row.stopAt && row.stopAt.getTime() <= Date.now() ? { stopAt: null } : {}) };
  if (Object.keys(patch).length > 0) await updateRestream(ctx.db, row.id, patch);
  return launchRestream(ctx, row.id, { fromEnded: true, now: true });
}

/** DELETE /v1/restreams/:id: stops it when running, then removes it (its job stays in the job history). */
export async function deleteRestream(ctx: KernelContext, restreamId: string): Promise<void> {
  await stopRestream(ctx, restreamId, "deleted");
  await deleteRestreamRow(ctx.db, restreamId);
}

/**
 * Starts a restream: its job and task in one transaction with the row locked (so two kernels' ticks, or a tick
 * and a user, start it once), then the task is published. `fromEnded`: a restart of an ended restream; `now`: start sending at once, whatever start_at says (POST …/start).
 */
export async function launchRestream(ctx: KernelContext, restreamId: string, opts: { fromEnded?: boolean; now?: boolean } = {}): Promise<RestreamRow> {
  const storage = (await uploadStorage(ctx)).id;
  const base = restreamInternalBase(ctx);
  const row = await ctx.db.transaction(async (tx) => {
    const current = await lockRestream(tx, restreamId);
    const startable = current.status === "scheduled" || (opts.fromEnded === true && ENDED_STATUSES.includes(current.status as RestreamStatus));
    if (!startable) return current;
    const input = current.input as StoredInput;
    const params: RestreamParams = {
      restream_id: current.id,
      destinations_url: `${base}/internal/restreams/${current.id}/claim`,
      token: signRestreamToken(ctx.secrets, current.id, new Date(Date.now() + RESTREAM_TOKEN_TTL_MS)),
      input: taskInput(ctx, input, current.loop, base),
      // Queued ahead of its start (schedule.ts RESTREAM_START_LEAD_MS): the worker waits for it before sending.
      ...(!opts.now && current.startAt && current.startAt.getTime() > Date.now() ? { start_at_ms: current.startAt.getTime() } : {}),
      // The worker stops on time by itself, without waiting for the tick and the cancel to reach it.
      ...(current.stopAt ? { stop_at_ms: current.stopAt.getTime() } : {}),
    };
    const metadata = { restream: { id: current.id, name: current.name, origin: current.origin } };
    const [job] = await tx
      .insert(jobs)
      .values({ sourceUrl: restreamJobSource(current.id), profiles: [], outputs: [], options: { storage }, metadata, status: "processing", startedAt: new Date() })
      .returning({ id: jobs.id });
    await tx.insert(jobEvents).values({ jobId: job!.id, toStatus: "processing", detail: metadata });
    await recordEvent(tx, { type: "job.created", jobId: job!.id, data: { job_id: job!.id, status: "processing", ...metadata } });
    const [task] = await tx.insert(tasks).values({ jobId: job!.id, type: "restream", seq: 0, pool: LIVE_POOL, params, maxAttempts: LIVE_MAX_ATTEMPTS }).returning({ id: tasks.id });
    return updateRestream(tx, current.id, { status: "starting", jobId: job!.id, taskId: task!.id, startedAt: new Date(), endedAt: null, error: null, reports: [] });
  });
  ctx.orchestrator.deps.kick();
  kickRestreams(ctx);
  return row;
}

/** The task's view of the input: a file by its source reference, a live session by its internal source URL and token. */
function taskInput(ctx: KernelContext, input: StoredInput, loop: boolean, base: string): RestreamInputParams {
  if (input.kind === "file") return { kind: "file", source_url: input.source_url, storage: input.storage, loop };
  const token = signLiveToken(ctx.secrets, input.session_id, new Date(Date.now() + LIVE_TOKEN_TTL_MS));
  return { kind: "live", stream_id: input.stream_id, session_id: input.session_id, source_url: liveSourceUrl(base, input.session_id), token };
}

/** What the request names, resolved: a completed job's MP4 output, a stream's open session, a storage key or URL. */
async function resolveInput(ctx: KernelContext, input: StartRestreamOptions["input"]): Promise<StoredInput> {
  if ("live_session" in input) return { kind: "live", ...input.live_session };
  if ("live_stream_id" in input) {
    await getStream(ctx.db, input.live_stream_id);
    const session = await openSessionOf(ctx.db, input.live_stream_id);
    if (!session) throw new AppError("WE-STR-007", `stream ${input.live_stream_id} is not live: a restream of a live stream starts while it is live`);
    return { kind: "live", stream_id: input.live_stream_id, session_id: session.id };
  }
  const storage = (await uploadStorage(ctx)).id;
  if ("job_id" in input) {
    const [job] = await ctx.db.select({ status: jobs.status }).from(jobs).where(eq(jobs.id, input.job_id));
    if (!job) throw new AppError("WE-JOB-004", `job ${input.job_id} not found`);
    if (job.status !== "completed") throw new AppError("WE-JOB-010", `job ${input.job_id} is ${job.status}: only a completed job's output can be restreamed`, { status: job.status });
    const [mp4] = await ctx.db.select({ key: outputs.storageKey, storage: outputs.storagePlugin }).from(outputs).where(and(eq(outputs.jobId, input.job_id), eq(outputs.kind, "mp4"))).orderBy(outputs.createdAt);
    if (!mp4) throw new AppError("WE-STR-001", `input.job_id: job ${input.job_id} has no output to play`, { field: "input.job_id" });
    return { kind: "file", source_url: mp4.key, storage: mp4.storage, from: input };
  }
  if ("storage_key" in input) return { kind: "file", source_url: input.storage_key, storage, from: input };
  return { kind: "file", source_url: input.url, storage, from: input };
}

/** A job output's duration when the input is one (the worker probes other files itself). */
async function inputDuration(db: Db, input: StoredInput): Promise<number | null> {
  if (input.kind !== "file" || !("job_id" in input.from)) return null;
  const [row] = await db.select({ d: outputs.durationS }).from(outputs).where(eq(outputs.storageKey, input.source_url));
  return row?.d ?? null;
}

/**
 * The pipeline step after a restream task completed (advance.ts): its input ended (or the kernel no longer
 * ran it). The job goes processing → packaging → completed like a live session's; the tick moves the row.
 */
export async function afterRestream(db: Exec, job: JobRow): Promise<AdvanceResult> {
  await moveJob(db, job.id, "packaging", { from: ["processing"], detail: { restream: "input ended" } });
  const done = await moveJob(db, job.id, "completed", { from: ["packaging"], patch: { progress: 100, etaSeconds: 0 } });
  return done ? { ended: "completed" } : {};
}
