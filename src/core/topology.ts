/**
 * The bus layout both executables agree on: queue names, pools, timings. One place, so a kernel and a
 * worker of the same version can never disagree about where work goes.
 */
import type { Pool } from "./pools.ts";

/** Worker pools (core/pools.ts) = the capability a task requires. A worker pulls from every pool it can serve. */
export { POOLS, type Pool } from "./pools.ts";

/** Queue names allow no ":" (bus names are `[a-z0-9_-]+`): the encoder pool nvenc:h264 has the queue work-nvenc_h264. */
export const workQueue = (pool: Pool | string) => `work-${pool.replace(":", "_")}`;
export const RESULTS_QUEUE = "results";

/**
 * AckWait about a minute (docs/architecture.md §5): the consumer calls working() every third of it while a task runs,
 * so only a dead or frozen worker lets it lapse. MaxDeliver bounds redeliveries of one publication; the
 * kernel's own attempt counter (tasks.attempt) bounds retries of a task. src/bus/queues.ts declares the queues.
 */
export const WORK_ACK_WAIT_MS = 60_000;
export const WORK_MAX_DELIVER = 5;
export const RESULTS_ACK_WAIT_MS = 30_000;
export const RESULTS_MAX_DELIVER = 20;

/** A worker whose presence entry is older than this is offline (it heartbeats every HEARTBEAT_INTERVAL, 5 s). */
export const PRESENCE_TTL_MS = 15_000;


/**
 * A lease lives this long without news from its worker. Workers report progress at least every
 * LEASE_KEEPALIVE_MS, so only a dead, frozen or cut-off worker loses its lease; the reconciler then requeues.
 */
export const LEASE_TTL_MS = 30_000;

/** Workers send progress (= lease keep-alive) six times per lease TTL: losing a few messages is harmless. */
export function leaseKeepaliveMs(leaseTtlMs: number): number {
  return Math.max(200, Math.floor(leaseTtlMs / 6));
}

/** Wall-clock budget of one attempt: generous against slow presets, finite against a hung FFmpeg. */
export function taskDeadlineMs(type: string, mediaSeconds: number): number {
  if (type === "analyze") return 10 * 60_000;
  return Math.max(10 * 60_000, Math.ceil(mediaSeconds * 30_000)); // 30× realtime, at least 10 min
}
