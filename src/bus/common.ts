/**
 * What both bus implementations share: the consume loop (slots, heartbeats, settling after the handler),
 * the delivered-message wrapper, JSON encoding and the request/reply envelope. Keeping these in one place
 * is what makes the in-process bus behave like the NATS one beyond the contract tests.
 */
import { errorMessage } from "../core/errors.ts";
import { BusRequestError, type BusMessage, type ConsumeOptions, type Consumer, type MessageHandler, type Slots } from "./types.ts";

/** The subset of a pino logger the bus uses. */
export interface BusLogger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export const silentLogger: BusLogger = { info() {}, warn() {}, error() {} };

/** Window in which a repeated msgId is dropped: the NATS queue stream's, and the in-process bus's default. */
export const DUPLICATE_WINDOW_MS = 120_000;

/** How long one pull waits for messages before giving its slot reservation back (see startConsumerLoop). */
export const PULL_EXPIRES_MS = 2000;

/** JSON text for a payload; `undefined` travels as `null` (JSON has no undefined). */
export function toJson(data: unknown): string {
  return JSON.stringify(data) ?? "null";
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done);
  });
}

/** Settles like `p`, or resolves as soon as `signal` aborts (a later rejection of `p` is ignored). */
function untilAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.resolve();
  }
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      resolve();
    };
    signal.addEventListener("abort", onAbort);
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

// ---- delivered messages ---------------------------------------------------------------------------------

/** How an implementation settles one delivery; called at most once per message (for working, many times). */
export interface SettleOps {
  ack(): Promise<void> | void;
  nak(delayMs: number): Promise<void> | void;
  term(reason?: string): Promise<void> | void;
  working(): Promise<void> | void;
}

/** A delivery handed to a handler. After the first ack/nak/term, further settling calls are no-ops. */
export class DeliveredMessage<T> implements BusMessage<T> {
  private done = false;

  constructor(
    readonly queue: string,
    readonly data: T,
    readonly msgId: string | undefined,
    readonly deliveryCount: number,
    private readonly ops: SettleOps,
  ) {}

  get settled(): boolean {
    return this.done;
  }

  async ack(): Promise<void> {
    if (this.settle()) await this.ops.ack();
  }

  async nak(delayMs = 0): Promise<void> {
    if (this.settle()) await this.ops.nak(Math.max(0, delayMs));
  }

  async term(reason?: string): Promise<void> {
    if (this.settle()) await this.ops.term(reason);
  }

  async working(): Promise<void> {
    if (!this.done) await this.ops.working();
  }

  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    return true;
  }
}

// ---- the consume loop -----------------------------------------------------------------------------------

/**
 * One pull from a queue: deliver at most `max` messages through `onMessage` AS EACH ARRIVES, and resolve
 * when `max` have arrived, the pull expires, or `signal` aborts. Throws on transport errors.
 */
export type PullFn<T> = (max: number, signal: AbortSignal, onMessage: (msg: BusMessage<T>) => void) => Promise<void>;

export interface ConsumerLoopOptions<T> {
  queue: string;
  ackWaitMs: number;
  slots: Slots;
  autoWorking: boolean;
  errorNakDelayMs: number;
  pull: PullFn<T>;
  logger: BusLogger;
}

/** Pause after a failed pull (e.g. while reconnecting), so the loop does not spin. */
const RETRY_DELAY_MS = 1000;

/** A pull that ends this fast with nothing in it is suspicious (server refusing pulls); pause before the next. */
const MIN_EMPTY_PULL_MS = 100;

/**
 * Reserves free slots, pulls at most that many messages, and runs the handler for each as it arrives.
 * A message keeps its slot until its handler settles; reservations a pull did not use go back at once.
 */
