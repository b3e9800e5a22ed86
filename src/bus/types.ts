/**
 * The bus: how kernels and workers exchange work, results, events and requests.
 *
 * PostgreSQL is the record of truth; the bus only delivers (docs/architecture.md §5). Two implementations pass one
 * contract suite (test/contract/bus.contract.ts): NATS JetStream for distributed mode and an in-process one
 * for standalone mode, with the same guarantees:
 *
 * - **Queues** (durable work): at-least-once delivery to exactly one consumer at a time, explicit
 *   ack / nak(delay) / term / working, redelivery after the ack deadline, at most `maxDeliver` deliveries,
 *   de-duplication by message id within `duplicateWindowMs`. Consumers never hold more messages than they
 *   have free slots (no prefetch), and a message is kept alive (`working`) while its handler runs.
 * - **Events** (fan-out): every subscriber of a subject gets every event published while it is subscribed.
 * - **Requests**: one responder (of possibly several) answers; errors travel back as `BusRequestError`.
 * - **Presence**: a registry of live workers whose entries expire when not refreshed within the TTL.
 */

export interface QueueSpec {
  /** `[a-z0-9_-]+`; e.g. `work-cpu`, `work-nvidia`, `results`. */
  name: string;
  /** How long a delivered, unacknowledged message stays with its consumer before it is redelivered. */
  ackWaitMs: number;
  /** Deliveries after which a message is given up (never redelivered again). */
  maxDeliver: number;
}

export interface BusMessage<T = unknown> {
  readonly queue: string;
  readonly data: T;
  readonly msgId: string | undefined;
  /** 1 on the first delivery, 2 on the first redelivery, … */
  readonly deliveryCount: number;
  ack(): Promise<void>;
  /** Redeliver, after `delayMs` if given (counts as a delivery). */
  nak(delayMs?: number): Promise<void>;
  /** Never redeliver. */
  term(reason?: string): Promise<void>;
  /** Resets the ack deadline ("still working on it"). */
  working(): Promise<void>;
  /** True once ack, nak or term was called. */
  readonly settled: boolean;
}

export type MessageHandler<T = unknown> = (msg: BusMessage<T>) => Promise<void>;

export interface ConsumeOptions {
  /**
   * Slots shared by the consumers of one process (a worker serving several pools shares its
   * WORKER_CONCURRENCY across them). A message is fetched only into a reserved free slot.
   */
  slots: Slots;
  /** Call `working()` every ackWait/3 while the handler runs (default true). */
  autoWorking?: boolean;
  /** Delay used when the handler throws without settling the message (default 5000 ms). */
  errorNakDelayMs?: number;
}

export interface Consumer {
  /** Stops fetching new messages; handlers already running continue. */
  stop(): Promise<void>;
}

export type Unsubscribe = () => void;

export interface PresenceEntry<T = unknown> {
  id: string;
  info: T;
  updatedAt: Date;
}

export interface PresenceRegistry {
  /** Creates or refreshes an entry; it expires `ttlMs` (bus option) after the last put. */
  put(id: string, info: unknown): Promise<void>;
  remove(id: string): Promise<void>;
  list<T = unknown>(): Promise<PresenceEntry<T>[]>;
}

export interface BusHealth {
  ok: boolean;
  /** Human-readable state, e.g. "connected to nats://127.0.0.1:4222" or "reconnecting: …". */
  detail: string;
}

export interface Bus {
  readonly kind: "nats" | "memory";
  /** Creates or updates the queues' storage and durable consumers. Idempotent; call at start. */
  ensureQueues(queues: QueueSpec[]): Promise<void>;
  /** Durably enqueues; a repeated `msgId` within the duplicate window is dropped (`duplicate: true`). */
  enqueue(queue: string, data: unknown, opts?: { msgId?: string }): Promise<{ duplicate: boolean }>;
  /** Pulls from a queue into free slots and runs `handler` for each message (see ConsumeOptions). */
  consume<T = unknown>(queue: string, opts: ConsumeOptions, handler: MessageHandler<T>): Consumer;
  /** Fan-out: every current subscriber of the subject receives the event. */
  publish(subject: string, data: unknown): Promise<void>;
  /** `subject` may end in `.>` (everything below) or contain `*` (one token). */
  subscribe<T = unknown>(subject: string, handler: (data: T, subject: string) => void): Unsubscribe;
  /** Sends a request to one responder; rejects with BusRequestError on error, timeout or no responder. */
  request<T = unknown>(subject: string, data: unknown, timeoutMs: number): Promise<T>;
  respond(subject: string, handler: (data: unknown) => Promise<unknown>): Unsubscribe;
  readonly presence: PresenceRegistry;
  /**
   * Appends an entry to the durable audit stream (NATS: stream `<prefix>_AUDIT`, kept `retentionMs`; created
   * on first use). The in-process bus keeps nothing: in standalone mode the database's audit_log is the record.
   */
  appendAudit(entry: Record<string, unknown>, retentionMs: number): Promise<void>;
  health(): BusHealth;
  close(): Promise<void>;
}

export type BusErrorCode = "timeout" | "no_responders" | "remote" | "closed";

export class BusRequestError extends Error {
  constructor(
    readonly code: BusErrorCode,
    message: string,
    /** For `remote`: the error code the responder threw (e.g. an AppError code). */
    readonly remoteCode?: string,
    readonly remoteDetails?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "BusRequestError";
  }
}

/** Counting semaphore shared by a process's consumers; `reserve` takes up to n free slots at once. */
export class Slots {
  private used = 0;
  private waiters: Array<() => void> = [];

  constructor(public capacity: number) {}

  get free(): number {
    return Math.max(0, this.capacity - this.used);
  }

  get inUse(): number {
    return this.used;
  }

  /**
   * Takes up to `max` free slots (at least one), waiting until one is free. Returns 0 without taking any
   * once `signal` is aborted, so a stopping consumer never hangs here waiting for a slot.
   */
  async reserve(max: number, signal?: AbortSignal): Promise<number> {
    while (this.free === 0 && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal?.removeEventListener("abort", wake);
          resolve();
        };
        this.waiters.push(wake);
        signal?.addEventListener("abort", wake);
      });
    }
    if (signal?.aborted) return 0;
    const n = Math.min(max, this.free);
    this.used += n;
    return n;
  }

  release(n = 1): void {
    this.used = Math.max(0, this.used - n);
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }

  /** Wakes every waiter (used when stopping, so a reserve loop can observe the stop flag). */
  wakeAll(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }
}
