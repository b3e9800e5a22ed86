/**
 * The in-process bus for standalone mode (kernel and embedded worker in one process).
 *
 * It mirrors the NATS implementation's observable behaviour (test/contract/bus.contract.ts): payloads go
 * through JSON, deliveries and events are asynchronous, subjects follow NATS rules, a message is dropped
 * after `maxDeliver` deliveries. Nothing survives a restart; PostgreSQL's reconciler republishes queued work.
 */
import { errorMessage } from "../core/errors.ts";
import {
  type BusLogger,
  DeliveredMessage,
  DUPLICATE_WINDOW_MS,
  PULL_EXPIRES_MS,
  readReply,
  replyError,
  replyOk,
  silentLogger,
  startQueueConsumer,
  toJson,
} from "./common.ts";
import { assertPattern, assertPresenceId, assertQueueSpec, assertSubject, subjectMatches } from "./subjects.ts";
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

export interface MemoryBusOptions {
  presenceTtlMs: number;
  /** Window in which a repeated msgId is dropped (default 2 min, as the NATS stream). */
  duplicateWindowMs?: number;
  logger?: BusLogger;
}

type Timer = ReturnType<typeof setTimeout>;

/** Every timer the bus starts, so close() can cancel them all. */
class Timers {
  private live = new Set<Timer>();
  private stopped = false;

  /** After clear() nothing is scheduled: a handler still running after close() must not start timers. */
  after(ms: number, fn: () => void): Timer | undefined {
    if (this.stopped) return undefined;
    const t = setTimeout(() => {
      this.live.delete(t);
      fn();
    }, ms);
    this.live.add(t);
    return t;
  }

  cancel(timer: Timer | undefined): void {
    if (timer === undefined) return;
    clearTimeout(timer);
    this.live.delete(timer);
  }

  clear(): void {
    this.stopped = true;
    for (const t of this.live) clearTimeout(t);
    this.live.clear();
  }
}

interface Entry {
  seq: number;
  /** Stored as JSON so every delivery gets a fresh copy, as it would over the wire. */
  payload: string;
  msgId: string | undefined;
  deliveries: number;
  /** Bumped on every delivery and settle: a settle call from an older delivery is ignored. */
  generation: number;
  deadline: Timer | undefined;
}

interface Puller {
  remaining: number;
  onMessage(msg: BusMessage<unknown>): void;
  finish(): void;
}

class MemoryQueue {
  /** Available messages in stream order (redeliveries keep their original position). */
  readonly ready: Entry[] = [];
  readonly pullers: Puller[] = [];
  /** msgId → time it leaves the duplicate window; insertion order is time order. */
  readonly seen = new Map<string, number>();
  private pumping = false;
  private pumpAgain = false;

  constructor(
    public spec: QueueSpec,
    private readonly timers: Timers,
  ) {}

  push(entry: Entry): void {
    let i = this.ready.length;
    while (i > 0 && (this.ready[i - 1]?.seq ?? 0) > entry.seq) i--;
    this.ready.splice(i, 0, entry);
    this.pump();
  }

  /** Hands ready messages to waiting pulls, round-robin. Re-entrant calls (a handler nak-ing) just loop again. */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (this.ready.length > 0 && this.pullers.length > 0) {
          const entry = this.ready.shift() as Entry;
          const puller = this.pullers.shift() as Puller;
          puller.remaining--;
          if (puller.remaining > 0) this.pullers.push(puller);
          puller.onMessage(this.deliver(entry));
          if (puller.remaining === 0) puller.finish();
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
  }

  private deliver(entry: Entry): BusMessage<unknown> {
    entry.deliveries++;
    const generation = ++entry.generation;
    const current = () => entry.generation === generation;
    const armDeadline = () => {
      this.timers.cancel(entry.deadline);
      entry.deadline = this.timers.after(this.spec.ackWaitMs, () => current() && this.retry(entry, 0));
    };
    const settle = () => {
      entry.generation++;
      this.timers.cancel(entry.deadline);
      entry.deadline = undefined;
    };
    armDeadline();
    return new DeliveredMessage(this.spec.name, JSON.parse(entry.payload) as unknown, entry.msgId, entry.deliveries, {
      ack: () => {
        if (current()) settle();
      },
      term: () => {
        if (current()) settle();
      },
      nak: (delayMs) => {
        if (current()) this.retry(entry, delayMs);
      },
      working: () => {
        if (current()) armDeadline();
      },
    });
  }

