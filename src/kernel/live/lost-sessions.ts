/**
 * Sessions whose ingesting kernel is gone (distributed mode). A kernel that dies (SIGKILL, host lost) takes
 * its publisher and its session's in-memory state with it, but the session row stays open — and while it is
 * open the stream cannot go live anywhere else (one open session per stream). The ingesting kernel records
 * `stream.telemetry` for each of its sessions every 2 s, in the grace too; every other kernel therefore
 * looks, every few seconds, for open sessions of other kernels without telemetry for longer than the
 * reconnect grace plus three telemetry rounds, and ends them with reason `kernel_lost`: the row is closed
 * (only one kernel wins the update), `stream.ended` is recorded, and the session's live job is cancelled
 * (its transcode's source is gone). Players get `#EXT-X-ENDLIST` from delivery as soon as they ask (the
 * session is ended in the database). The publisher, reconnecting, reaches a live kernel and starts a new
 * session.
 *
 * A kernel that is alive but could not write its telemetry for that long (database unreachable) loses its
 * sessions the same way; its next tick sees the row closed and disconnects the publisher, which reconnects.
 */
import { and, eq, isNull, lt, ne, sql } from "drizzle-orm";
import type { Logger } from "pino";
import { startPeriodic } from "../../core/periodic.ts";
import { events, streamSessions, tasks } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import { recordEvent } from "../events/record.ts";
import { stopSessionRestreams } from "./destinations-restream.ts";
import { cancelJob } from "../orchestrator/control.ts";
import { closeSession, type StreamSessionRow } from "./streams-store.ts";

export const KERNEL_LOST_REASON = "kernel_lost";
/** Telemetry rounds a session may miss beyond the reconnect grace before its kernel counts as gone. */
const MISSED_ROUNDS = 3;

/** How long a session may go without telemetry before it is ended as lost (pure). */
export function lostAfterMs(reconnectGraceMs: number, telemetryIntervalMs: number): number {
  return reconnectGraceMs + MISSED_ROUNDS * telemetryIntervalMs;
}

/** Open sessions of other kernels, older than `lostAfterMs`, with no `stream.telemetry` for that long. */
export async function findLostSessions(ctx: Pick<KernelContext, "db">, ownKernelId: string, lostAfter: number): Promise<StreamSessionRow[]> {
  const cutoff = sql`now() - make_interval(secs => ${lostAfter / 1000})`;
  return ctx.db
    .select()
    .from(streamSessions)
    .where(
      and(
        isNull(streamSessions.endedAt),
        ne(streamSessions.kernelId, ownKernelId),
        lt(streamSessions.startedAt, cutoff),
        // events_created_idx keeps this to the last few seconds of events.
        sql`not exists (select 1 from ${events} where ${events.createdAt} > ${cutoff} and ${events.type} = 'stream.telemetry'
          and ${events.streamId} = ${streamSessions.streamId}::text and ${events.data}->>'session_id' = ${streamSessions.id}::text)`,
      ),
    )
    .limit(100);
}

/** Ends every lost session this kernel wins the close of; answers their ids. */
export async function endLostSessions(ctx: KernelContext, logger: Logger, lostAfter: number): Promise<string[]> {
  const ended: string[] = [];
  for (const session of await findLostSessions(ctx, ctx.instanceId, lostAfter)) {
    const row = await closeSession(ctx.db, session.id, KERNEL_LOST_REASON, session.bytesIn);
    if (!row) continue; // another kernel (or the owner, back in time) closed it first
    ended.push(row.id);
    const [task] = row.liveTaskId ? await ctx.db.select({ jobId: tasks.jobId }).from(tasks).where(eq(tasks.id, row.liveTaskId)) : [];
    const jobId = task?.jobId ?? null;
    logger.warn({ stream_id: row.streamId, session_id: row.id, kernel_id: row.kernelId, job_id: jobId }, "live session ended: its ingesting kernel stopped reporting (kernel_lost)");
    const endedAt = row.endedAt ?? new Date();
    const durationS = Math.round((endedAt.getTime() - row.startedAt.getTime()) / 100) / 10;
    await recordEvent(ctx.db, {
      type: "stream.ended",
      streamId: row.streamId,
      data: { stream_id: row.streamId, session_id: row.id, reason: KERNEL_LOST_REASON, duration_seconds: durationS, bytes_in: row.bytesIn, job_id: jobId, kernel_id: row.kernelId },
    }).catch((error) => logger.warn({ err: error }, "stream.ended not recorded"));
    if (jobId) await cancelJob(ctx.orchestrator.deps, jobId).catch(() => undefined); // already ended: nothing to do
    // Its restream to the stream's destinations (destinations-restream.ts) has nobody else to stop it.
    await stopSessionRestreams(ctx, row.id).catch((error) => logger.warn({ err: error, session_id: row.id }, "the lost session's restream could not be stopped"));
  }
  return ended;
}

/** Runs endLostSessions every `intervalMs`, one round at a time (src/core/periodic.ts); the answer stops it. */
export function watchLostSessions(ctx: KernelContext, logger: Logger, lostAfter: number, intervalMs: number): () => Promise<void> {
  return startPeriodic(() => endLostSessions(ctx, logger, lostAfter).catch((error) => logger.warn({ err: error }, "live: looking for sessions of lost kernels failed")), intervalMs);
}
