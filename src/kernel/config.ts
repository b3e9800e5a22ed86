/** The kernel's variables. Every one is listed, with its default, in the README's configuration table. */
import * as v from "valibot";
import { bool, busPrefix, bytes, duration, int, loadConfig, logLevel, natsAuth, str, url } from "../core/config.ts";

export const kernelConfigEntries = {
  DATABASE_URL: v.optional(url(["postgres", "postgresql"])),
  NATS_URL: v.optional(url(["nats", "tls", "ws", "wss"])),
  DATA_DIR: str("./data"),
  PLUGIN_DIR: str("./plugins"),
  PORT: int(8080, 0, 65535),
  HOST: str("0.0.0.0"),
  /** Base URL clients use to reach the API (download/playback links); default http://127.0.0.1:PORT. */
  PUBLIC_URL: v.optional(url(["http", "https"])),
  LOG_LEVEL: logLevel(),
  BUS_PREFIX: busPrefix(),
  MIGRATE_ON_START: bool(true),
  /** Default: on when the bus is in-process (no NATS_URL), since no other worker could reach it. */
  EMBEDDED_WORKER: v.optional(bool(false)),
  MAX_BODY_SIZE: bytes("1MiB"),
  /** Largest file accepted by POST /v1/files. */
  UPLOAD_MAX_SIZE: bytes("20GiB"),
  SHUTDOWN_TIMEOUT: duration("15s"),
  /** Ack deadline of a work delivery; the worker signals progress to the bus every third of it. */
  BUS_ACK_WAIT: duration("60s"),
  /** A task attempt whose worker sends nothing for this long is requeued (its worker is presumed dead). */
  LEASE_TTL: duration("30s"),
  /** Attempts per task before the job fails (permanent errors fail at once). */
  TASK_MAX_ATTEMPTS: int(3, 1, 20),
  /** Chunk length bounds; below SPLIT_MIN_DURATION a source is encoded as one chunk. */
  CHUNK_MIN_DURATION: duration("10s"),
  CHUNK_MAX_DURATION: duration("60s"),
  SPLIT_MIN_DURATION: duration("30s"),
  ...natsAuth(),
};

export type KernelConfig = ReturnType<typeof loadKernelConfig>;

export function loadKernelConfig(env?: Record<string, string | undefined>) {
  const c = loadConfig(kernelConfigEntries, env);
  const embeddedWorker = c.EMBEDDED_WORKER ?? c.NATS_URL === undefined;
  return Object.freeze({ ...c, EMBEDDED_WORKER: embeddedWorker, standalone: c.NATS_URL === undefined && c.DATABASE_URL === undefined });
}