  /** Redelivers after `delayMs`, unless the message has used up its deliveries (then it is dropped). */
  private retry(entry: Entry, delayMs: number): void {
    entry.generation++;
    this.timers.cancel(entry.deadline);
    entry.deadline = undefined;
    if (entry.deliveries >= this.spec.maxDeliver) return;
    if (delayMs > 0) this.timers.after(delayMs, () => this.push(entry));
    else this.push(entry);
  }
}

export class MemoryBus implements Bus {
  readonly kind = "memory" as const;
  readonly presence: PresenceRegistry;
  private readonly queues = new Map<string, MemoryQueue>();
  private readonly consumers = new Set<Consumer>();
  private readonly subscriptions = new Set<{ pattern: string; handler: (data: unknown, subject: string) => void }>();
  private readonly responders = new Set<{ pattern: string; handler: (data: unknown) => Promise<unknown> }>();
  private readonly pendingRequests = new Set<(e: BusRequestError) => void>();
  private readonly timers = new Timers();
  private readonly duplicateWindowMs: number;
  private readonly logger: BusLogger;
  private seq = 0;
  private closed = false;
  /** Set by the first close(); later calls wait for the same shutdown. */
  private closing: Promise<void> | undefined;

  constructor(opts: MemoryBusOptions) {
    if (!(opts.presenceTtlMs > 0)) throw new Error("MemoryBus: presenceTtlMs must be a positive number of milliseconds");
    this.duplicateWindowMs = opts.duplicateWindowMs ?? DUPLICATE_WINDOW_MS;
    this.logger = opts.logger ?? silentLogger;
    this.presence = new MemoryPresence(opts.presenceTtlMs, () => this.assertOpen());
  }

  async ensureQueues(queues: QueueSpec[]): Promise<void> {
    this.assertOpen();
    for (const spec of queues) {
      assertQueueSpec(spec);
      const q = this.queues.get(spec.name);
      if (q) q.spec = { ...spec };
      else this.queues.set(spec.name, new MemoryQueue({ ...spec }, this.timers));
    }
  }

  async enqueue(queue: string, data: unknown, opts: { msgId?: string } = {}): Promise<{ duplicate: boolean }> {
    this.assertOpen();
    const q = this.queue(queue);
    const payload = toJson(data);
    const { msgId } = opts;
    if (msgId !== undefined) {
      const now = Date.now();
      for (const [id, until] of q.seen) {
        if (until > now) break;
        q.seen.delete(id);
      }
      if (q.seen.has(msgId)) return { duplicate: true };
      q.seen.set(msgId, now + this.duplicateWindowMs);
    }
    q.push({ seq: ++this.seq, payload, msgId, deliveries: 0, generation: 0, deadline: undefined });
    return { duplicate: false };
  }

  consume<T = unknown>(queue: string, opts: ConsumeOptions, handler: MessageHandler<T>): Consumer {
    this.assertOpen();
    const q = this.queue(queue);
    return startQueueConsumer<T>(
      this.consumers,
      {
        queue,
        ackWaitMs: q.spec.ackWaitMs,
        logger: this.logger,
        pull: (max, signal, onMessage) => this.pull(q, max, signal, onMessage as (m: BusMessage<unknown>) => void),
      },
      opts,
      handler,
    );
  }

