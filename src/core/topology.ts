/**
 * The bus layout both executables agree on: queue names, pools, timings. One place, so a kernel and a
 * worker of the same version can never disagree about where work goes.
 */
import type { Pool } from "./pools.ts";

/** Worker pools (core/pools.ts) = the capability a task requires. A worker pulls from every pool it can serve. */
export { LIVE_POOL, POOLS, type Pool, WORK_POOLS, type WorkPool } from "./pools.ts";

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

/**
 * Live tasks (issue 15) fail over fast: viewers' players hold only a few segments, so a dead worker must be
 * noticed within seconds, not after the generic 30 s. Their lease is LIVE_LEASE_TTL_MS (the worker keeps it
 * alive six times per TTL, every 666 ms, like every lease) and a live attempt whose lease expired is
 * re-queued at once (liveRetryDelayMs). Measured (bench/live.ts --failover): with a 6 s lease the first
 * segment of the next epoch came 8–12 s after a SIGKILL on the loaded test machine, too close to the
 * 10 s viewers can wait; 4 s takes two seconds off. A kernel that cannot handle a progress report for 4 s
 * costs a needless restart (a discontinuity), never a lost stream. Every other task type keeps LEASE_TTL.
 */
export const LIVE_LEASE_TTL_MS = 4_000;

/**
 * Streaming tasks run as long as their input does and are failed over rather than retried: `live` (a
 * session's ladder) and `restream` (an input sent to RTMP destinations, issue 16). They share one rule: the
 * short lease (LIVE_LEASE_TTL_MS), the far deadline, the consecutive-failure count (LIVE_STABLE_MS,
 * LIVE_MAX_ATTEMPTS) and the at-once retry after a lost worker (liveRetryDelayMs). Both run in the live pool.
 */
export const STREAMING_TASK_TYPES = ["live", "restream"] as const;
export const isStreamingTask = (type: string): boolean => (STREAMING_TASK_TYPES as readonly string[]).includes(type);

/** The lease a task of `type` gets: `generic` (LEASE_TTL) for all but streaming tasks. */
export function leaseTtlMsFor(type: string, generic: number): number {
  return isStreamingTask(type) ? LIVE_LEASE_TTL_MS : generic;
}

/**
 * Each worker death is a failed live attempt, and a stream may run for days: what bounds a live task is its
 * CONSECUTIVE failures. An attempt that ran at least LIVE_STABLE_MS counts as a success for this purpose
 * (the next failure is the first again); LIVE_MAX_ATTEMPTS failures in a row (a source that cannot be
 * transcoded fails within seconds, every time) fail the task with the last error.
 */
export const LIVE_MAX_ATTEMPTS = 5;
export const LIVE_STABLE_MS = 60_000;

/** Retry delay after the n-th consecutive live failure: the first at once (failover), then 1 s, 2 s, 4 s … ≤ 10 s. */
export function liveRetryDelayMs(failures: number): number {
  return failures <= 1 ? 0 : Math.min(1000 * 2 ** (failures - 2), 10_000);
}

/** Wall-clock budget of one attempt: generous against slow presets, finite against a hung FFmpeg. */
export function taskDeadlineMs(type: string, mediaSeconds: number): number {
  if (type === "analyze") return 10 * 60_000;
  // A live transcode runs as long as its stream; the deadline only bounds a hung one that still reports.
  if (isStreamingTask(type)) return 7 * 24 * 3600_000;
  return Math.max(10 * 60_000, Math.ceil(mediaSeconds * 30_000)); // 30× realtime, at least 10 min
}