export function startConsumerLoop<T>(options: ConsumerLoopOptions<T>, handler: MessageHandler<T>): Consumer {
  const abort = new AbortController();
  const { signal } = abort;
  const log = options.logger;

  const run = async (msg: BusMessage<T>): Promise<void> => {
    // working() every ackWait/3 leaves two chances for a heartbeat to land before the deadline.
    const beat = options.autoWorking
      ? setInterval(() => {
          msg.working().catch((e) => log.warn({ queue: options.queue, error: errorMessage(e) }, "bus: working() failed"));
        }, Math.max(1, Math.floor(options.ackWaitMs / 3)))
      : undefined;
    let failure: unknown;
    let failed = false;
    try {
      await handler(msg);
    } catch (e) {
      failed = true;
      failure = e;
    }
    clearInterval(beat);
    try {
      if (failed) {
        log.warn({ queue: options.queue, deliveryCount: msg.deliveryCount, error: errorMessage(failure) }, "bus: handler failed");
        await msg.nak(options.errorNakDelayMs);
      } else {
        await msg.ack();
      }
    } catch (e) {
      // The message comes back after its ack deadline; nothing else to do here.
      log.warn({ queue: options.queue, error: errorMessage(e) }, "bus: settling a message failed");
    } finally {
      options.slots.release(1);
    }
  };

  const loop = async (): Promise<void> => {
    while (!signal.aborted) {
      const reserved = await options.slots.reserve(options.slots.capacity, signal);
      if (reserved === 0) break;
      let used = 0;
      const started = Date.now();
      try {
        const pulling = options.pull(reserved, signal, (msg) => {
          if (signal.aborted || used >= reserved) {
            // Arrived after stop() (or beyond the reservation): hand it straight back for someone else.
            msg.nak().catch(() => {});
            return;
          }
          used++;
          void run(msg);
        });
        // stop() must not wait for a pull stuck in a request (e.g. while disconnected); whatever the
        // abandoned pull still yields is nak-ed above.
        await untilAborted(pulling, signal);
      } catch (e) {
        if (!signal.aborted) {
          log.warn({ queue: options.queue, error: errorMessage(e) }, "bus: pulling messages failed; retrying");
          await abortableSleep(RETRY_DELAY_MS, signal);
        }
      } finally {
        options.slots.release(reserved - used);
      }
      if (used === 0 && Date.now() - started < MIN_EMPTY_PULL_MS) await abortableSleep(MIN_EMPTY_PULL_MS, signal);
      // Slots wakes all waiters on release; yielding a macrotask lets consumers of other queues sharing
      // these slots reserve before this loop grabs them again.
      await new Promise<void>((r) => setImmediate(r));
    }
  };

  const done = loop().catch((e) => log.error({ queue: options.queue, error: errorMessage(e) }, "bus: consumer loop crashed"));
  return {
    async stop() {
      abort.abort();
      await done;
    },
  };
}

/**
 * consume() of either bus: the loop with ConsumeOptions' defaults filled in, kept in `live` until it is
 * stopped so that close() can stop every consumer still running.
 */
export function startQueueConsumer<T>(
  live: Set<Consumer>,
  options: Pick<ConsumerLoopOptions<T>, "queue" | "ackWaitMs" | "logger" | "pull">,
  opts: ConsumeOptions,
  handler: MessageHandler<T>,
): Consumer {
  const loop = startConsumerLoop<T>(
    { ...options, slots: opts.slots, autoWorking: opts.autoWorking ?? true, errorNakDelayMs: opts.errorNakDelayMs ?? 5000 },
    handler,
  );
  const consumer: Consumer = {
    stop: async () => {
      live.delete(consumer);
      await loop.stop();
    },
  };
  live.add(consumer);
  return consumer;
}

// ---- request/reply envelope -----------------------------------------------------------------------------

type ReplyEnvelope = { ok: true; data?: unknown } | { ok: false; error: { message: string; code?: string; details?: Record<string, unknown> } };

export function replyOk(data: unknown): string {
  return toJson({ ok: true, data });
}

/** Carries an error's message, and its `code`/`details` when it has them (AppError does). */
export function replyError(cause: unknown): string {
  const err = cause as { code?: unknown; details?: unknown } | null;
  const code = err && typeof err.code === "string" ? err.code : undefined;
  const details = err && typeof err.details === "object" && err.details !== null ? (err.details as Record<string, unknown>) : undefined;
  return toJson({ ok: false, error: { message: errorMessage(cause), code, details } });
}

/** The reply's data, or a BusRequestError("remote") carrying the responder's error code. */
export function readReply<T>(json: string): T {
  const env = JSON.parse(json) as ReplyEnvelope;
  if (env.ok) return env.data as T;
  throw new BusRequestError("remote", env.error.message, env.error.code, env.error.details);
}
