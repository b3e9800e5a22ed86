/**
 * Password guessing: failed logins are counted per (client IP, username) and per client IP in a sliding
 * window; once a count reaches its limit, further logins from that client (for that user, or at all) answer
 * 429 WE-SYS-005 with Retry-After until the oldest failure leaves the window — even with the right password,
 * so the limit cannot be probed. Keyed by IP as well as username so nobody can lock a user out from elsewhere.
 * Per kernel and in memory (like the general rate limit); bounded in size.
 *
 * Concurrency: a login is counted as a failure *before* its password is checked (`attempt` reserves a slot in
 * the same synchronous step that checks the limit), and the reservation is taken back when the check turns
 * out to succeed or not to have happened. Checking first and counting after the answer let 100 concurrent
 * guesses all pass the check while none had failed yet.
 */
export interface LoginThrottleOptions {
  /** Failures per (IP, username) within the window; the per-IP limit is four times this. */
  maxFailures: number;
  windowMs: number;
  now?: () => number;
  maxKeys?: number;
}

export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(private readonly o: LoginThrottleOptions) {
    this.now = o.now ?? (() => Date.now());
    this.maxKeys = o.maxKeys ?? 100_000;
  }

  private keys(ip: string, username: string): Array<[string, number]> {
    return [
      [`u:${ip}:${username.toLowerCase()}`, this.o.maxFailures],
      [`ip:${ip}`, this.o.maxFailures * 4],
    ];
  }

  /** Recent failures of a key (older ones dropped). */
  private recent(key: string, now: number): number[] {
    const list = (this.failures.get(key) ?? []).filter((t) => now - t < this.o.windowMs);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  /** Milliseconds until a login may be tried again, or 0 when it may be tried now. */
  blockedForMs(ip: string, username: string): number {
    const now = this.now();
    let wait = 0;
    for (const [key, limit] of this.keys(ip, username)) {
      const list = this.recent(key, now);
      if (list.length >= limit) wait = Math.max(wait, list[list.length - limit]! + this.o.windowMs - now);
    }
    return wait;
  }

  fail(ip: string, username: string): void {
    this.record(ip, username, this.now());
  }

  /**
   * Reserves one attempt, atomically with the limit check: `{ waitMs }` when the client is blocked (nothing is
   * recorded), else a reservation already counted as a failure. Settle it with `succeeded()` (clears that
   * user's count from that client and takes the reservation off the per-IP count) or `cancelled()` (the
   * password was never judged, e.g. the plugin was down: the attempt does not count). Otherwise it stays a failure.
   */
  attempt(ip: string, username: string): { waitMs: number } | LoginReservation {
    const waitMs = this.blockedForMs(ip, username);
    if (waitMs > 0) return { waitMs };
    const at = this.now();
    this.record(ip, username, at);
    let settled = false;
    const settle = (fn: () => void) => () => {
      if (settled) return;
      settled = true;
      fn();
    };
    return {
      waitMs: 0,
      succeeded: settle(() => {
        this.unrecord(ip, username, at);
        this.succeed(ip, username);
      }),
      cancelled: settle(() => this.unrecord(ip, username, at)),
    };
  }

  /** A successful login clears that user's count from that client (the per-IP count stays). */
  succeed(ip: string, username: string): void {
    this.failures.delete(this.keys(ip, username)[0]![0]);
  }

  private record(ip: string, username: string, at: number): void {
    for (const [key] of this.keys(ip, username)) {
      const list = this.recent(key, at);
      list.push(at);
      this.failures.delete(key); // re-insert: the Map's order is the order of last use
      this.failures.set(key, list.slice(-this.o.maxFailures * 4));
    }
    while (this.failures.size > this.maxKeys) this.failures.delete(this.failures.keys().next().value!);
  }

  /** Removes one failure recorded at `at` (a reservation taken back). */
  private unrecord(ip: string, username: string, at: number): void {
    for (const [key] of this.keys(ip, username)) {
      const list = this.failures.get(key);
      const i = list?.lastIndexOf(at) ?? -1;
      if (i < 0) continue;
      list!.splice(i, 1);
      if (!list!.length) this.failures.delete(key);
    }
  }
}

export interface LoginReservation {
  waitMs: 0;
  succeeded(): void;
  cancelled(): void;
}
