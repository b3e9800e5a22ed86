/**
 * A publish-only RTMP server: `rtmp://<host>:<port>/live/<stream key>`, as OBS and `ffmpeg -f flv` publish.
 *
 * The key is checked (`authorize`) before the publisher gets NetStream.Publish.Start and before any of its
 * media is read; each accepted session fans its media out as FLV byte streams (`IngestSession.subscribe`).
 * Built on node:net because a paused socket stops reading (the key check relies on it) and `write` queues
 * without blocking; the server only writes a few small control messages, the media goes out through the
 * subscribers' own bounded streams. A taken port rejects `startRtmpServer` with a ListenError (never exits).
 */
import { createServer, type Server, type Socket } from "node:net";
import { explainListenFailure, ListenError, type ListenTarget } from "../../core/listen.ts";
import { Connection, type ConnectionHost } from "./connection.ts";
import type { IngestLimits, IngestSession, RtmpServer, RtmpServerOptions } from "./types.ts";

export type {
  IngestEndReason,
  IngestLimits,
  IngestSession,
  IngestStats,
  PublishDecision,
  PublishRequest,
  RtmpServer,
  RtmpServerOptions,
} from "./types.ts";

/**
 * Limits that suit one kernel on a small machine; the kernel's configuration may override each. A message cap
 * of 8 MiB holds a 4K keyframe at 50 Mbit/s; OBS and FFmpeg ask for chunk sizes of 4096 at most.
 */
export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxSessions: 16,
  maxBitrateKbps: 20_000,
  maxChunkSize: 65_536,
  maxMessageBytes: 8 * 1024 * 1024,
  idleTimeoutMs: 10_000,
};

/** Connections that have not published yet (handshaking, deciding) beyond the sessions: a flood of idle sockets is cut here. */
export const SPARE_CONNECTIONS = 16;

/** Which variables chose the RTMP address: named in the error when the port cannot be opened. */
export const RTMP_LISTEN_VARIABLES = { portVariable: "LIVE_RTMP_PORT", hostVariable: "HOST" } as const;

class Ingest implements ConnectionHost, RtmpServer {
  private readonly connections = new Set<Connection>();
  private readonly publishing = new Set<Connection>();
  private stopping = false;

  constructor(
    readonly options: RtmpServerOptions,
    private readonly server: Server,
  ) {}

  get port(): number {
    const address = this.server.address();
    return typeof address === "object" && address ? address.port : this.options.port;
  }

  sessions(): IngestSession[] {
    return [...this.publishing];
  }

  occupiedSlots(): number {
    let deciding = 0;
    for (const connection of this.connections) if (connection.isAuthorizing) deciding++;
    return this.publishing.size + deciding;
  }

  register(session: Connection): void {
    this.publishing.add(session);
  }

  unregister(session: Connection): void {
    this.publishing.delete(session);
  }

  forget(connection: Connection): void {
    this.connections.delete(connection);
  }

  accept(socket: Socket): void {
    if (this.stopping || this.connections.size >= this.options.limits.maxSessions + SPARE_CONNECTIONS) {
      this.options.logger.warn({ remoteAddress: socket.remoteAddress }, "rtmp ingest: too many connections, refusing one");
      socket.destroy();
      return;
    }
    this.connections.add(new Connection(socket, this));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of [...this.connections, ...this.publishing]) connection.close("server_stopped");
    await closed;
  }
}

/** Opens the RTMP port. Rejects with a ListenError (naming LIVE_RTMP_PORT) when it cannot be bound. */
export function startRtmpServer(options: RtmpServerOptions): Promise<RtmpServer> {
  const server = createServer({ pauseOnConnect: false });
  const ingest = new Ingest(options, server);
  server.on("connection", (socket) => ingest.accept(socket));
  const target: ListenTarget = { ...RTMP_LISTEN_VARIABLES, port: options.port, host: options.host };
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.close();
      reject(new ListenError(explainListenFailure(target, error.code, error.message), target, error.code));
    };
    server.once("error", onError);
    server.listen({ port: options.port, host: options.host, exclusive: true }, () => {
      server.off("error", onError);
      server.on("error", (error) => options.logger.error({ error: error.message }, "rtmp ingest: server error"));
      options.logger.info({ host: options.host, port: ingest.port }, "rtmp ingest: listening");
      resolve(ingest);
    });
  });
}
