/**
 * How long a restream destination waits before its next connection attempt. Exponential (2 s, ×1.5, capped at
 * 60 s) so a platform that is down is not hammered, with jitter so many destinations (or many workers) that
 * failed together do not reconnect in lockstep. Pure: the random draw is a parameter.
 */

export interface BackoffPolicy {
  initialMs: number;
  factor: number;
  maxMs: number;
  /** Fraction of the delay drawn at random around it: 0.2 → between 0.8× and 1.2× (never above maxMs). */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ initialMs: 2_000, factor: 1.5, maxMs: 60_000, jitter: 0.2 });

/**
 * The delay before reconnect number `attempt` (1 = the first retry after a failure).
 * @param random a draw in [0, 1); Math.random in production, fixed in tests.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: number = Math.random()): number {
  const step = Math.max(0, Math.floor(attempt) - 1);
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** step);
  const spread = base * policy.jitter * (2 * random - 1);
  return Math.round(Math.min(policy.maxMs, Math.max(0, base + spread)));
}
