/**
 * Retry schedule of failed webhook deliveries (pure). Attempt n (1 = the first retry) waits
 * base·2^(n-1), capped, with "equal jitter": half of it fixed, the other half random, so retries from many
 * deliveries that failed together (an endpoint outage) spread out instead of arriving in waves, and no
 * retry comes sooner than half its nominal delay.
 *
 * With the defaults (base 5 s, cap 1 h) the nominal delays are 5 s, 10 s, 20 s, … 40 min, then 1 h until
 * WEBHOOK_RETRY_WINDOW (24 h) after the event: about 30 attempts in a day.
 */
export const RETRY_CAP_MS = 3_600_000;

export interface BackoffOptions {
  /** First retry's nominal delay (WEBHOOK_RETRY_BASE). */
  baseMs: number;
  capMs?: number;
  /** A number in [0, 1); Math.random by default (tests pass fixed values). */
  random?: () => number;
}

/** The nominal (jitter-free) delay before retry number `failures` (≥ 1). */
export function nominalDelayMs(failures: number, baseMs: number, capMs = RETRY_CAP_MS): number {
  const n = Math.max(1, Math.floor(failures));
  // 2^(n-1) overflows to Infinity for large n: min() still gives the cap.
  return Math.min(capMs, Math.max(1, baseMs) * 2 ** (n - 1));
}

/** The delay to wait after `failures` failed attempts: in [nominal/2, nominal]. */
export function retryDelayMs(failures: number, opts: BackoffOptions): number {
  const nominal = nominalDelayMs(failures, opts.baseMs, opts.capMs);
  const r = Math.min(Math.max((opts.random ?? Math.random)(), 0), 1);
  return Math.round(nominal / 2 + (nominal / 2) * r);
}
