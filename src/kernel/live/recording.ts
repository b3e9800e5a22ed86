/**
 * Recording and archive: when a stream has `archive` on, its session's FLV is written as it arrives (stream
 * copy, the same spliced source the live task reads, so a reconnect within the grace continues the same
 * recording) to DATA_DIR/live-recordings/<session>/part-NNNN.flv, a new part every RECORDING_PART_MS of media
 * (recording-parts.ts). When the session ends, each part goes to storage (`live/<stream>/<session>/…`) and
 * becomes a VOD job with the stream's archive profiles (one job per part: no concatenation on the kernel, and
 * an hour-long part is an ordinary job); the session's `archive_job_id` is the first part's job, and every
 * archive job carries `metadata.live_archive` (stream, session, part). `recording.ready` announces them.
 */
import { createWriteStream, mkdirSync, rmSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { KernelContext } from "../context.ts";
import { recordEvent } from "../events/record.ts";
import { createJob } from "../jobs/create.ts";
import { uploadStorage } from "../uploads/catalog.ts";
import { RecordingParts } from "./recording-parts.ts";
import type { LiveSession, LiveSessionManager } from "./sessions.ts";
import { sessionSource } from "./source.ts";
import { setSessionLinks } from "./streams-store.ts";

export const RECORDING_PART_MS = 3600_000;

export const recordingDir = (dataDir: string, sessionId: string) => join(dataDir, "live-recordings", sessionId);
export const partName = (part: number) => `part-${String(part).padStart(4, "0")}.flv`;

/** Records the session until it ends, then archives it; never throws (failures are logged). */
export async function recordSession(ctx: KernelContext, manager: LiveSessionManager, session: LiveSession, logger: Logger, partMs = RECORDING_PART_MS): Promise<void> {
  const dir = recordingDir(ctx.config.DATA_DIR, session.sessionId);
  try {
    mkdirSync(dir, { recursive: true });
    const parts = await writeParts(sessionSource(manager, session), dir, partMs);
    const jobIds = await archiveParts(ctx, session, dir, parts);
    logger.info({ stream_id: session.stream.id, session_id: session.sessionId, jobs: jobIds }, "live recording archived");
  } catch (error) {
    logger.error({ err: error, stream_id: session.stream.id, session_id: session.sessionId }, "live recording failed");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes the FLV into parts; resolves with the part numbers written once the source ends. */
async function writeParts(source: ReadableStream<Uint8Array>, dir: string, partMs: number): Promise<number[]> {
  const splitter = new RecordingParts(partMs);
  const files = new Map<number, WriteStream>();
  const open = (part: number) => {
    let file = files.get(part);
    if (!file) files.set(part, (file = createWriteStream(join(dir, partName(part)), { flags: "wx" })));
    return file;
  };
  const reader = source.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (const write of splitter.push(value)) if (!open(write.part).write(write.bytes)) await new Promise((resolve) => open(write.part).once("drain", resolve));
  }
  await Promise.all([...files.values()].map((file) => new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())))));
  return [...files.keys()].sort((a, b) => a - b);
}

async function archiveParts(ctx: KernelContext, session: LiveSession, dir: string, parts: number[]): Promise<string[]> {
  if (parts.length === 0) return [];
  const storage = await uploadStorage(ctx);
  const jobIds: string[] = [];
  for (const part of parts) {
    const key = `live/${session.stream.id}/${session.sessionId}/${partName(part)}`;
    await storage.call("put_file", { key, path: join(dir, partName(part)), move: true }, { timeoutMs: 600_000 });
    const metadata = { live_archive: { stream_id: session.stream.id, session_id: session.sessionId, part, parts: parts.length } };
    const { job } = await createJob(ctx.db, { source_url: key, profiles: session.stream.archiveProfiles, outputs: ["mp4", "hls"], metadata }, { storage: storage.id, maxAttempts: ctx.config.TASK_MAX_ATTEMPTS });
    jobIds.push(job.id);
  }
  await setSessionLinks(ctx.db, session.sessionId, { archiveJobId: jobIds[0]! });
  ctx.orchestrator.deps.kick();
  await recordEvent(ctx.db, { type: "recording.ready", streamId: session.stream.id, data: { stream_id: session.stream.id, session_id: session.sessionId, archive_job_ids: jobIds } });
  return jobIds;
}
