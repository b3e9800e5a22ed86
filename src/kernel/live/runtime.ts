/**
 * What happens around a live session on the ingesting kernel (listeners of the session manager):
 *
 * - first publisher → the session's job and live task (live-task.ts), delivery told the ladder, and the
 *   recording started when the stream archives (recording.ts);
 * - every TELEMETRY_INTERVAL_MS → `stream.telemetry` events (SSE, webhooks) and the per-stream gauges, with
 *   the live task's latest transcode report (every kernel hears them on the bus: the results queue may hand a
 *   progress message to any kernel) and delivery's viewer count;
 * - the master playlist answerable (delivery's segmentsReady) → `stream.started`, once per session;
 * - session end → `stream.ended` with the reason, delivery's final playlists, a live task that never started
 *   cancelled, and the archive job from the recording.
 */
import type { Logger } from "pino";
import { signLiveToken, LIVE_TOKEN_TTL_MS } from "./token.ts";
import type { KernelContext } from "../context.ts";
import { liveDelivery } from "./delivery/index.ts";
import { recordEvent } from "../events/record.ts";
import { cancelJob } from "../orchestrator/control.ts";
import { uploadStorage } from "../uploads/catalog.ts";
import { createLiveTask, liveTaskParams, liveTaskStillQueued } from "./live-task.ts";
import { recordSession } from "./recording.ts";
import type { LiveSession, LiveSessionManager } from "./sessions.ts";
import { buildTelemetry, type StreamTelemetry, type TranscodeReport } from "./telemetry.ts";
import type { LiveProgressUpdate } from "../orchestrator/results.ts";
import { restreamControl, setStreamRestreams, StreamRestreams } from "./destinations-restream.ts";

/** Bus event (fan-out to every kernel) carrying a live task's transcode report. */
export const LIVE_PROGRESS_EVENT = "live.progress";
/** A task the source ended for but that is still running after this long is cancelled (its worker is gone). */
const END_CHECK_MS = 30_000;

interface SessionState {
  jobId?: string;
  taskId?: string;
  announced: boolean;
}

export class LiveRuntime {
  private readonly states = new Map<string, SessionState>();
  private readonly reports = new Map<string, TranscodeReport>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly unsubscribe: () => void;
  /** The stream's restream destinations: one restream per session (destinations-restream.ts). */
  private readonly restreams: StreamRestreams;

  constructor(
    private readonly ctx: KernelContext,
    private readonly manager: LiveSessionManager,
    private readonly internalBase: string,
    private readonly logger: Logger,
  ) {
    const unheard = ctx.bus.subscribe<LiveProgressUpdate>(LIVE_PROGRESS_EVENT, (update) => this.reports.set(update.task_id, { live: update.live, workerId: update.worker_id, attempt: update.attempt, at: Date.now() }));
    const unready = liveDelivery(ctx).onSegmentsReady((sessionId) => void this.announce(sessionId));
    this.unsubscribe = () => (unheard(), unready());
    manager.listen({ started: (session) => this.started(session), ended: (session, reason) => this.ended(session, reason) });
    this.restreams = new StreamRestreams(ctx, manager, restreamControl(ctx), logger);
    setStreamRestreams(ctx, this.restreams);
  }

  private async started(session: LiveSession): Promise<void> {
    const state: SessionState = { announced: false };
    this.states.set(session.sessionId, state);
    // Recording first: it reads the same spliced source as the live task, from the first publisher's keyframe.
    if (session.stream.archive) void recordSession(this.ctx, this.manager, session, this.logger);
    const token = signLiveToken(this.ctx.secrets, session.sessionId, new Date(Date.now() + LIVE_TOKEN_TTL_MS));
    const params = liveTaskParams(session, this.internalBase, token);
    liveDelivery(this.ctx).startSession({
      sessionId: session.sessionId,
      streamId: session.stream.id,
      audioKbps: params.audio_kbps,
      rungs: params.rungs.map((rung) => ({ name: rung.name, width: rung.width, height: rung.height, videoKbps: rung.video_kbps })),
    });
    const storage = await uploadStorage(this.ctx);
    Object.assign(state, await createLiveTask(this.ctx.db, session, params, storage.id));
    this.ctx.orchestrator.deps.kick();
    this.logger.info({ stream_id: session.stream.id, session_id: session.sessionId, task_id: state.taskId, job_id: state.jobId }, "live task created");
  }

