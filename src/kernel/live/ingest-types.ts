/**
 * The shapes of the RTMP server's callbacks (src/live/ingest/server.ts, agreed in the live design), restated
 * here structurally so the session manager does not depend on the server module's load order; the kernel
 * passes the manager's methods to `startRtmpServer`, and TypeScript checks that they fit.
 */
export interface PublishRequest {
  app: string;
  streamKey: string;
  remoteAddress: string;
}

export type PublishDecision =
  | { accept: true; streamId: string }
  | { accept: false; code: "NetStream.Publish.BadName" | "NetStream.Publish.Denied"; description: string };

export interface IngestStatsView {
  bytesIn: number;
  bitrateKbps: number;
  fps: number;
  keyframeIntervalS: number | null;
  videoCodec: string | null;
  audioCodec: string | null;
  width: number | null;
  height: number | null;
  audioSampleRate: number | null;
  audioChannels: number | null;
  lastDataAt: number;
}

export type IngestEndReason = "publisher_closed" | "idle_timeout" | "bitrate_exceeded" | "protocol_error" | "kicked" | "replaced" | "server_stopped";

export interface IngestSessionLike {
  readonly id: string;
  readonly streamId: string;
  readonly remoteAddress: string;
  readonly startedAt: Date;
  subscribe(options?: { maxQueueBytes?: number }): ReadableStream<Uint8Array>;
  stats(): IngestStatsView;
  close(reason: IngestEndReason): void;
}
