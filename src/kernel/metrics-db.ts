/** Scrape-time gauges that mirror database state (every kernel reports the same numbers). */
import { sql } from "drizzle-orm";
import { rowsOf } from "../db/migrate.ts";
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
  metrics.streamsLive.set(0); // live streaming arrives with its own issue; the series exists for dashboards
  const [m] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from webhooks where muted_at is not null`));
  metrics.webhooksMuted.set(Number(m?.n ?? 0));
}