  /** `stream.started`: once per session, when players can load the master playlist. */
  private async announce(sessionId: string): Promise<void> {
    const session = this.manager.sessionById(sessionId);
    const state = this.states.get(sessionId);
    if (!session || !state || state.announced) return;
    state.announced = true;
    const data = { stream_id: session.stream.id, session_id: sessionId, name: session.stream.name, started_at: session.startedAt.toISOString(), job_id: state.jobId ?? null };
    await recordEvent(this.ctx.db, { type: "stream.started", streamId: session.stream.id, data }).catch((error) => this.logger.warn({ err: error }, "stream.started not recorded"));
  }

  telemetry(session: LiveSession): StreamTelemetry {
    const state = this.states.get(session.sessionId);
    return buildTelemetry({
      streamId: session.stream.id,
      sessionId: session.sessionId,
      ingest: session.publisher?.stats() ?? null,
      transcode: state?.taskId ? this.reports.get(state.taskId) : undefined,
      viewers: liveDelivery(this.ctx).viewers(session.stream.id),
      now: Date.now(),
    });
  }

  /** One telemetry round: events and gauges for every session of this kernel. */
  async tick(): Promise<void> {
    for (const session of this.manager.sessions()) {
      if (!this.states.get(session.sessionId)?.announced && liveDelivery(this.ctx).segmentsReady(session.sessionId)) await this.announce(session.sessionId);
      const telemetry = this.telemetry(session);
      this.ctx.metrics.streamIngestBitrate.set({ stream_id: session.stream.id }, telemetry.ingest?.bitrate_kbps ?? 0);
      this.ctx.metrics.streamViewers.set({ stream_id: session.stream.id }, telemetry.viewers);
      await recordEvent(this.ctx.db, { type: "stream.telemetry", streamId: session.stream.id, data: { ...telemetry } });
    }
  }

  private async ended(session: LiveSession, reason: string): Promise<void> {
    const state = this.states.get(session.sessionId);
    this.states.delete(session.sessionId);
    this.ctx.metrics.streamIngestBitrate.remove({ stream_id: session.stream.id });
    this.ctx.metrics.streamViewers.remove({ stream_id: session.stream.id });
    const durationS = Math.round((Date.now() - session.startedAt.getTime()) / 100) / 10;
    const data = { stream_id: session.stream.id, session_id: session.sessionId, reason, duration_seconds: durationS, bytes_in: session.bytesBefore, job_id: state?.jobId ?? null };
    await recordEvent(this.ctx.db, { type: "stream.ended", streamId: session.stream.id, data }).catch((error) => this.logger.warn({ err: error }, "stream.ended not recorded"));
    await liveDelivery(this.ctx).endSession(session.sessionId).catch((error) => this.logger.warn({ err: error }, "live delivery could not end the session"));
    if (state?.taskId && state.jobId) await this.settleTask(state.taskId, state.jobId);
    if (state?.taskId) this.reports.delete(state.taskId);
  }

  /** The source ended, so the live task ends on its own; one that never started, or whose worker vanished, is cancelled. */
  private async settleTask(taskId: string, jobId: string): Promise<void> {
    const cancel = () => cancelJob(this.ctx.orchestrator.deps, jobId).catch(() => undefined);
    if (await liveTaskStillQueued(this.ctx.db, taskId)) return void (await cancel());
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void cancel();
    }, END_CHECK_MS);
    this.timers.add(timer);
  }

  stop(): void {
    this.unsubscribe();
    void this.restreams.stopAll();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
