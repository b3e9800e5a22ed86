/**
 * The `stream_destinations` rows: where a live stream is restreamed while it is live (issue 16,
 * docs/restream.md "Live stream destinations"). Routes stay thin (src/kernel/api/stream-destinations.ts); the
 * rules and the view are in destinations-rules.ts, starting and stopping the restream in destinations-restream.ts.
 * A destination is always looked up through its stream: another stream's destination is a 404.
 */
import { and, asc, count, desc, eq, inArray, sql } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import type { Exec } from "../../db/exec.ts";
import { restreams, streamDestinations } from "../../db/schema.ts";
import type { DestinationReportLike, StoredDestination } from "../restream/request.ts";
import { type DestinationValues, MAX_STREAM_DESTINATIONS, type StreamDestinationRow } from "./destinations-rules.ts";
import { getStream } from "./streams-store.ts";

export async function listDestinations(db: Exec, streamId: string): Promise<StreamDestinationRow[]> {
  await getStream(db, streamId);
  return db.select().from(streamDestinations).where(eq(streamDestinations.streamId, streamId)).orderBy(asc(streamDestinations.createdAt), asc(streamDestinations.id));
}

/** The enabled destinations, what a going-live stream is restreamed to. */
export async function enabledDestinations(db: Exec, streamId: string): Promise<StreamDestinationRow[]> {
  return db
    .select()
    .from(streamDestinations)
    .where(and(eq(streamDestinations.streamId, streamId), eq(streamDestinations.enabled, true)))
    .orderBy(asc(streamDestinations.createdAt), asc(streamDestinations.id));
}

export async function getDestination(db: Exec, streamId: string, destinationId: string): Promise<StreamDestinationRow> {
  await getStream(db, streamId);
  const [row] = await db.select().from(streamDestinations).where(and(eq(streamDestinations.id, destinationId), eq(streamDestinations.streamId, streamId)));
  if (!row) throw notFound(streamId, destinationId);
  return row;
}

export async function createDestination(db: Exec, streamId: string, values: Required<Pick<DestinationValues, "publisher" | "name" | "enabled">> & DestinationValues): Promise<StreamDestinationRow> {
  await getStream(db, streamId);
  const [existing] = await db.select({ n: count() }).from(streamDestinations).where(eq(streamDestinations.streamId, streamId));
  if ((existing?.n ?? 0) >= MAX_STREAM_DESTINATIONS)
    throw new AppError("WE-STR-005", `a stream takes at most ${MAX_STREAM_DESTINATIONS} destinations; delete one first`, { limit: MAX_STREAM_DESTINATIONS });
  const [row] = await db
    .insert(streamDestinations)
    .values({ ...values, streamId, url: values.url ?? null, keySealed: values.keySealed ?? null, transcode: values.transcode ?? null })
    .returning();
  return row!;
}

export async function updateDestination(db: Exec, streamId: string, destinationId: string, values: DestinationValues): Promise<StreamDestinationRow> {
  const [row] = await db
    .update(streamDestinations)
    .set({ ...values, updatedAt: new Date() })
    .where(and(eq(streamDestinations.id, destinationId), eq(streamDestinations.streamId, streamId)))
    .returning();
  if (!row) throw notFound(streamId, destinationId);
  return row;
}

export async function deleteDestination(db: Exec, streamId: string, destinationId: string): Promise<void> {
  await getStream(db, streamId);
  const [row] = await db
    .delete(streamDestinations)
    .where(and(eq(streamDestinations.id, destinationId), eq(streamDestinations.streamId, streamId)))
    .returning({ id: streamDestinations.id });
  if (!row) throw notFound(streamId, destinationId);
}

/**
 * The stream's running restream (started by destinations-restream.ts for its session: origin `stream`), with
 * its destinations and latest reports; undefined when none runs.
 */
export async function runningStreamRestream(db: Exec, streamId: string): Promise<{ id: string; destinations: StoredDestination[]; reports: DestinationReportLike[] } | undefined> {
  const [row] = await db
    .select({ id: restreams.id, destinations: restreams.destinations, reports: restreams.reports })
    .from(restreams)
    .where(and(eq(restreams.origin, "stream"), inArray(restreams.status, ["starting", "live", "stopping"]), sql`${restreams.input}->>'stream_id' = ${streamId}`))
    .orderBy(desc(restreams.createdAt))
    .limit(1);
  return row && { id: row.id, destinations: row.destinations as unknown as StoredDestination[], reports: row.reports as unknown as DestinationReportLike[] };
}

/** The running restreams of one session (normally one; none when the stream has no enabled destinations). */
export async function runningSessionRestreamIds(db: Exec, sessionId: string): Promise<string[]> {
  const rows = await db
    .select({ id: restreams.id })
    .from(restreams)
    .where(and(eq(restreams.origin, "stream"), inArray(restreams.status, ["scheduled", "starting", "live", "stopping"]), sql`${restreams.input}->>'session_id' = ${sessionId}`));
  return rows.map((row) => row.id);
}

function notFound(streamId: string, destinationId: string): AppError {
  return new AppError("WE-STR-002", `destination ${destinationId} not found on stream ${streamId}; GET /v1/streams/${streamId}/destinations lists them`, { destination_id: destinationId });
}
