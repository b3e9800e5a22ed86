/**
 * The `streams` and `stream_sessions` rows: what the /v1/streams routes and the session manager read and write.
 * Routes stay thin (no SQL in src/kernel/api/); every miss is a catalogue error here.
 */
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import type { Exec } from "../../db/exec.ts";
import { streamSessions, streams } from "../../db/schema.ts";
import { generateStreamKey, hashStreamKey, streamKeyPrefix } from "./stream-keys.ts";

export type StreamRow = typeof streams.$inferSelect;
export type StreamSessionRow = typeof streamSessions.$inferSelect;
export type StreamSettings = Pick<typeof streams.$inferInsert, "name" | "archive" | "archiveProfiles" | "ladder" | "segmentSeconds" | "playback">;

export async function listStreams(db: Exec, limit: number, offset: number): Promise<StreamRow[]> {
  return db.select().from(streams).orderBy(desc(streams.createdAt), desc(streams.id)).limit(limit).offset(offset);
}

export async function getStream(db: Exec, id: string): Promise<StreamRow> {
  const [row] = await db.select().from(streams).where(eq(streams.id, id));
  if (!row) throw new AppError("WE-STR-002", `stream ${id} not found`);
  return row;
}

/** A new stream and its key (the key is in the result and nowhere else). */
export async function createStream(db: Exec, settings: Required<StreamSettings>, createdBy: string): Promise<{ row: StreamRow; key: string }> {
  const key = generateStreamKey();
  const [row] = await db.insert(streams).values({ ...settings, createdBy, keyHash: hashStreamKey(key), keyPrefix: streamKeyPrefix(key) }).returning();
  return { row: row!, key };
}

export async function updateStream(db: Exec, id: string, patch: Partial<StreamSettings>): Promise<StreamRow> {
  const [row] = await db.update(streams).set({ ...patch, updatedAt: new Date() }).where(eq(streams.id, id)).returning();
  if (!row) throw new AppError("WE-STR-002", `stream ${id} not found`);
  return row;
}

/** A new key; the old one stops working at once (a live publisher with it is kicked by the caller). */
export async function rotateStreamKey(db: Exec, id: string): Promise<{ row: StreamRow; key: string }> {
  const key = generateStreamKey();
  const [row] = await db.update(streams).set({ keyHash: hashStreamKey(key), keyPrefix: streamKeyPrefix(key), updatedAt: new Date() }).where(eq(streams.id, id)).returning();
  if (!row) throw new AppError("WE-STR-002", `stream ${id} not found`);
  return { row, key };
}

/** A live stream is not deleted (stop it first): its session, task and recording would be orphaned. */
export async function deleteStream(db: Exec, id: string): Promise<void> {
  const [row] = await db.delete(streams).where(and(eq(streams.id, id), eq(streams.isLive, false))).returning({ id: streams.id });
  if (row) return;
  const existing = await getStream(db, id);
  throw new AppError("WE-STR-003", `stream ${id} is live; stop it first (POST /v1/streams/${id}/stop), then delete it`, { is_live: existing.isLive });
}

export async function streamByKey(db: Exec, key: string): Promise<StreamRow | undefined> {
  const [row] = await db.select().from(streams).where(eq(streams.keyHash, hashStreamKey(key)));
  return row;
}

export async function listSessions(db: Exec, streamId: string, limit: number, offset: number): Promise<StreamSessionRow[]> {
  await getStream(db, streamId);
  return db.select().from(streamSessions).where(eq(streamSessions.streamId, streamId)).orderBy(desc(streamSessions.startedAt), desc(streamSessions.id)).limit(limit).offset(offset);
}

export async function openSessionOf(db: Exec, streamId: string): Promise<StreamSessionRow | undefined> {
  const [row] = await db.select().from(streamSessions).where(and(eq(streamSessions.streamId, streamId), isNull(streamSessions.endedAt)));
  return row;
}

/**
 * Opens a session and marks the stream live, or returns undefined when the stream already has an open one
 * (the partial unique index decides between kernels racing for the same key).
 */
export async function openSession(db: Exec, values: { streamId: string; remoteAddress: string; kernelId: string }): Promise<StreamSessionRow | undefined> {
  const [row] = await db.insert(streamSessions).values(values).onConflictDoNothing().returning();
  if (row) await db.update(streams).set({ isLive: true }).where(eq(streams.id, values.streamId));
  return row;
}

export async function setSessionLinks(db: Exec, sessionId: string, links: { liveTaskId?: string; archiveJobId?: string }): Promise<void> {
  await db.update(streamSessions).set(links).where(eq(streamSessions.id, sessionId));
}

/** Ends a session once (a second call changes nothing); returns the ended row. */
export async function closeSession(db: Exec, sessionId: string, endReason: string, bytesIn: number): Promise<StreamSessionRow | undefined> {
  const [row] = await db
    .update(streamSessions)
    .set({ endedAt: new Date(), endReason, bytesIn: sql`greatest(${streamSessions.bytesIn}, ${bytesIn})` })
    .where(and(eq(streamSessions.id, sessionId), isNull(streamSessions.endedAt)))
    .returning();
  if (row) await db.update(streams).set({ isLive: false }).where(eq(streams.id, row.streamId));
  return row;
}

export async function recordSessionBytes(db: Exec, sessionId: string, bytesIn: number): Promise<void> {
  await db.update(streamSessions).set({ bytesIn: sql`greatest(${streamSessions.bytesIn}, ${bytesIn})` }).where(eq(streamSessions.id, sessionId));
}
