/**
 * A live session whose ingesting kernel died (distributed mode) is ended by another kernel: reason
 * `kernel_lost`, `stream.ended` recorded with the session's job, that job cancelled, the stream no longer
 * live. Rows as a dead kernel leaves them (session open under its kernel id, its live job and task, its
 * telemetry stopped); a real kernel (PostgreSQL, ingest off — any kernel does it) with LIVE_RECONNECT_GRACE 1s,
 * so a session without telemetry for 7 s counts as lost. A session whose kernel still sends telemetry, and
 * a fresh one, stay open.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { events, jobs, streamSessions, streams } from "../../src/db/schema.ts";
import { recordEvent } from "../../src/kernel/events/record.ts";
import { createLiveTask, liveTaskParams } from "../../src/kernel/live/live-task.ts";
import { lostAfterMs } from "../../src/kernel/live/lost-sessions.ts";
import type { LiveSession } from "../../src/kernel/live/sessions.ts";
import { createStream, openSession } from "../../src/kernel/live/streams-store.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

let kernel: TestKernel;

beforeAll(async () => {
  kernel = await startTestKernel({ env: { LIVE_RTMP_PORT: "0", LIVE_RECONNECT_GRACE: "1s" } });
});

afterAll(async () => {
  await kernel?.stop();
});

/** A stream with an open session held by `kernelId`, started `ageS` seconds ago, with its live job. */
async function sessionOf(name: string, kernelId: string, ageS: number) {
  const { db } = kernel.handle.ctx;
  const { row: stream } = await createStream(db, { name, archive: false, archiveProfiles: [], ladder: "light", segmentSeconds: 2, playback: "public" }, "test");
  const row = (await openSession(db, { streamId: stream.id, remoteAddress: "192.0.2.1", kernelId }))!;
  await db.update(streamSessions).set({ startedAt: sql`now() - make_interval(secs => ${ageS})` }).where(eq(streamSessions.id, row.id));
  const session: LiveSession = { sessionId: row.id, stream, startedAt: row.startedAt, publisher: null, bytesBefore: 0, graceTimer: null, started: true, ended: false };
  const { jobId } = await createLiveTask(db, session, liveTaskParams(session, "http://192.0.2.9:8080", "token"), "storage-fs");
  return { streamId: stream.id, sessionId: row.id, jobId };
}

const telemetry = (s: { streamId: string; sessionId: string }) =>
  recordEvent(kernel.handle.ctx.db, { type: "stream.telemetry", streamId: s.streamId, data: { stream_id: s.streamId, session_id: s.sessionId, viewers: 0 } });

test("lostAfterMs: the grace plus three telemetry rounds", () => {
  expect(lostAfterMs(10_000, 2_000)).toBe(16_000);
});

test("a session whose kernel stopped reporting ends as kernel_lost through another kernel; live ones stay", async () => {
  const { db } = kernel.handle.ctx;
  const lost = await sessionOf("lost", "dead-kernel", 60);
  const alive = await sessionOf("alive", "other-live-kernel", 60);
  const fresh = await sessionOf("fresh", "new-kernel", 0);
  // The living kernel keeps reporting every second while we wait.
  await telemetry(alive);
  const reporting = setInterval(() => void telemetry(alive), 1_000);
  try {
    await waitFor(async () => {
      const [row] = await db.select().from(streamSessions).where(eq(streamSessions.id, lost.sessionId));
      return row?.endedAt != null;
    }, 30_000, "the lost session to be ended", 200);
  } finally {
    clearInterval(reporting);
  }

  const [row] = await db.select().from(streamSessions).where(eq(streamSessions.id, lost.sessionId));
  expect(row!.endReason).toBe("kernel_lost");
  const [stream] = await db.select().from(streams).where(eq(streams.id, lost.streamId));
  expect(stream!.isLive).toBe(false);

  await waitFor(async () => (await db.select().from(jobs).where(eq(jobs.id, lost.jobId)))[0]?.status === "cancelled", 15_000, "the lost session's live job to be cancelled", 200);
  const ended = await db.select().from(events).where(and(eq(events.type, "stream.ended"), eq(events.streamId, lost.streamId)));
  expect(ended).toHaveLength(1);
  expect(ended[0]!.data).toMatchObject({ session_id: lost.sessionId, reason: "kernel_lost", job_id: lost.jobId, kernel_id: "dead-kernel" });

  // The session with telemetry and the one younger than the limit are untouched.
  for (const other of [alive, fresh]) {
    const [open] = await db.select().from(streamSessions).where(eq(streamSessions.id, other.sessionId));
    expect({ name: other.sessionId, endedAt: open!.endedAt }).toEqual({ name: other.sessionId, endedAt: null });
  }
  // The stream can go live again (the one-open-session index no longer holds it).
  expect(await openSession(db, { streamId: lost.streamId, remoteAddress: "192.0.2.1", kernelId: "k2" })).toBeDefined();
}, 60_000);