  private pull(queue: MemoryQueue, max: number, signal: AbortSignal, onMessage: (m: BusMessage<unknown>) => void): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const finish = () => {
        const i = queue.pullers.indexOf(puller);
        if (i >= 0) queue.pullers.splice(i, 1);
        this.timers.cancel(expiry);
        signal.removeEventListener("abort", finish);
        resolve();
      };
      const puller: Puller = { remaining: max, onMessage, finish };
      const expiry = this.timers.after(PULL_EXPIRES_MS, finish);
      signal.addEventListener("abort", finish);
      queue.pullers.push(puller);
      queue.pump();
    });
  }

  /** Standalone mode: the database's audit_log is the record; there is no second copy in process memory. */
  async appendAudit(_entry: Record<string, unknown>, _retentionMs: number): Promise<void> {
    this.assertOpen();
  }

  async publish(subject: string, data: unknown): Promise<void> {
    this.assertOpen();
    assertSubject(subject);
    const payload = toJson(data);
    for (const sub of this.subscriptions) {
      if (!subjectMatches(sub.pattern, subject)) continue;
      // Delivered asynchronously and as a fresh copy, as over NATS; a handler unsubscribed meanwhile gets nothing.
      queueMicrotask(() => {
        if (!this.subscriptions.has(sub)) return;
        try {
          sub.handler(JSON.parse(payload), subject);
        } catch (e) {
          this.logger.warn({ subject, error: errorMessage(e) }, "bus: event handler failed");
        }
      });
    }
  }

  subscribe<T = unknown>(subject: string, handler: (data: T, subject: string) => void): Unsubscribe {
    this.assertOpen();
    assertPattern(subject);
    const sub = { pattern: subject, handler: handler as (data: unknown, subject: string) => void };
    this.subscriptions.add(sub);
    return () => void this.subscriptions.delete(sub);
  }

  request<T = unknown>(subject: string, data: unknown, timeoutMs: number): Promise<T> {
    if (this.closed) return Promise.reject(new BusRequestError("closed", "bus is closed"));
    assertSubject(subject);
    const candidates = [...this.responders].filter((r) => subjectMatches(r.pattern, subject));
    // One responder of the group answers, like a NATS queue group.
    const responder = candidates[Math.floor(Math.random() * candidates.length)];
    if (!responder) return Promise.reject(new BusRequestError("no_responders", `no responders for ${subject}`));
    const payload = toJson(data);
    return new Promise<T>((resolve, reject) => {
      let open = true;
      const end = (fn: () => void) => {
        if (!open) return;
        open = false;
        this.timers.cancel(timer);
        this.pendingRequests.delete(fail);
        fn();
      };
      const fail = (e: BusRequestError) => end(() => reject(e));
      const timer = this.timers.after(timeoutMs, () => fail(new BusRequestError("timeout", `request to ${subject} timed out after ${timeoutMs} ms`)));
      this.pendingRequests.add(fail);
      // The responder runs asynchronously and sees a fresh copy, as over NATS.
      Promise.resolve()
        .then(() => responder.handler(JSON.parse(payload)))
        .then(replyOk, replyError)
        .then((reply) =>
          end(() => {
            try {
              resolve(readReply<T>(reply));
            } catch (e) {
              reject(e);
            }
          }),
        );
    });
  }

  respond(subject: string, handler: (data: unknown) => Promise<unknown>): Unsubscribe {
    this.assertOpen();
    assertPattern(subject);
    const r = { pattern: subject, handler };
    this.responders.add(r);
    return () => void this.responders.delete(r);
  }

  health(): BusHealth {
    return this.closed ? { ok: false, detail: "closed" } : { ok: true, detail: "in-process bus" };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.consumers].map((c) => c.stop()));
    for (const fail of [...this.pendingRequests]) fail(new BusRequestError("closed", "bus closed before the reply arrived"));
    this.subscriptions.clear();
    this.responders.clear();
    this.timers.clear();
    this.queues.clear();
  }

  private queue(name: string): MemoryQueue {
    const q = this.queues.get(name);
    if (!q) throw new Error(`bus: queue "${name}" was not set up; call ensureQueues() with it first`);
    return q;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("bus is closed");
  }
}

class MemoryPresence implements PresenceRegistry {
  private readonly entries = new Map<string, { info: string; updatedAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly assertOpen: () => void,
  ) {}

  async put(id: string, info: unknown): Promise<void> {
    this.assertOpen();
    assertPresenceId(id);
    this.entries.set(id, { info: toJson(info), updatedAt: Date.now() });
  }

  async remove(id: string): Promise<void> {
    this.assertOpen();
    this.entries.delete(id);
  }

  async list<T = unknown>(): Promise<PresenceEntry<T>[]> {
    this.assertOpen();
    const now = Date.now();
    const live: PresenceEntry<T>[] = [];
    for (const [id, e] of this.entries) {
      if (now - e.updatedAt >= this.ttlMs) this.entries.delete(id);
      else live.push({ id, info: JSON.parse(e.info) as T, updatedAt: new Date(e.updatedAt) });
    }
    return live;
  }
}
