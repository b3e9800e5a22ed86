/**
 * The RTMP ingest's interface to the rest of the kernel (re-exported by server.ts; the streams domain in
 * src/kernel/live/ builds on it). A leaf module, so the session and the server can share it without a cycle.
 */
import type { Logger } from "../../core/logger.ts";

export interface PublishRequest {
  app: string;
  streamKey: string;
  remoteAddress: string;
}

export type PublishDecision =
  | { accept: true; streamId: string }
  | { accept: false; code: "NetStream.Publish.BadName" | "NetStream.Publish.Denied"; description: string };

export interface IngestLimits {
  /** Publishing sessions at once; one more is refused with NetStream.Publish.Denied "server is full". */
  maxSessions: number;
  /** Media bitrate above this for BITRATE_GRACE_MS ends the session (`bitrate_exceeded`); 0 = no limit. */
  maxBitrateKbps: number;
  /** Largest Set Chunk Size a publisher may ask for. */
  maxChunkSize: number;
  /** Largest RTMP message (one video frame, one command). */
  maxMessageBytes: number;
  /** No bytes from a connection for this long ends it (`idle_timeout`). */
  idleTimeoutMs: number;
}

export interface IngestStats {
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
  /** Epoch ms of the last media message (or of the session start). */
  lastDataAt: number;
}

export type IngestEndReason = "publisher_closed" | "idle_timeout" | "bitrate_exceeded" | "protocol_error" | "kicked" | "replaced" | "server_stopped";

export interface IngestSession {
  readonly id: string;
  readonly streamId: string;
  readonly remoteAddress: string;
  readonly startedAt: Date;
  /** FLV bytes: FLV header, onMetaData, the codec sequence headers, then tags starting at the latest keyframe.
   *  Bounded queue per subscriber: one that falls behind by more than maxQueueBytes is ended (its stream errors),
   *  never slowing the publisher or other subscribers. Ends when the session ends. */
  subscribe(options?: { maxQueueBytes?: number }): ReadableStream<Uint8Array>;
  stats(): IngestStats;
  /** Kicks the publisher (status NetStream.Publish.Denied or a plain close) and ends the session. */
  close(reason: IngestEndReason): void;
}

export interface RtmpServerOptions {
  host: string;
  port: number;
  limits: IngestLimits;
  /** Called on `publish`, BEFORE any media is accepted. A refusal sends the status and closes the connection. */
  authorize(request: PublishRequest): Promise<PublishDecision>;
  onPublish(session: IngestSession): void;
  onEnd(session: IngestSession, reason: IngestEndReason, message?: string): void;
  logger: Logger;
}

export interface RtmpServer {
  readonly port: number;
  sessions(): IngestSession[];
  stop(): Promise<void>;
}
