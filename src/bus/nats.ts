/**
 * The NATS JetStream bus for distributed mode (docs/architecture.md §5 and §9).
 *
 * Layout for one prefix (several installations may share a server):
 * - queues: one WorkQueue stream and one durable pull consumer per queue (nats-queues.ts), pulled by
 *   nats-pull.ts;
 * - events: core pub/sub on `<prefix>.ev.<subject>`; requests: core request/reply on `<prefix>.rpc.<subject>`,
 *   responders in one queue group;
 * - presence: KV bucket `<prefix>_presence` whose TTL expires entries that are not refreshed (nats-presence.ts).
 */
import { readFileSync } from "node:fs";
import { type JetStreamClient, type JetStreamManager, JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, credsAuthenticator, errors, type NatsConnection, type NodeConnectionOptions, type TlsOptions } from "@nats-io/transport-node";
import { errorMessage } from "../core/errors.ts";
import { type BusLogger, readReply, replyError, replyOk, silentLogger, startQueueConsumer, toJson } from "./common.ts";
import { permissionHint } from "./nats-permissions.ts";
import { NatsPresence } from "./nats-presence.ts";
import { natsPull } from "./nats-pull.ts";
import { tlsHint } from "./nats-tls.ts";
import { ensureAuditStream, ensureQueueConsumer, ensureQueueStream } from "./nats-queues.ts";
import { assertPattern, assertQueueSpec, assertSubject, natsNames } from "./subjects.ts";
import {
  type Bus,
  type BusHealth,
  BusRequestError,
  type ConsumeOptions,
  type Consumer,
  type MessageHandler,
  type QueueSpec,
  type Unsubscribe,
} from "./types.ts";

export interface NatsBusOptions {
  /** One URL, or several separated by commas (a cluster). */
  url: string;
  /** BUS_PREFIX: namespaces every subject, stream and bucket. */
  prefix: string;
  presenceTtlMs: number;
  logger?: BusLogger;
  user?: string;
  pass?: string;
  token?: string;
  credsFile?: string;
  /** TLS (CA, client certificate): set = TLS required (nats-tls.ts). */
  tls?: TlsOptions;
  /** Connection name shown by the server (e.g. `webencode-worker-gpu1`). */
  name?: string;
  /** Subject root of this client's reply inboxes (default `_INBOX`); per role, see nats-permissions.ts. */
  inboxPrefix?: string;
  /** BUS_REPLICAS: replicas of every stream and bucket (3 on a 3-node cluster); unset leaves existing ones alone. */
  replicas?: number;
}

/** How long close() lets in-flight publishes and replies drain before it just closes. */
const CLOSE_DRAIN_TIMEOUT_MS = 5000;

export async function connectNatsBus(opts: NatsBusOptions): Promise<Bus> {
  const names = natsNames(opts.prefix);
  if (!(opts.presenceTtlMs > 0)) throw new Error("connectNatsBus: presenceTtlMs must be a positive number of milliseconds");
  const where = redactUrl(opts.url);
  const connOpts: NodeConnectionOptions = {
    servers: opts.url.split(",").map((s) => s.trim()),
    name: opts.name,
    user: opts.user,
    pass: opts.pass,
    token: opts.token,
    authenticator: opts.credsFile ? credsAuthenticator(readCreds(opts.credsFile)) : undefined,
    tls: opts.tls,
    inboxPrefix: opts.inboxPrefix,
    // Ride out server restarts and outages: the kernel/worker keeps running and reports unhealthy meanwhile.
    maxReconnectAttempts: -1,
    waitOnFirstConnect: false,
  };
  let nc: NatsConnection;
  try {
    nc = await connect(connOpts);
  } catch (e) {
    const hint = tlsHint(errorMessage(e), opts.tls !== undefined);
    throw new Error(
      `NATS Connection Failed: cannot connect to ${where} (${errorMessage(e)}). ${hint ? `Hint: ${hint}.` : "Check that nats-server is running with JetStream (nats-server -js) and that the firewall allows the port."}`,
      { cause: e },
    );
  }
  try {
    // checkAPI asks the server for the account's JetStream info: it fails when JetStream is off.
    const jsm = await jetstreamManager(nc, { checkAPI: true });
    const bus = new NatsBus(nc, jsm, jetstream(nc), names, opts, where);
    await bus.init();
    return bus;
  } catch (e) {
    await nc.close().catch(() => {});
    if (isJetStreamDisabled(e)) {
      throw new Error(`NATS Connection Failed: JetStream is not enabled on ${where}. Start the server with JetStream enabled: nats-server -js`, {
        cause: e,
      });
    }
    const hint = permissionHint(e);
    throw new Error(`NATS Connection Failed: setting up the bus on ${where} failed (${errorMessage(e)})${hint ? `. ${hint}` : ""}`, { cause: e });
  }
}

