/** Scrape-time gauges that mirror database state (every kernel reports the same numbers). */
import { sql } from "drizzle-orm";
import { rowsOf } from "../db/exec.ts";
import { JOB_STATUSES } from "../db/schema.ts";
import type { KernelContext } from "./context.ts";

export async function refreshDbGauges(ctx: KernelContext): Promise<void> {
  const { db, metrics } = ctx;
  const jobs = rowsOf<{ status: string; n: number }>(await db.execute(sql`select status, count(*)::int as n from jobs group by status`));
  for (const s of JOB_STATUSES) metrics.jobsByStatus.set({ status: s }, Number(jobs.find((r) => r.status === s)?.n ?? 0));
  const [t] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from tasks where status = 'leased'`));
  metrics.tasksProcessing.set(Number(t?.n ?? 0));
  const [w] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from workers where status = 'healthy'`));
  metrics.workersHealthy.set(Number(w?.n ?? 0));
  const [live] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from streams where is_live`));
  metrics.streamsLive.set(Number(live?.n ?? 0));
  const [m] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from webhooks where muted_at is not null`));
  metrics.webhooksMuted.set(Number(m?.n ?? 0));
  await refreshQueueGauges(ctx);
  if (ctx.database.driver === "postgres") await refreshPoolGauges(ctx);
}

/** Pools reported before by this process: a pool whose queue emptied reports 0 instead of vanishing. */
const seenPools = new WeakMap<KernelContext["metrics"], Set<string>>();

/**
 * Queue depth and the age of the oldest queued task per pool. A task's `updated_at` is set only by state
 * transitions, so for a queued task it is when it was (re)queued; a retry waiting out its backoff counts from
 * `not_before`, when it became eligible again.
 */
async function refreshQueueGauges(ctx: KernelContext): Promise<void> {
  const { db, metrics } = ctx;
  const rows = rowsOf<{ pool: string; n: number; age: number }>(
    await db.execute(sql`
      select pool, count(*)::int as n,
        greatest(0, extract(epoch from now() - min(greatest(updated_at, coalesce(not_before, updated_at)))))::float8 as age
      from tasks where status = 'queued' group by pool`),
  );
  const known = rowsOf<{ pool: string }>(await db.execute(sql`select distinct jsonb_array_elements_text(pools) as pool from workers`));
  const pools = seenPools.get(metrics) ?? new Set<string>();
  seenPools.set(metrics, pools);
  for (const r of [...rows, ...known]) pools.add(r.pool);
  for (const pool of pools) {
    const r = rows.find((x) => x.pool === pool);
    metrics.queueDepth.set({ pool }, Number(r?.n ?? 0));
    metrics.queueOldestAge.set({ pool }, Number(r?.age ?? 0));
  }
}

/**
 * The database connection pool. postgres.js exposes no pool statistics, so two honest views instead:
 * - what the server sees (pg_stat_activity): connections to our database by state, connections to the whole
 *   server and max_connections — the runbook's "connections above 80%" alert, without postgres_exporter;
 * - what this kernel sees: the time a trivial query takes through its own pool, which includes waiting for a
 *   free connection, so it rises when the pool (10 connections) is exhausted or the server is overloaded.
 */
async function refreshPoolGauges(ctx: KernelContext): Promise<void> {
  const { db, metrics } = ctx;
  const started = performance.now();
  await db.execute(sql`select 1`);
  metrics.dbProbe.set((performance.now() - started) / 1000);
  const states = rowsOf<{ state: string; n: number }>(
    await db.execute(sql`
      select coalesce(state, 'unknown') as state, count(*)::int as n from pg_stat_activity
      where datname = current_database() and backend_type = 'client backend' group by 1`),
  );
  metrics.dbConnections.reset();
  for (const s of ["active", "idle", "idle in transaction"]) metrics.dbConnections.set({ state: s }, 0);
  for (const r of states) metrics.dbConnections.set({ state: r.state }, Number(r.n));
  const [server] = rowsOf<{ n: number; max: number }>(
    await db.execute(sql`
      select (select count(*)::int from pg_stat_activity where backend_type = 'client backend') as n,
        current_setting('max_connections')::int as max`),
  );
  metrics.dbServerConnections.set(Number(server?.n ?? 0));
  metrics.dbMaxConnections.set(Number(server?.max ?? 0));
}
