/**
 * The live session manager of one kernel: decides every publish (the RTMP server's `authorize`), opens and
 * ends `stream_sessions` rows, and holds a session open for LIVE_RECONNECT_GRACE after its publisher drops, so
 * that a publisher coming back continues the same session (same playback URL, same recording, same live task).
 *
 * One open session per stream across all kernels is enforced by the database (a partial unique index); this
 * kernel's own sessions are kept here. Listeners (live task, recording, telemetry) hear about starts, new
 * publishers and ends.
 */
import type { Logger } from "pino";
import type { Exec } from "../../db/exec.ts";
import type { IngestEndReason, IngestSessionLike, PublishDecision, PublishRequest } from "./ingest-types.ts";
import { duplicateVerdict, endsAtOnce } from "./session-rules.ts";
import { closeSession, openSession, recordSessionBytes, streamByKey, type StreamRow } from "./streams-store.ts";

export const LIVE_APP = "live";

export interface LiveSession {
  readonly sessionId: string;
  readonly stream: StreamRow;
  readonly startedAt: Date;
  /** The connected publisher; null while waiting for a reconnect. */
  publisher: IngestSessionLike | null;
  /** Bytes received by publishers that already left (a reconnect starts its own count). */
  bytesBefore: number;
  graceTimer: ReturnType<typeof setTimeout> | null;
  /** The first publisher attached (listeners heard `started`). */
  started: boolean;
  ended: boolean;
}

export interface SessionListener {
  started?(session: LiveSession): void | Promise<void>;
  /** A publisher attached (the first one, or a reconnect within the grace). */
  publisher?(session: LiveSession, publisher: IngestSessionLike): void;
  ended?(session: LiveSession, reason: string): void | Promise<void>;
}

export interface SessionManagerOptions {
  db: Exec;
  logger: Logger;
  kernelId: string;
  graceMs: number;
  maxStreams: number;
  now?: () => number;
}

export class LiveSessionManager {
  private readonly byStream = new Map<string, LiveSession>();
  private readonly listeners: SessionListener[] = [];
  /** Callers of nextPublisher waiting for a session's next publisher (or its end). */
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly now: () => number;

  constructor(private readonly options: SessionManagerOptions) {
    this.now = options.now ?? Date.now;
  }

  listen(listener: SessionListener): void {
    this.listeners.push(listener);
  }

  sessions(): LiveSession[] {
    return [...this.byStream.values()];
  }

  sessionOfStream(streamId: string): LiveSession | undefined {
    return this.byStream.get(streamId);
  }

  sessionById(sessionId: string): LiveSession | undefined {
    return this.sessions().find((session) => session.sessionId === sessionId);
  }

  bytesIn(session: LiveSession): number {
    return session.bytesBefore + (session.publisher?.stats().bytesIn ?? 0);
  }

  /** The RTMP server's authorize callback: runs on `publish`, before any media is accepted. */
  async authorize(request: PublishRequest): Promise<PublishDecision> {
    if (request.app !== LIVE_APP) return refuse("NetStream.Publish.BadName", `unknown application "${request.app}": publish to rtmp://<host>:<port>/${LIVE_APP} with the stream key as the stream name`);
    const stream = request.streamKey ? await streamByKey(this.options.db, request.streamKey) : undefined;
    if (!stream) return refuse("NetStream.Publish.BadName", "unknown or revoked stream key: copy the key from POST /v1/streams (or rotate it) into the encoder");
    const local = this.byStream.get(stream.id);
    if (local) return this.authorizeDuplicate(local);
    if (this.byStream.size >= this.options.maxStreams)
      return refuse("NetStream.Publish.Denied", `this kernel already ingests its maximum of ${this.options.maxStreams} live streams (LIVE_MAX_STREAMS)`);
    const row = await openSession(this.options.db, { streamId: stream.id, remoteAddress: request.remoteAddress, kernelId: this.options.kernelId });
    if (!row) return refuse("NetStream.Publish.BadName", `stream "${stream.name}" is already live (another publisher holds it on another kernel); stop it first (POST /v1/streams/${stream.id}/stop)`);
    this.byStream.set(stream.id, { sessionId: row.id, stream, startedAt: row.startedAt, publisher: null, bytesBefore: 0, graceTimer: null, started: false, ended: false });
    this.options.logger.info({ stream_id: stream.id, session_id: row.id, remote: request.remoteAddress }, "live session opened");
    return { accept: true, streamId: stream.id };
  }