class NatsBus implements Bus {
  readonly kind = "nats" as const;
  readonly presence: NatsPresence;
  private readonly logger: BusLogger;
  /** Queues set up by ensureQueues in this process; enqueue/consume refuse any other (a typo would store forever). */
  private readonly queues = new Map<string, QueueSpec>();
  private readonly consumers = new Set<Consumer>();
  private state: BusHealth;
  /** Set by the first close(); later calls wait for the same shutdown. */
  private closing: Promise<void> | undefined;
  private watching: Promise<void> = Promise.resolve();
  private readonly replicas: number | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly names: ReturnType<typeof natsNames>,
    opts: NatsBusOptions,
    private readonly where: string,
  ) {
    this.logger = opts.logger ?? silentLogger;
    this.presence = new NatsPresence(nc, jsm, names.presenceBucket, opts.presenceTtlMs, opts.replicas);
    this.replicas = opts.replicas;
    this.state = { ok: true, detail: `connected to ${where}` };
  }

  async init(): Promise<void> {
    await this.presence.init();
    this.watching = this.watchStatus();
  }

  /** Tracks the connection for health(): the client reconnects by itself, we only report. */
  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      switch (s.type) {
        case "disconnect":
          this.state = { ok: false, detail: `disconnected from ${this.where}; reconnecting…` };
          this.logger.warn({ server: s.server }, "bus: NATS connection lost; reconnecting");
          break;
        case "reconnecting":
          this.state = { ok: false, detail: `reconnecting to ${this.where}…` };
          break;
        case "reconnect":
          this.state = { ok: true, detail: `connected to ${this.where}` };
          this.logger.info({ server: s.server }, "bus: NATS connection restored");
          break;
        case "error":
          this.logger.warn({ error: errorMessage(s.error) }, "bus: NATS error");
          break;
      }
    }
  }

  async ensureQueues(queues: QueueSpec[]): Promise<void> {
    this.assertOpen();
    for (const spec of queues) assertQueueSpec(spec);
    try {
      await ensureQueueStream(this.jsm, this.names, this.replicas);
      for (const spec of queues) {
        await ensureQueueConsumer(this.jsm, this.names, spec);
        this.queues.set(spec.name, { ...spec });
      }
    } catch (e) {
      const hint = permissionHint(e);
      if (!hint) throw e;
      throw new Error(`bus: setting up the queues failed (${errorMessage(e)}). ${hint}`, { cause: e });
    }
  }

  async enqueue(queue: string, data: unknown, opts: { msgId?: string } = {}): Promise<{ duplicate: boolean }> {
    this.spec(queue);
    const ack = await this.js.publish(this.names.queueSubject(queue), toJson(data), opts.msgId ? { msgID: opts.msgId } : undefined);
    return { duplicate: ack.duplicate };
  }

  consume<T = unknown>(queue: string, opts: ConsumeOptions, handler: MessageHandler<T>): Consumer {
    const spec = this.spec(queue);
    const pull = natsPull<T>(this.nc, this.js, this.names, queue, this.logger);
    return startQueueConsumer<T>(this.consumers, { queue, ackWaitMs: spec.ackWaitMs, logger: this.logger, pull }, opts, handler);
  }

  private auditReady: Promise<void> | undefined;

  async appendAudit(entry: Record<string, unknown>, retentionMs: number): Promise<void> {
    this.assertOpen();
    this.auditReady ??= ensureAuditStream(this.jsm, this.names, retentionMs, this.replicas).catch((error) => {
      this.auditReady = undefined;
      throw error;
    });
    await this.auditReady;
    const action = String(entry.action ?? "unknown").replace(/[^A-Za-z0-9_-]/g, "_");
    await this.js.publish(this.names.auditSubject(action), toJson(entry));
  }

  async publish(subject: string, data: unknown): Promise<void> {
    assertSubject(subject);
    this.nc.publish(this.names.event(subject), toJson(data));
  }

  subscribe<T = unknown>(subject: string, handler: (data: T, subject: string) => void): Unsubscribe {
    assertPattern(subject);
    const strip = this.names.eventPrefix.length;
    const sub = this.nc.subscribe(this.names.event(subject), {
      callback: (err, msg) => {
        if (err) return this.logger.warn({ subject, error: errorMessage(err) }, "bus: subscription failed");
        try {
          handler(msg.json<T>(), msg.subject.slice(strip));
        } catch (e) {
          this.logger.warn({ subject: msg.subject, error: errorMessage(e) }, "bus: event handler failed");
        }
      },
    });
    return () => sub.unsubscribe();
  }

  async request<T = unknown>(subject: string, data: unknown, timeoutMs: number): Promise<T> {
    assertSubject(subject);
    let reply: string;
    try {
      const m = await this.nc.request(this.names.rpc(subject), toJson(data), { timeout: timeoutMs });
      reply = m.string();
    } catch (e) {
      throw toRequestError(e, subject, timeoutMs);
    }
    return readReply<T>(reply);
  }

  respond(subject: string, handler: (data: unknown) => Promise<unknown>): Unsubscribe {
    assertPattern(subject);
    const sub = this.nc.subscribe(this.names.rpc(subject), {
      queue: this.names.rpcQueueGroup,
      callback: (err, msg) => {
        if (err) return this.logger.warn({ subject, error: errorMessage(err) }, "bus: responder subscription failed");
        Promise.resolve()
          .then(() => handler(msg.json()))
          .then(replyOk, replyError)
          .then((reply) => {
            // The requester may have timed out and gone; the reply is then simply dropped.
            if (!this.nc.isClosed()) msg.respond(reply);
          })
          .catch((e) => this.logger.warn({ subject, error: errorMessage(e) }, "bus: sending a reply failed"));
      },
    });
    return () => sub.unsubscribe();
  }

  health(): BusHealth {
    return this.nc.isClosed() ? { ok: false, detail: "closed" } : this.state;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.stop()));
    // Draining needs the server (it flushes); while disconnected it would wait for a reconnect that may never
    // come, so then, or if draining takes too long, just close.
    if (this.state.ok) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const gaveUp = new Promise<void>((r) => (timer = setTimeout(r, CLOSE_DRAIN_TIMEOUT_MS)));
      await Promise.race([this.nc.drain().catch(() => {}), gaveUp]);
      clearTimeout(timer);
    }
    if (!this.nc.isClosed()) await this.nc.close().catch(() => {});
    await this.watching;
  }

  private assertOpen(): void {
    if (this.closing !== undefined || this.nc.isClosed()) throw new Error("bus is closed");
  }

  private spec(queue: string): QueueSpec {
    this.assertOpen();
    const spec = this.queues.get(queue);
    if (!spec) throw new Error(`bus: queue "${queue}" was not set up; call ensureQueues() with it first`);
    return spec;
  }
}

