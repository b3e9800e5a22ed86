/**
 * One publisher's TCP connection: handshake, chunk stream, commands, then — once the key is accepted — the
 * live session (fan-out, stats, limits). The protocol parts are pure modules; this file is the wiring to a
 * socket and the clock.
 */
import type { Socket } from "node:net";
import { decodeAmf0, firstValueLength } from "../rtmp/amf0.ts";
import { ChunkReader, control, encodeChunks, MessageType, ProtocolError, type RtmpMessage } from "../rtmp/chunks.ts";
import { CHUNK_STREAM, PublishProtocol, SERVER_WINDOW_ACK_SIZE, statusMessage, type ProtocolAction, type PublishVerdict } from "../rtmp/commands.ts";
import { HandshakeError, ServerHandshake } from "../rtmp/handshake.ts";
import { enhancedRtmpRefusal } from "../flv/media-info.ts";
import { FlvTagType } from "../flv/tags.ts";
import { MediaFanout } from "./fanout.ts";
import { IngestStatsTracker } from "./stats.ts";
import type { IngestEndReason, IngestSession, IngestStats, PublishDecision, RtmpServerOptions } from "./types.ts";

/** How long the media bitrate may stay above the limit before the session is ended. */
export const BITRATE_GRACE_MS = 4000;
/** Chunk streams that may have a message half received at once (a publisher uses 3–5). */
export const MAX_CHUNK_STREAMS_IN_FLIGHT = 16;
/** How long the key check may take before the publisher is refused (a database that hangs must not hold sockets forever). */
export const AUTHORIZE_TIMEOUT_MS = 10_000;
/** How long a closing connection may take to flush its last status before it is destroyed. */
const CLOSE_FLUSH_MS = 2000;

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly options: RtmpServerOptions;
  /** Sessions publishing or being authorized: the max-sessions count. */
  occupiedSlots(): number;
  register(session: Connection): void;
  unregister(session: Connection): void;
  forget(connection: Connection): void;
}

const closeDescriptions: Record<IngestEndReason, string> = {
  publisher_closed: "the publisher closed the stream",
  idle_timeout: "no data from the publisher: idle timeout",
  bitrate_exceeded: "the stream's bitrate is above the server's limit",
  protocol_error: "protocol error",
  kicked: "the stream was stopped by an operator",
  replaced: "a new connection took over this stream",
  server_stopped: "the server is shutting down",
};

export class Connection implements IngestSession {
  readonly id = crypto.randomUUID();
  streamId = "";
  readonly remoteAddress: string;
  startedAt = new Date();

  private readonly handshake = new ServerHandshake();
  private handshakeDone = false;
  private readonly reader: ChunkReader;
  private readonly protocol = new PublishProtocol();
  private readonly fanout = new MediaFanout();
  private readonly statsTracker: IngestStatsTracker;
  private outChunkSize = 128;
  private received = 0;
  private acknowledged = 0;
  private peerWindow = SERVER_WINDOW_ACK_SIZE;
  private lastActivity = Date.now();
  private overLimitSince: number | undefined;
  private timer: ReturnType<typeof setInterval>;
  private authorizing = false;
  private published = false;
  private finished = false;

