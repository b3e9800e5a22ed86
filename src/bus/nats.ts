/**
 * The NATS JetStream bus for distributed mode (STACK.md "Bus", DESIGN.md §3).
 *
 * Layout for one prefix (several installations may share a server):
 * - queues: one WorkQueue stream `<prefix>_QUEUES` on `<prefix>.q.>`, one durable pull consumer `q-<name>`
 *   per queue (a WorkQueue stream refuses overlapping consumers, so one consumer per pool);
 * - events: core pub/sub on `<prefix>.ev.<subject>`; requests: core request/reply on `<prefix>.rpc.<subject>`,
 *   responders in one queue group;
 * - presence: KV bucket `<prefix>_presence` whose TTL expires entries that are not refreshed.
 */
import { readFileSync } from "node:fs";
import {
  AckPolicy,
  type Consumer as JsConsumer,
  type JetStreamClient,
  type JetStreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { connect, credsAuthenticator, errors, type NatsConnection, nanos, type NodeConnectionOptions } from "@nats-io/transport-node";
import { errorMessage } from "../core/errors.ts";
import { type BusLogger, DeliveredMessage, readReply, replyError, replyOk, silentLogger, startConsumerLoop, toJson } from "./common.ts";
import { assertPattern, assertPresenceId, assertQueueSpec, assertSubject, natsNames } from "./subjects.ts";
import {
  type Bus,
  type BusHealth,
  type BusMessage,
  BusRequestError,
  type ConsumeOptions,
  type Consumer,
  type MessageHandler,
  type PresenceEntry,
  type PresenceRegistry,
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
  /** Connection name shown by the server (e.g. `webencode-worker-gpu1`). */
  name?: string;
}

/** A pull waits this long for messages before giving its slot reservation back (see startConsumerLoop). */
const FETCH_EXPIRES_MS = 2000;
/** How long close() lets in-flight publishes and replies drain before it just closes. */
const CLOSE_DRAIN_TIMEOUT_MS = 5000;
/** De-duplication window for msgIds on the queue stream. */
const DUPLICATE_WINDOW_MS = 120_000;

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
    // Ride out server restarts and outages: the kernel/worker keeps running and reports unhealthy meanwhile.
    maxReconnectAttempts: -1,
    waitOnFirstConnect: false,
  };
  let nc: NatsConnection;
  try {
    nc = await connect(connOpts);
  } catch (e) {
    throw new Error(
      `NATS Connection Failed: cannot connect to ${where} (${errorMessage(e)}). Check that nats-server is running with JetStream (nats-server -js) and that the firewall allows the port.`,
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
    throw new Error(`NATS Connection Failed: setting up the bus on ${where} failed (${errorMessage(e)})`, { cause: e });
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

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly names: ReturnType<typeof natsNames>,
    opts: NatsBusOptions,
    private readonly where: string,
  ) {
    this.logger = opts.logger ?? silentLogger;
    this.presence = new NatsPresence(nc, jsm, names.presenceBucket, opts.presenceTtlMs);
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
    await this.ensureStream();
    for (const spec of queues) {
      await this.ensureConsumer(spec);
      this.queues.set(spec.name, { ...spec });
    }
  }

  private async ensureStream(): Promise<void> {
    const { queueStream: name, queueWildcard } = this.names;
    const duplicate_window = nanos(DUPLICATE_WINDOW_MS);
    const info = await this.jsm.streams.info(name).catch(ifMissing(JetStreamApiCodes.StreamNotFound));
    if (!info) {
      try {
        await this.jsm.streams.add({
          name,
          subjects: [queueWildcard],
          retention: RetentionPolicy.Workqueue,
          storage: StorageType.File,
          duplicate_window,
        });
        return;
      } catch (e) {
        // Another process may have created it at the same moment; then it exists and all is well.
        if (!(await this.jsm.streams.info(name).catch(() => null))) throw e;
        return;
      }
    }
    const c = info.config;
    if (c.duplicate_window !== duplicate_window || c.subjects.length !== 1 || c.subjects[0] !== queueWildcard) {
      await this.jsm.streams.update(name, { ...c, subjects: [queueWildcard], duplicate_window });
    }
  }

  private async ensureConsumer(spec: QueueSpec): Promise<void> {
    const stream = this.names.queueStream;
    const durable = this.names.queueConsumer(spec.name);
    const ack_wait = nanos(spec.ackWaitMs);
    const info = await this.jsm.consumers.info(stream, durable).catch(ifMissing(JetStreamApiCodes.ConsumerNotFound));
    if (!info) {
      await this.jsm.consumers.add(stream, {
        durable_name: durable,
        filter_subject: this.names.queueSubject(spec.name),
        ack_policy: AckPolicy.Explicit,
        ack_wait,
        max_deliver: spec.maxDeliver,
      });
    } else if (info.config.ack_wait !== ack_wait || info.config.max_deliver !== spec.maxDeliver) {
      await this.jsm.consumers.update(stream, durable, { ack_wait, max_deliver: spec.maxDeliver });
    }
  }

  async enqueue(queue: string, data: unknown, opts: { msgId?: string } = {}): Promise<{ duplicate: boolean }> {
    this.spec(queue);
    const ack = await this.js.publish(this.names.queueSubject(queue), toJson(data), opts.msgId ? { msgID: opts.msgId } : undefined);
    return { duplicate: ack.duplicate };
  }

  consume<T = unknown>(queue: string, opts: ConsumeOptions, handler: MessageHandler<T>): Consumer {
    const spec = this.spec(queue);
    let consumer: JsConsumer | undefined;
    const loop = startConsumerLoop<T>(
      {
        queue,
        ackWaitMs: spec.ackWaitMs,
        slots: opts.slots,
        autoWorking: opts.autoWorking ?? true,
        errorNakDelayMs: opts.errorNakDelayMs ?? 5000,
        logger: this.logger,
        pull: async (max, signal, onMessage) => {
          try {
            consumer ??= await this.js.consumers.get(this.names.queueStream, this.names.queueConsumer(queue));
            await this.fetch(consumer, queue, max, signal, onMessage);
          } catch (e) {
            consumer = undefined; // looked up again next time: it may have been recreated
            throw e;
          }
        },
      },
      handler,
    );
    const c: Consumer = {
      stop: async () => {
        this.consumers.delete(c);
        await loop.stop();
      },
    };
    this.consumers.add(c);
    return c;
  }

  private async fetch<T>(consumer: JsConsumer, queue: string, max: number, signal: AbortSignal, onMessage: (m: BusMessage<T>) => void): Promise<void> {
    if (signal.aborted) return;
    const iter = await consumer.fetch({ max_messages: max, expires: FETCH_EXPIRES_MS });
    const close = () => void iter.close().catch(() => {});
    // stop() must not wait out a long pull; messages the server sent meanwhile come back after ack_wait.
    signal.addEventListener("abort", close);
    // The client ends a fetch on the server's expiry notice or on missed heartbeats, and neither arrives
    // while disconnected: this bounds the pull regardless.
    const guard = setTimeout(close, FETCH_EXPIRES_MS + 3000);
    try {
      if (signal.aborted) close();
      for await (const m of iter) {
        const msg = this.wrap<T>(queue, m);
        if (msg) onMessage(msg);
      }
    } finally {
      clearTimeout(guard);
      signal.removeEventListener("abort", close);
    }
  }

  private wrap<T>(queue: string, m: JsMsg): BusMessage<T> | undefined {
    let data: T;
    try {
      data = m.json<T>();
    } catch (e) {
      // Not ours (someone published garbage on the subject): redelivering it could never help.
      this.logger.error({ queue, seq: m.seq, error: errorMessage(e) }, "bus: dropping a message that is not JSON");
      m.term();
      return undefined;
    }
    return new DeliveredMessage<T>(queue, data, m.headers?.get("Nats-Msg-Id") || undefined, m.info.deliveryCount, {
      ack: () => m.ack(),
      nak: (delayMs) => m.nak(delayMs > 0 ? delayMs : undefined),
      // Servers before 2.11 do not parse "+TERM <reason>": they ignore it and redeliver after ack_wait.
      term: (reason) => m.term(serverAtLeast(this.nc, 2, 11) ? reason : undefined),
      working: () => m.working(),
    });
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

class NatsPresence implements PresenceRegistry {
  private kv: KV | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly bucket: string,
    private readonly ttlMs: number,
  ) {}

  async init(): Promise<void> {
    const kv = await new Kvm(this.nc).create(this.bucket, { ttl: this.ttlMs, history: 1 });
    // create() opens an existing bucket as it is: apply a changed TTL (PRESENCE_TTL) to it.
    const stream = `KV_${this.bucket}`;
    const info = await this.jsm.streams.info(stream);
    if (info.config.max_age !== nanos(this.ttlMs)) {
      await this.jsm.streams.update(stream, { ...info.config, max_age: nanos(this.ttlMs), duplicate_window: nanos(Math.min(this.ttlMs, DUPLICATE_WINDOW_MS)) });
    }
    this.kv = kv;
  }

  async put(id: string, info: unknown): Promise<void> {
    assertPresenceId(id);
    await this.store().put(id, toJson(info));
  }

  async remove(id: string): Promise<void> {
    assertPresenceId(id);
    await this.store().purge(id);
  }

  async list<T = unknown>(): Promise<PresenceEntry<T>[]> {
    const kv = this.store();
    const live: PresenceEntry<T>[] = [];
    const now = Date.now();
    for await (const key of await kv.keys()) {
      const e = await kv.get(key);
      // The server purges expired entries lazily: judge the age here too.
      if (!e || e.operation !== "PUT" || now - e.created.getTime() >= this.ttlMs) continue;
      live.push({ id: key, info: e.json<T>(), updatedAt: e.created });
    }
    return live;
  }

  private store(): KV {
    if (!this.kv) throw new Error("presence registry is not initialised");
    return this.kv;
  }
}

// ---- helpers --------------------------------------------------------------------------------------------

/** For `.catch()` on an info lookup: "not found" becomes null, anything else is rethrown. */
function ifMissing(code: number) {
  return (e: unknown): null => {
    if (e instanceof JetStreamApiError && e.code === code) return null;
    throw e;
  };
}

function isJetStreamDisabled(e: unknown): boolean {
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (c.name === "JetStreamNotEnabled" || /jetstream.*not.*enabled/i.test(c.message)) return true;
    if (c instanceof JetStreamApiError && c.code === JetStreamApiCodes.JetStreamNotEnabledForAccount) return true;
  }
  return false;
}