// ---- helpers --------------------------------------------------------------------------------------------

function isJetStreamDisabled(error: unknown): boolean {
  for (let c: unknown = error; c instanceof Error; c = c.cause) {
    if (c.name === "JetStreamNotEnabled" || /jetstream.*not.*enabled/i.test(c.message)) return true;
    if (c instanceof JetStreamApiError && c.code === JetStreamApiCodes.JetStreamNotEnabledForAccount) return true;
  }
  return false;
}

function toRequestError(error: unknown, subject: string, timeoutMs: number): BusRequestError {
  for (let c: unknown = error; c instanceof Error; c = c.cause) {
    if (c instanceof errors.NoRespondersError || (c instanceof errors.RequestError && c.isNoResponders())) {
      return new BusRequestError("no_responders", `no responders for ${subject}`);
    }
    if (c instanceof errors.TimeoutError) return new BusRequestError("timeout", `request to ${subject} timed out after ${timeoutMs} ms`);
    if (c instanceof errors.ClosedConnectionError || c instanceof errors.DrainingConnectionError) {
      return new BusRequestError("closed", `bus is closed (request to ${subject})`);
    }
  }
  return new BusRequestError("remote", `request to ${subject} failed: ${errorMessage(error)}`);
}

function readCreds(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`NATS Connection Failed: cannot read the credentials file ${path} (${errorMessage(e)})`, { cause: e });
  }
}

/** A URL fit for messages and logs: any password or token in it is masked. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/g, (_m, auth: string) => `//${auth.includes(":") ? `${auth.split(":")[0]}:***` : "***"}@`);
}