  constructor(
    private readonly socket: Socket,
    private readonly host: ConnectionHost,
  ) {
    this.remoteAddress = socket.remoteAddress ?? "unknown";
    const { limits } = host.options;
    this.reader = new ChunkReader({ maxChunkSize: limits.maxChunkSize, maxMessageBytes: limits.maxMessageBytes, maxChunkStreams: MAX_CHUNK_STREAMS_IN_FLIGHT });
    this.statsTracker = new IngestStatsTracker(Date.now());
    socket.setNoDelay(true);
    socket.on("data", (data: Buffer) => this.onData(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
    socket.on("error", () => this.finish("publisher_closed", "connection reset"));
    socket.on("close", () => this.finish("publisher_closed", "connection closed"));
    const tick = Math.max(50, Math.min(1000, Math.floor(limits.idleTimeoutMs / 4)));
    this.timer = setInterval(() => this.onTick(), tick);
    this.timer.unref?.();
  }

  get isAuthorizing(): boolean {
    return this.authorizing;
  }

  subscribe(options?: { maxQueueBytes?: number }): ReadableStream<Uint8Array> {
    return this.fanout.subscribe(options);
  }

  stats(): IngestStats {
    return this.statsTracker.snapshot(Date.now());
  }

  close(reason: IngestEndReason): void {
    if (this.finished) return;
    if (reason !== "replaced" && reason !== "publisher_closed") {
      // An error status makes FFmpeg and OBS stop and say why instead of seeing a bare disconnect.
      this.send(statusMessage("error", "NetStream.Publish.Denied", closeDescriptions[reason]), CHUNK_STREAM.status);
    }
    this.finish(reason, closeDescriptions[reason]);
  }

  private onData(data: Uint8Array): void {
    if (this.finished) return;
    this.lastActivity = Date.now();
    this.statsTracker.addBytes(data.length);
    this.received += data.length;
    try {
      let bytes = data;
      if (!this.handshakeDone) {
        const progress = this.handshake.push(data);
        if (progress.reply) this.socket.write(progress.reply);
        if (!progress.done) return;
        this.handshakeDone = true;
        bytes = progress.rest;
      }
      this.acknowledge();
      if (bytes.length === 0) return;
      for (const message of this.reader.push(bytes)) {
        if (this.finished) return;
        if (message.type === MessageType.windowAckSize && message.payload.length >= 4) {
          this.peerWindow = new DataView(message.payload.buffer, message.payload.byteOffset, 4).getUint32(0) || SERVER_WINDOW_ACK_SIZE;
        }
        this.apply(this.protocol.handle(message));
      }
    } catch (error) {
      const known = error instanceof ProtocolError || error instanceof HandshakeError;
      const context = { sessionId: this.id, streamId: this.streamId || undefined, remoteAddress: this.remoteAddress, error: (error as Error).message };
      // Never rethrown: an exception in a socket handler would take the whole kernel down with one publisher.
      if (known) this.host.options.logger.warn(context, "rtmp ingest: protocol error, closing the connection");
      else this.host.options.logger.error({ ...context, stack: (error as Error).stack }, "rtmp ingest: internal error while reading a publisher, closing the connection");
      this.finish("protocol_error", (error as Error).message);
    }
  }

  /** The peer expects an Acknowledgement each time a window of bytes has arrived, or it stops sending. */
  private acknowledge(): void {
    if (this.received - this.acknowledged < this.peerWindow) return;
    this.acknowledged = this.received;
    this.send(control.acknowledgement(this.received % 2 ** 32), CHUNK_STREAM.control);
  }

  private apply(actions: ProtocolAction[]): void {
    for (const action of actions) {
      if (this.finished) return;
      switch (action.kind) {
        case "send":
          this.send(action.message, action.chunkStreamId);
          break;
        case "out-chunk-size":
          this.outChunkSize = action.size;
          break;
        case "authorize":
          this.authorize(action.app, action.streamKey).catch((error: Error) => {
            this.host.options.logger.error({ sessionId: this.id, remoteAddress: this.remoteAddress, error: error.message }, "rtmp ingest: internal error while deciding a publish");
            this.finish("protocol_error", error.message);
          });
          break;
        case "publishing":
          this.startSession();
          break;
        case "media":
          this.media(action.message);
          break;
        case "end":
          if (action.reason === "refused") {
            this.host.options.logger.info({ remoteAddress: this.remoteAddress, detail: action.detail }, "rtmp ingest: publish refused");
            this.finish("publisher_closed", action.detail);
          } else this.finish(action.reason, action.detail);
          break;
      }
    }
  }

  private async authorize(app: string, streamKey: string): Promise<void> {
    // No byte of the publisher is read while the key is checked: nothing it sends is accepted before the verdict.
    this.socket.pause();
    const { limits, logger } = this.host.options;
    let verdict: PublishVerdict;
    if (this.host.occupiedSlots() >= limits.maxSessions) {
      verdict = { accept: false, code: "NetStream.Publish.Denied", description: `server is full: ${limits.maxSessions} live streams at once is this server's limit` };
    } else {
      this.authorizing = true;
      const decision = this.host.options.authorize({ app, streamKey, remoteAddress: this.remoteAddress });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), AUTHORIZE_TIMEOUT_MS)));
      try {
        const answer = await Promise.race([decision, late]);
        if (answer === "late") {
          logger.error({ remoteAddress: this.remoteAddress, timeoutMs: AUTHORIZE_TIMEOUT_MS }, "rtmp ingest: the key check did not answer in time");
          verdict = { accept: false, code: "NetStream.Publish.Denied", description: "the stream key could not be checked in time; try again in a moment" };
          // Whoever answers later must still see an accepted session end.
          decision.then((d) => this.acceptedTooLate(d), () => {});
        } else {
          if (answer.accept) this.streamId = answer.streamId;
          verdict = answer.accept ? { accept: true } : { accept: false, code: answer.code, description: answer.description };
        }
      } catch (error) {
        logger.error({ remoteAddress: this.remoteAddress, error: (error as Error).message }, "rtmp ingest: the key check failed");
        verdict = { accept: false, code: "NetStream.Publish.Denied", description: "the stream key could not be checked right now; try again in a moment" };
      } finally {
        clearTimeout(timer);
        this.authorizing = false;
      }
    }
    if (this.finished) {
      // The publisher went away while its key was checked.
      if (verdict.accept) this.acceptedTooLate({ accept: true, streamId: this.streamId });
      return;
    }
    this.apply(this.protocol.decide(verdict));
    if (!this.finished) this.socket.resume();
  }

  /** An acceptance for a connection that is already gone: the session begins and ends at once, so whoever accepted it sees both ends. */
  private acceptedTooLate(decision: PublishDecision): void {
    if (!decision.accept || this.published) return;
    this.streamId = decision.streamId;
    this.published = true;
    this.host.register(this);
    this.notify(() => this.host.options.onPublish(this), "onPublish");
    this.host.unregister(this);
    this.notify(() => this.host.options.onEnd(this, "publisher_closed", "the publisher was gone before its key was accepted"), "onEnd");
  }

  private startSession(): void {
    this.published = true;
    this.startedAt = new Date();
    this.host.register(this);
    this.host.options.logger.info({ sessionId: this.id, streamId: this.streamId, remoteAddress: this.remoteAddress }, "rtmp ingest: publishing");
    this.notify(() => this.host.options.onPublish(this), "onPublish");
  }

  /** A callback's exception is logged, never allowed to break the connection's bookkeeping. */
  private notify(callback: () => void, name: string): void {
    try {
      callback();
    } catch (error) {
      this.host.options.logger.error({ sessionId: this.id, streamId: this.streamId, error: (error as Error).message }, `rtmp ingest: the ${name} callback threw`);
    }
  }

  private media(message: RtmpMessage): void {
    if (message.type === MessageType.video || message.type === MessageType.audio) {
      const kind = message.type === MessageType.video ? "video" : "audio";
      const refusal = enhancedRtmpRefusal(kind, message.payload);
      if (refusal) {
        this.send(statusMessage("error", "NetStream.Publish.Rejected", refusal), CHUNK_STREAM.status);
        this.host.options.logger.warn({ sessionId: this.id, streamId: this.streamId, remoteAddress: this.remoteAddress, error: refusal }, "rtmp ingest: Enhanced RTMP refused");
        this.finish("protocol_error", refusal);
        return;
      }
      const tag = { type: kind === "video" ? FlvTagType.video : FlvTagType.audio, timestamp: message.timestamp, body: message.payload };
      this.statsTracker.observe(tag, Date.now());
      this.fanout.push(tag);
      return;
    }
    const body = scriptBody(message.payload);
    if (!body) return;
    this.statsTracker.observeMetadata(body);
    this.fanout.setMetadata(body);
  }

  private onTick(): void {
    if (this.finished) return;
    const now = Date.now();
    const { limits, logger } = this.host.options;
    if (now - this.lastActivity > limits.idleTimeoutMs && !this.authorizing) {
      logger.info({ sessionId: this.id, streamId: this.streamId || undefined, remoteAddress: this.remoteAddress }, "rtmp ingest: idle timeout");
      this.close("idle_timeout");
      return;
    }
    if (!this.published || limits.maxBitrateKbps <= 0) return;
    const { bitrateKbps } = this.statsTracker.snapshot(now);
    if (bitrateKbps <= limits.maxBitrateKbps) {
      this.overLimitSince = undefined;
      return;
    }
    this.overLimitSince ??= now;
    if (now - this.overLimitSince >= BITRATE_GRACE_MS) {
      logger.warn({ sessionId: this.id, streamId: this.streamId, bitrateKbps, limitKbps: limits.maxBitrateKbps }, "rtmp ingest: bitrate above the limit, closing");
      this.close("bitrate_exceeded");
    }
  }

  private send(message: RtmpMessage, chunkStreamId: number): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(encodeChunks(message, chunkStreamId, this.outChunkSize));
  }

  /** Ends the connection once; an accepted session reports its end. */
  private finish(reason: IngestEndReason, message?: string): void {
    if (this.finished) return;
    this.finished = true;
    clearInterval(this.timer);
    this.protocol.end();
    this.fanout.end();
    if (!this.socket.destroyed) {
      // Let the last status reach the publisher, then make sure the socket is gone.
      this.socket.end();
      setTimeout(() => this.socket.destroy(), CLOSE_FLUSH_MS).unref?.();
    }
    this.host.forget(this);
    if (this.published) {
      this.host.unregister(this);
      this.host.options.logger.info({ sessionId: this.id, streamId: this.streamId, reason, detail: message }, "rtmp ingest: session ended");
      this.notify(() => this.host.options.onEnd(this, reason, message), "onEnd");
    }
  }
}

/**
 * The FLV script tag body of a data message: `@setDataFrame` (what FFmpeg and OBS send) is cut off, leaving
 * `onMetaData, {…}`; a bare onMetaData is kept; anything else (cue points, text) is not passed on.
 */
export function scriptBody(payload: Uint8Array): Uint8Array | undefined {
  try {
    const [name] = decodeAmf0(payload.subarray(0, firstValueLength(payload)));
    if (name === "@setDataFrame") {
      const rest = payload.subarray(firstValueLength(payload));
      const [inner] = decodeAmf0(rest.subarray(0, firstValueLength(rest)));
      return inner === "onMetaData" ? rest : undefined;
    }
    return name === "onMetaData" ? payload : undefined;
  } catch {
    return undefined;
  }
}