  private authorizeDuplicate(session: LiveSession): PublishDecision {
    const publisher = session.publisher;
    const verdict = duplicateVerdict({ connected: publisher !== null, lastDataAt: publisher?.stats().lastDataAt ?? 0 }, this.now());
    if (verdict === "refuse") return refuse("NetStream.Publish.BadName", `stream "${session.stream.name}" is already live: another publisher is sending with this key`);
    if (verdict === "replace" && publisher) {
      this.options.logger.info({ stream_id: session.stream.id, session_id: session.sessionId }, "live publisher replaced by a reconnect");
      this.detach(session, publisher);
      publisher.close("replaced");
    }
    return { accept: true, streamId: session.stream.id };
  }

  /** The RTMP server's onPublish: the publisher of an accepted publish starts sending. */
  onPublish(publisher: IngestSessionLike): void {
    const session = this.byStream.get(publisher.streamId);
    if (!session || session.ended) return publisher.close("kicked");
    if (session.graceTimer) clearTimeout(session.graceTimer);
    session.graceTimer = null;
    session.publisher = publisher;
    if (!session.started) {
      session.started = true;
      for (const listener of this.listeners) void this.notify(() => listener.started?.(session));
    }
    for (const listener of this.listeners) listener.publisher?.(session, publisher);
    this.wake(session);
  }

  /**
   * The session's publisher other than `previous`: the current one if it is another, else the next to attach
   * within the grace; null once the session has ended.
   */
  async nextPublisher(session: LiveSession, previous: IngestSessionLike | null): Promise<IngestSessionLike | null> {
    for (;;) {
      if (session.ended) return null;
      if (session.publisher && session.publisher !== previous) return session.publisher;
      await new Promise<void>((resolve) => {
        let set = this.waiters.get(session.sessionId);
        if (!set) this.waiters.set(session.sessionId, (set = new Set()));
        set.add(resolve);
      });
    }
  }

  private wake(session: LiveSession): void {
    const set = this.waiters.get(session.sessionId);
    this.waiters.delete(session.sessionId);
    for (const resolve of set ?? []) resolve();
  }

  /** The RTMP server's onEnd: a publisher left. Within the grace the session waits for it to come back. */
  onEnd(publisher: IngestSessionLike, reason: IngestEndReason): void {
    const session = this.byStream.get(publisher.streamId);
    if (!session || session.publisher !== publisher) return;
    this.detach(session, publisher);
    if (endsAtOnce(reason)) return void this.end(session, reason);
    session.graceTimer = setTimeout(() => void this.end(session, reason), this.options.graceMs);
  }

  private detach(session: LiveSession, publisher: IngestSessionLike): void {
    session.bytesBefore += publisher.stats().bytesIn;
    session.publisher = null;
  }

  /** Kicks the publisher (if any) and ends the session now; false when this kernel holds no session of it. */
  async stop(streamId: string, reason: string): Promise<boolean> {
    const session = this.byStream.get(streamId);
    if (!session) return false;
    await this.end(session, reason);
    return true;
  }

  async end(session: LiveSession, reason: string): Promise<void> {
    if (session.ended) return;
    session.ended = true;
    if (session.graceTimer) clearTimeout(session.graceTimer);
    const publisher = session.publisher;
    if (publisher) this.detach(session, publisher);
    publisher?.close("kicked");
    this.byStream.delete(session.stream.id);
    this.wake(session);
    await closeSession(this.options.db, session.sessionId, reason, session.bytesBefore).catch((error) => this.options.logger.error({ err: error, session_id: session.sessionId }, "could not record the end of a live session"));
    this.options.logger.info({ stream_id: session.stream.id, session_id: session.sessionId, reason }, "live session ended");
    for (const listener of this.listeners) await this.notify(() => listener.ended?.(session, reason));
  }

  /**
   * Saves the byte counts; ends sessions that were closed in the database through another kernel (a stop or a
   * key rotation there): `closedElsewhere` answers the stored end reason, or null while the row is open.
   */
  async flush(closedElsewhere: (sessionId: string) => Promise<string | null>): Promise<void> {
    for (const session of this.sessions()) {
      const reason = await closedElsewhere(session.sessionId);
      if (reason !== null) await this.end(session, reason);
      else await recordSessionBytes(this.options.db, session.sessionId, this.bytesIn(session));
    }
  }

  async stopAll(reason: string): Promise<void> {
    for (const session of this.sessions()) await this.end(session, reason);
  }

  private async notify(call: () => void | Promise<void>): Promise<void> {
    try {
      await call();
    } catch (error) {
      this.options.logger.error({ err: error }, "live session listener failed");
    }
  }
}

function refuse(code: "NetStream.Publish.BadName" | "NetStream.Publish.Denied", description: string): PublishDecision {
  return { accept: false, code, description };
}
