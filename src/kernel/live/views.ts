/** What the /v1/streams routes answer (snake_case API views of the rows; never the key's hash). */
import type { IngestStatsView } from "./ingest-types.ts";
import type { StreamRow, StreamSessionRow } from "./streams-store.ts";

export function streamView(stream: StreamRow, urls: { publicBase: string; rtmpUrl: string | null }) {
  return {
    id: stream.id,
    name: stream.name,
    key_prefix: stream.keyPrefix,
    is_live: stream.isLive,
    archive: stream.archive,
    archive_profiles: stream.archiveProfiles,
    ladder: stream.ladder,
    segment_seconds: stream.segmentSeconds,
    playback: stream.playback,
    ingest_url: urls.rtmpUrl,
    playback_url: `${urls.publicBase}/live/${stream.id}/master.m3u8`,
    created_by: stream.createdBy,
    created_at: stream.createdAt,
    updated_at: stream.updatedAt,
  };
}

export function sessionView(session: StreamSessionRow, now: number) {
  const end = session.endedAt?.getTime() ?? now;
  return {
    id: session.id,
    stream_id: session.streamId,
    started_at: session.startedAt,
    ended_at: session.endedAt,
    duration_seconds: Math.max(0, Math.round((end - session.startedAt.getTime()) / 100) / 10),
    bytes_in: session.bytesIn,
    end_reason: session.endReason,
    remote_address: session.remoteAddress,
    live_task_id: session.liveTaskId,
    archive_job_id: session.archiveJobId,
    kernel_id: session.kernelId,
  };
}

export function ingestView(stats: IngestStatsView) {
  return {
    bytes_in: stats.bytesIn,
    bitrate_kbps: stats.bitrateKbps,
    fps: stats.fps,
    keyframe_interval_s: stats.keyframeIntervalS,
    video_codec: stats.videoCodec,
    audio_codec: stats.audioCodec,
    width: stats.width,
    height: stats.height,
    audio_sample_rate: stats.audioSampleRate,
    audio_channels: stats.audioChannels,
    last_data_at: new Date(stats.lastDataAt),
  };
}
