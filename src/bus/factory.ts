/** Picks the bus for a process: NATS JetStream when a URL is configured, the in-process bus otherwise. */
import type { Logger } from "../core/logger.ts";
import { PRESENCE_TTL_MS } from "../core/topology.ts";
import { queueSpecs } from "./queues.ts";
import { MemoryBus } from "./memory.ts";
import { connectNatsBus } from "./nats.ts";
import { natsInboxPrefix, type NatsRole } from "./nats-permissions.ts";
import { natsTlsOptions } from "./nats-tls.ts";
import type { Bus } from "./types.ts";

export interface BusSettings {
  NATS_URL?: string;
  BUS_PREFIX: string;
  NATS_CREDS?: string;
  NATS_USER?: string;
  NATS_PASSWORD?: string;
  NATS_TOKEN?: string;
  NATS_CA_FILE?: string;
  NATS_CERT_FILE?: string;
  NATS_KEY_FILE?: string;
  /** Ack deadline of work deliveries; kernels and workers of one installation must agree. */
  BUS_ACK_WAIT: number;
  /** Replicas of the JetStream streams and buckets (a NATS cluster); unset leaves existing ones as they are. */
  BUS_REPLICAS?: number;
}

/** `role` picks the reply inbox the role's NATS permissions allow (nats-permissions.ts). */
export async function openBus(settings: BusSettings, logger: Logger, name: string, role: NatsRole = "kernel"): Promise<Bus> {
  const bus: Bus = settings.NATS_URL
    ? await connectNatsBus({
        url: settings.NATS_URL,
        prefix: settings.BUS_PREFIX,
        presenceTtlMs: PRESENCE_TTL_MS,
        logger,
        name,
        user: settings.NATS_USER,
        pass: settings.NATS_PASSWORD,
        token: settings.NATS_TOKEN,
        credsFile: settings.NATS_CREDS,
        tls: natsTlsOptions(settings),
        inboxPrefix: natsInboxPrefix(settings.BUS_PREFIX, role),
        replicas: settings.BUS_REPLICAS,
      })
    : new MemoryBus({ presenceTtlMs: PRESENCE_TTL_MS, logger });
  try {
    await bus.ensureQueues(queueSpecs(settings.BUS_ACK_WAIT));
  } catch (e) {
    await bus.close().catch(() => {}); // the caller never gets the bus: it would stay connected
    throw e;
  }
  return bus;
}
