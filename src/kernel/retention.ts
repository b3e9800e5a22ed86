/**
 * The kernel's retention loop: every few minutes it removes what the retention settings no longer keep —
 * audit rows (AUDIT_RETENTION), unused uploads (UPLOAD_RETENTION), parts of failed and cancelled jobs
 * (FAILED_JOB_RETENTION), stored events (EVENT_RETENTION) and, when JOB_RETENTION is set, finished jobs'
 * rows. Every kernel runs it: each step is a delete by age that a second kernel running at the same time
 * finds already done. A step that fails is logged and tried again on the next round; it never stops the others.
 */
import { sql, type SQL } from "drizzle-orm";
import { errorMessage } from "../core/errors.ts";
import { startPeriodic } from "../core/periodic.ts";
import type { Db } from "../db/client.ts";
import { rowsOf } from "../db/exec.ts";
import { pruneAudit } from "./auth/audit.ts";
import type { KernelContext } from "./context.ts";
import { deleteExpired } from "./events/store.ts";
import { PARTS_REMOVED, runFailedJobRetention } from "./pipeline/cleanup.ts";
import { runUploadRetention } from "./uploads/catalog.ts";

export const RETENTION_EVERY_MS = 5 * 60_000;

type RetentionContext = Pick<KernelContext, "db" | "logger" | "config" | "plugins">;

/** One round of every retention; resolves to the number of stored events it deleted. Never throws. */
export async function runRetention(ctx: RetentionContext): Promise<number> {
  const { db, logger, config } = ctx;
  try {
    await pruneAudit(db, config.AUDIT_RETENTION);
  } catch (error) {
    logger.warn({ error: errorMessage(error) }, "audit retention failed; retrying later");
  }
  await runUploadRetention(ctx); // never throws
  await runFailedJobRetention(ctx); // never throws
  await runJobRetention(ctx); // never throws
  try {
    const deleted = await deleteExpired(db, config.EVENT_RETENTION);
    if (deleted) logger.info({ deleted, retention_ms: config.EVENT_RETENTION }, "old events deleted (EVENT_RETENTION)");
    return deleted;
  } catch (error) {
    logger.warn({ error: errorMessage(error) }, "event retention failed; retrying later");
    return 0;
  }
}

/** Jobs deleted per statement, and statements per round: one round removes at most 20,000 jobs. */
export const JOB_PRUNE_BATCH = 1000;
export const JOB_PRUNE_MAX_BATCHES = 20;

/**
 * The ids of up to `batch` finished jobs that ended more than `retentionMs` ago. Served by the index on
 * (status, created_at): a job finishes after it was created, so every candidate has created_at below the
 * cutoff too and the scan is bounded by it; finished_at then drops the few created before the cutoff that
 * ended after it. A failed or cancelled job is kept until FAILED_JOB_RETENTION's sweep removed its parts
 * (its timeline says so): forgetting it earlier would leave its parts in storage with nothing pointing at
 * them. A row locked by someone else (a retry moving it) is skipped, never waited for. Exported for the
 * EXPLAIN in the tests and bench/periodic-queries.ts.
 */
export function finishedJobsDue(retentionMs: number, batch: number): SQL {
  const cutoff = sql`now() - ${`${retentionMs} milliseconds`}::interval`;
  return sql`select j.id from jobs j
    where j.status in ('completed', 'failed', 'cancelled') and j.created_at < ${cutoff} and j.finished_at < ${cutoff}
      and (j.status = 'completed' or exists (select 1 from job_events e where e.job_id = j.id and e.to_status = ${PARTS_REMOVED} and e.at >= j.finished_at))
    limit ${batch} for update of j skip locked`;
}

/**
 * JOB_RETENTION: deletes finished jobs that ended longer than `retentionMs` ago, in batches of `batch`
 * (each one statement; the foreign keys' ON DELETE CASCADE removes their tasks, attempts, timeline, logs and
 * output rows through their job_id indexes), at most `maxBatches` per call. 0 keeps everything. Files in
 * storage are left alone. Returns the number of jobs deleted.
 */
export async function pruneFinishedJobs(db: Db, retentionMs: number, batch = JOB_PRUNE_BATCH, maxBatches = JOB_PRUNE_MAX_BATCHES): Promise<number> {
  if (!(retentionMs > 0)) return 0;
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const rows = rowsOf<{ n: number | string }>(await db.execute(sql`with doomed as (${finishedJobsDue(retentionMs, batch)}),
      gone as (delete from jobs where id in (select id from doomed) returning 1)
      select count(*)::int as n from gone`));
    const n = Number(rows[0]?.n ?? 0);
    deleted += n;
    if (n < batch) break;
  }
  return deleted;
}

async function runJobRetention(ctx: RetentionContext): Promise<void> {
  try {
    const deleted = await pruneFinishedJobs(ctx.db, ctx.config.JOB_RETENTION);
    if (deleted) ctx.logger.info({ deleted, retention_ms: ctx.config.JOB_RETENTION }, "finished jobs deleted (JOB_RETENTION)");
  } catch (error) {
    ctx.logger.warn({ error: errorMessage(error) }, "job retention failed; retrying later");
  }
}

/** A round now and then every `everyMs` (src/core/periodic.ts); the returned stop waits for a round in progress. */
export function startRetention(ctx: RetentionContext, everyMs = RETENTION_EVERY_MS): () => Promise<void> {
  return startPeriodic(() => runRetention(ctx), everyMs, { immediately: true });
}
