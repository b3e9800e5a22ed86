/**
 * LISTEN for wake-ups (issue 20: idle kernels sleep instead of polling). PostgreSQL: one dedicated connection
 * per kernel, shared by every channel. Not postgres.js's own `sql.listen`: after a failed re-LISTEN (database
 * still down) it drops the channel for good and never says the connection went away. Here a lost connection
 * marks the listener unhealthy (callers fall back to polling), LISTEN is retried every second until it
 * succeeds, and each listener is then called once, since notifications sent meanwhile were lost.
 * A notification is only a hint that work may be waiting; the caller looks for it in the tables.
 */
import postgres from "postgres";

export interface Listener {
  /** False while the LISTEN connection is down: notifications may be missed, so the caller polls. */
  healthy(): boolean;
  close(): Promise<void>;
}

export type ListenFn = (channel: string, fn: () => void) => Promise<Listener>;

const RETRY_MS = 1000;

export function pgListener(url: string, ssl: postgres.Options<{}>["ssl"] | undefined): { listen: ListenFn; close(): Promise<void> } {
  const fns = new Map<string, Set<() => void>>();
  let up = false;
  let closed = false;
  /** Connections lost so far: a LISTEN that succeeded while this changed may sit on the lost one. */
  let closes = 0;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let client: postgres.Sql | undefined;
  const wakeAll = () => {
    for (const set of fns.values()) for (const fn of set) fn();
  };
  const open = (): postgres.Sql =>
    (client ??= postgres(url, {
      ...(ssl ? { ssl } : {}),
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      connect_timeout: 5,
      fetch_types: false,
      onnotice: () => {},
      onnotify: (channel: string) => fns.get(channel)?.forEach((fn) => fn()),
      onclose: () => {
        closes++;
        if (!up) return;
        up = false;
        schedule();
      },
      // onnotify is postgres.js's own (what its sql.listen uses), missing from its typings.
    } as postgres.Options<{}>));
  const listenAll = async () => {
    const c = open();
    const before = closes;
    for (const ch of fns.keys()) await c.unsafe(`listen "${ch.replace(/"/g, '""')}"`);
    if (closes !== before) throw new Error("the LISTEN connection closed meanwhile");
  };
  const schedule = () => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void listenAll().then(
        () => {
          if (closed) return;
          up = true;
          wakeAll(); // notifications sent while the connection was down were lost
        },
        () => schedule(),
      );
    }, RETRY_MS);
  };
  return {
    async listen(channel, fn) {
      let set = fns.get(channel);
      const fresh = !set;
      if (!set) fns.set(channel, (set = new Set()));
      set.add(fn);
      // With a retry pending, it LISTENs on every channel, this one included.
      if (fresh && !retry) {
        try {
          const before = closes;
          await open().unsafe(`listen "${channel.replace(/"/g, '""')}"`);
          if (closes !== before) throw new Error("the LISTEN connection closed meanwhile");
          // Healthy only if no other channel's LISTEN failed meanwhile (its retry is pending then).
          if (!retry) up = true;
        } catch {
          up = false;
          schedule();
        }
      }
      return {
        healthy: () => up && !closed,
        async close() {
          set.delete(fn);
        },
      };
    },
    async close() {
      closed = true;
      up = false;
      clearTimeout(retry);
      await client?.end({ timeout: 1 }).catch(() => {});
    },
  };
}