function toRequestError(e: unknown, subject: string, timeoutMs: number): BusRequestError {
  for (let c: unknown = e; c instanceof Error; c = c.cause) {
    if (c instanceof errors.NoRespondersError || (c instanceof errors.RequestError && c.isNoResponders())) {
      return new BusRequestError("no_responders", `no responders for ${subject}`);
    }
    if (c instanceof errors.TimeoutError) return new BusRequestError("timeout", `request to ${subject} timed out after ${timeoutMs} ms`);
    if (c instanceof errors.ClosedConnectionError || c instanceof errors.DrainingConnectionError) {
      return new BusRequestError("closed", `bus is closed (request to ${subject})`);
    }
  }
  return new BusRequestError("remote", `request to ${subject} failed: ${errorMessage(e)}`);
}

function readCreds(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`NATS Connection Failed: cannot read the credentials file ${path} (${errorMessage(e)})`, { cause: e });
  }
}

function serverAtLeast(nc: NatsConnection, major: number, minor: number): boolean {
  const [maj = 0, min = 0] = (nc.info?.version ?? "0.0").split(".").map(Number);
  return maj > major || (maj === major && min >= minor);
}

/** A URL fit for messages and logs: any password or token in it is masked. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/g, (_m, auth: string) => `//${auth.includes(":") ? `${auth.split(":")[0]}:***` : "***"}@`);
}
