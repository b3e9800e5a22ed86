/**
 * Opens the database: postgres.js when DATABASE_URL is set, otherwise PGlite (embedded PostgreSQL in WASM)
 * under DATA_DIR, guarded by an exclusive directory lock. Both return the same drizzle API over one schema.
 */
import { pgTarget } from "./pg-ssl.ts";
import { sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { join } from "node:path";
import postgres from "postgres";
import * as schema from "./schema.ts";
import { lockDataDir } from "./datadir-lock.ts";
import { DatabaseConnectError, explainConnectError } from "./connect-errors.ts";
import { loadPgliteAssets } from "./pglite-assets.ts";
import { type ListenFn, pgListener } from "./notify.ts";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  readonly db: Db;
  readonly driver: "postgres" | "pglite";
  /** Readiness probe: a trivial query with a short timeout. */
  ping(timeoutMs?: number): Promise<boolean>;
  /**
   * Tries to take a session-level advisory lock on a dedicated connection (leader election: exactly one
   * kernel runs the reconciler). The lock is gone when the connection is: `held()` re-checks it.
   */
  tryLock(key: number): Promise<HeldLock | undefined>;
  /**
   * Calls fn on each NOTIFY on channel (a wake-up hint only: callers still poll, faster while the listener
   * is unhealthy). PostgreSQL: a dedicated connection (notify.ts); PGlite: in-process.
   */
  listen?: ListenFn;
  close(): Promise<void>;
}

export interface HeldLock {
  /** False once the connection holding the lock is lost (the lock went with it). */
  held(): Promise<boolean>;
  release(): Promise<void>;
}

export interface OpenOptions {
  url?: string;
  dataDir: string;
  /** postgres.js pool size. */
  maxConnections?: number;
  onNotice?: (msg: string) => void;
}

export async function openDatabase(opts: OpenOptions): Promise<Database> {
  if (!opts.url) return openPglite(opts.dataDir);
  const database = openPostgres(opts.url, opts);
  // postgres.js connects lazily: one query now, so a wrong DATABASE_URL is reported as such (connect-errors.ts)
  // instead of surfacing later as a bare `connect ECONNREFUSED` from whichever query came first.
  try {
    await database.db.execute(sql`select 1`);
  } catch (e) {
    await database.close().catch(() => {});
    throw new DatabaseConnectError(explainConnectError(opts.url, e), { cause: e });
  }
  return database;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]).finally(() => clearTimeout(timer));
}

function openPostgres(given: string, opts: OpenOptions): Database {
  const { url, ssl } = pgTarget(given);
  const client = postgres(url, {
    ...(ssl ? { ssl } : {}),
    max: opts.maxConnections ?? 10,
    // Fail fast while the database is down instead of queueing requests forever (the API answers 503).
    connect_timeout: 5,
    // postgres.js waits up to 20 s (3^retries/100 s) before reconnecting after repeated failures; a query
    // issued late in an outage, or just after the database is back, would wait that long. Retry at most
    // every second instead (attempts are only made while queries wait), so the API answers 503 quickly and
    // work resumes as soon as the database does.
    backoff: (retries: number) => Math.min(0.1 * 2 ** retries, 1),
    idle_timeout: 60,
    onnotice: () => {},
  });
  const db = drizzlePostgres(client, { schema }) as unknown as Db;
  /** Holds the leader lock's session (see tryLock); opened on first use. */
  let lockClient: postgres.Sql | undefined;
  const listener = pgListener(url, ssl);
  return {
    db,
    driver: "postgres",
    listen: listener.listen,
    async ping(timeoutMs = 2000) {
      try {
        return (await withTimeout(client`select 1`.then(() => true), timeoutMs)) ?? false;
      } catch {
        return false;
      }
    },
    async tryLock(key) {
      // Not client.reserve(): unpatched postgres.js wrote a query on a reserved connection even after its socket
      // closed (database restart) and threw from a timer (`socket.write` on null); patches/postgres+3.4.9.patch
      // now rejects such queries, but a reserved connection still never reconnects. A dedicated one-connection
      // client queues instead and reconnects; the backend pid tells whether the session holding the lock is
      // still the one we are talking to.
      lockClient ??= postgres(url, { ...(ssl ? { ssl } : {}), max: 1, connect_timeout: 5, max_lifetime: null, onnotice: () => {} });
      const lc = lockClient;
      // A try that fails or gets no answer in 5 s gives up this client, not just this try: a one-connection
      // client left in a broken state after its session was killed answered no query for as long as a full test
      // run watched (15 s). Ending it also ends its session, so a try that did take the lock late leaves nothing
      // behind; the next try (the reconciler's next tick) opens a fresh client. No HeldLock is live on it then:
      // tryLock is only called while this kernel holds no lock.
      const giveUp = () => {
        if (lockClient === lc) lockClient = undefined;
        void lc.end({ timeout: 0 }).catch(() => {});
        return undefined;
      };
      let pid: number;
      try {
        const rows = await withTimeout(lc<{ ok: boolean; pid: number }[]>`select pg_try_advisory_lock(${key}) as ok, pg_backend_pid() as pid`, 5000);
        if (!rows) return giveUp();
        const row = rows[0];
        if (!row?.ok) return undefined;
        pid = row.pid;
      } catch {
        return giveUp();
      }
      let lost = false;
      const samePid = async () => {
        const row = (await withTimeout(lc<{ pid: number }[]>`select pg_backend_pid() as pid`, 3000))?.[0];
        return row ? row.pid === pid : undefined;
      };
      return {
        async held() {
          if (lost) return false;
          try {
            const same = await samePid();
            if (same === false) lost = true; // a new session: the lock went with the old one
            return same ?? false;
          } catch {
            lost = true;
            return false;
          }
        },
        async release() {
          if (lost) return;
          lost = true;
          // unlock_all: this session exists only for this lock, and a retried try_lock may have taken it twice.
          if (await samePid().catch(() => false)) await lc`select pg_advisory_unlock_all()`.catch(() => {});
        },
      };
    },
    close: async () => {
      await listener.close();
      await lockClient?.end({ timeout: 2 }).catch(() => {});
      await client.end({ timeout: 5 });
    },
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  const lock = lockDataDir(dataDir);
  try {
    // Imported here, not at the top: a distributed kernel never evaluates PGlite (docs/BENCHMARKS.md, start-up).
    const [{ PGlite }, { drizzle: drizzlePglite }, assets] = await Promise.all([import("@electric-sql/pglite"), import("drizzle-orm/pglite"), loadPgliteAssets()]);
    const pg = await PGlite.create(join(dataDir, "pgdata"), assets);
    const db = drizzlePglite(pg, { schema }) as unknown as Db;
    return {
      db,
      driver: "pglite",
      async ping() {
        try {
          await db.execute(sql`select 1`);
          return true;
        } catch {
          return false;
        }
      },
      // One process owns the embedded database (the DATA_DIR lock), so it is always the leader.
      async tryLock() {
        return { held: async () => true, release: async () => {} };
      },
      // One process owns the database: PGlite delivers a NOTIFY to its own listeners after the statement.
      async listen(channel, fn) {
        const unlisten = await pg.listen(channel, () => fn());
        return { healthy: () => true, close: () => unlisten() };
      },
      async close() {
        await pg.close();
        lock.release();
      },
    };
  } catch (e) {
    lock.release();
    throw e;
  }
}
