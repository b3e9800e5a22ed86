/** One pull from a queue's durable JetStream consumer: the `pull` that startConsumerLoop drives. */
import type { Consumer as JsConsumer, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { errorMessage } from "../core/errors.ts";
import { type BusLogger, DeliveredMessage, PULL_EXPIRES_MS, type PullFn } from "./common.ts";
import type { natsNames } from "./subjects.ts";
import type { BusMessage } from "./types.ts";

export function natsPull<T>(nc: NatsConnection, js: JetStreamClient, names: ReturnType<typeof natsNames>, queue: string, logger: BusLogger): PullFn<T> {
  let consumer: JsConsumer | undefined;
  return async (max, signal, onMessage) => {
    try {
      consumer ??= await js.consumers.get(names.queueStream, names.queueConsumer(queue));
      await fetch(consumer, max, signal, (m) => {
        const msg = wrap<T>(nc, queue, m, logger);
        if (msg) onMessage(msg);
      });
    } catch (e) {
      consumer = undefined; // looked up again next time: it may have been recreated
      throw e;
    }
  };
}

async function fetch(consumer: JsConsumer, max: number, signal: AbortSignal, onMessage: (m: JsMsg) => void): Promise<void> {
  if (signal.aborted) return;
  const iter = await consumer.fetch({ max_messages: max, expires: PULL_EXPIRES_MS });
  const close = () => void iter.close().catch(() => {});
  // stop() must not wait out a long pull; messages the server sent meanwhile come back after ack_wait.
  signal.addEventListener("abort", close);
  // The client ends a fetch on the server's expiry notice or on missed heartbeats, and neither arrives
  // while disconnected: this bounds the pull regardless.
  const guard = setTimeout(close, PULL_EXPIRES_MS + 3000);
  try {
    if (signal.aborted) close();
    for await (const m of iter) onMessage(m);
  } finally {
    clearTimeout(guard);
    signal.removeEventListener("abort", close);
  }
}

function wrap<T>(nc: NatsConnection, queue: string, m: JsMsg, logger: BusLogger): BusMessage<T> | undefined {
  let data: T;
  try {
    data = m.json<T>();
  } catch (e) {
    // Not ours (someone published garbage on the subject): redelivering it could never help.
    logger.error({ queue, seq: m.seq, error: errorMessage(e) }, "bus: dropping a message that is not JSON");
    m.term();
    return undefined;
  }
  return new DeliveredMessage<T>(queue, data, m.headers?.get("Nats-Msg-Id") || undefined, m.info.deliveryCount, {
    ack: () => m.ack(),
    nak: (delayMs) => m.nak(delayMs > 0 ? delayMs : undefined),
    // Servers before 2.11 do not parse "+TERM <reason>": they ignore it and redeliver after ack_wait.
    term: (reason) => m.term(serverAtLeast(nc, 2, 11) ? reason : undefined),
    working: () => m.working(),
  });
}

function serverAtLeast(nc: NatsConnection, major: number, minor: number): boolean {
  const [maj = 0, min = 0] = (nc.info?.version ?? "0.0").split(".").map(Number);
  return maj > major || (maj === major && min >= minor);
}
