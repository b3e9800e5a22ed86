/**
 * The live task of a session: one `live` task on pool `live`, created when the session's first publisher
 * attaches, through the normal task path (outbox, lease, failover: src/kernel/orchestrator/). A task row needs
 * a job (tasks.job_id is NOT NULL, and the orchestrator locks the job row around every outcome), so each
 * session gets a job of its own: source_url `live:<stream id>/<session id>`, no profiles, created in
 * `processing`; when the live task completes (the source ended) the pipeline moves it packaging → completed
 * (advance.ts). Such jobs show in GET /v1/jobs with `metadata.live` (docs/architecture.md, "Live").
 */
import { and, eq, inArray } from "drizzle-orm";
import type { LiveParams } from "../../core/task-contracts.ts";
import { LIVE_POOL } from "../../core/pools.ts";
import { LIVE_MAX_ATTEMPTS } from "../../core/topology.ts";
import { jobEvents, jobs, tasks } from "../../db/schema.ts";
import type { Db } from "../../db/client.ts";
import { recordEvent } from "../events/record.ts";
import { ladderRungs, LIVE_AUDIO_KBPS } from "./ladders.ts";
import { livePushUrl, liveSourceUrl } from "./internal-url.ts";
import type { LiveSession } from "./sessions.ts";
import { setSessionLinks } from "./streams-store.ts";
import type { Exec } from "../../db/exec.ts";
import type { AdvanceResult } from "../orchestrator/results.ts";
import { type JobRow, moveJob } from "../orchestrator/transitions.ts";

export const liveJobSource = (streamId: string, sessionId: string) => `live:${streamId}/${sessionId}`;

/** The live task's params (pure): what the worker pulls, where it pushes, the ladder. */
export function liveTaskParams(session: Pick<LiveSession, "sessionId" | "stream">, internalBase: string, token: string): LiveParams {
  return {
    stream_id: session.stream.id,
    session_id: session.sessionId,
    source_url: liveSourceUrl(internalBase, session.sessionId),
    push_url: livePushUrl(internalBase, session.sessionId),
    token,
    segment_seconds: session.stream.segmentSeconds === 1 ? 1 : 2,
    rungs: ladderRungs(session.stream.ladder),
    audio_kbps: LIVE_AUDIO_KBPS,
  };
}

/** Inserts the session's job and live task in one transaction; the caller kicks the publisher (outbox). */
export async function createLiveTask(db: Db, session: LiveSession, params: LiveParams, storage: string): Promise<{ jobId: string; taskId: string }> {
  const created = await db.transaction(async (tx) => {
    const metadata = { live: { stream_id: session.stream.id, session_id: session.sessionId, stream_name: session.stream.name } };
    const [job] = await tx
      .insert(jobs)
      .values({ sourceUrl: liveJobSource(session.stream.id, session.sessionId), profiles: [], outputs: [], options: { storage }, metadata, status: "processing", startedAt: new Date() })
      .returning({ id: jobs.id });
    await tx.insert(jobEvents).values({ jobId: job!.id, toStatus: "processing", detail: { live: metadata.live } });
    await recordEvent(tx, { type: "job.created", jobId: job!.id, streamId: session.stream.id, data: { job_id: job!.id, status: "processing", live: metadata.live } });
    const [task] = await tx
      .insert(tasks)
      .values({ jobId: job!.id, type: "live", seq: 0, pool: LIVE_POOL, params, maxAttempts: LIVE_MAX_ATTEMPTS })
      .returning({ id: tasks.id });
    return { jobId: job!.id, taskId: task!.id };
  });
  await setSessionLinks(db, session.sessionId, { liveTaskId: created.taskId });
  return created;
}

/** A live task that never started (no live worker) when its session ended: nothing will end it, so it is cancelled. */
export async function liveTaskStillQueued(db: Db, taskId: string): Promise<boolean> {
  const [row] = await db.select({ id: tasks.id }).from(tasks).where(and(eq(tasks.id, taskId), inArray(tasks.status, ["queued"])));
  return row !== undefined;
}

/**
 * The pipeline step after a live task completed (advance.ts): the session's transcode is over. The job goes
 * processing → packaging → completed (the moves the job state machine has; nothing is packaged).
 */
export async function afterLive(db: Exec, job: JobRow): Promise<AdvanceResult> {
  await moveJob(db, job.id, "packaging", { from: ["processing"], detail: { live: "source ended" } });
  const done = await moveJob(db, job.id, "completed", { from: ["packaging"], patch: { progress: 100, etaSeconds: 0 } });
  return done ? { ended: "completed" } : {};
}
