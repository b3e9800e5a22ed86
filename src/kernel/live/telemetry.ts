/**
 * Live telemetry (pure): what `stream.telemetry` events, GET /v1/streams/:id/stats and the per-stream gauges
 * carry, built from the ingest stats (RTMP server), the live task's latest transcode report (worker, via the
 * task's progress messages) and the viewer count (delivery).
 */
import type { LiveProgress } from "../../core/task-contracts.ts";
import type { IngestStatsView } from "./ingest-types.ts";
import { ingestView } from "./views.ts";

export interface TranscodeReport {
  live: LiveProgress;
  workerId: string;
  attempt: number;
  /** Epoch ms the report arrived. */
  at: number;
}

export interface StreamTelemetry {
  stream_id: string;
  session_id: string;
  publisher_connected: boolean;
  ingest: ReturnType<typeof ingestView> | null;
  transcode: { speed: number; fps: number; dropped_frames: number; segments: number; epoch: number; worker_id: string; report_age_s: number } | null;
  viewers: number;
}

/** A transcode report older than this is stale (the worker died or stalls): shown as null, not as current. */
export const TRANSCODE_REPORT_MAX_AGE_MS = 10_000;

export function buildTelemetry(input: { streamId: string; sessionId: string; ingest: IngestStatsView | null; transcode: TranscodeReport | undefined; viewers: number; now: number }): StreamTelemetry {
  const report = input.transcode && input.now - input.transcode.at <= TRANSCODE_REPORT_MAX_AGE_MS ? input.transcode : undefined;
  return {
    stream_id: input.streamId,
    session_id: input.sessionId,
    publisher_connected: input.ingest !== null,
    ingest: input.ingest ? ingestView(input.ingest) : null,
    transcode: report ? { ...report.live, worker_id: report.workerId, report_age_s: Math.round((input.now - report.at) / 100) / 10 } : null,
    viewers: input.viewers,
  };
}
