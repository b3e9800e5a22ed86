/**
 * The kernel's retention loop: every few minutes it removes what the retention settings no longer keep —
 * audit rows (AUDIT_RETENTION), unused uploads (UPLOAD_RETENTION), parts of failed and cancelled jobs
 * (FAILED_JOB_RETENTION) and stored events (EVENT_RETENTION). Every kernel runs it: each step is a delete by
 * age that a second kernel running at the same time finds already done. A step that fails is logged and
 * tried again on the next round; it never stops the others.
 */
import { errorMessage } from "../core/errors.ts";
import { pruneAudit } from "./auth/audit.ts";
import type { KernelContext } from "./context.ts";
import { deleteExpired } from "./events/store.ts";
import { runFailedJobRetention } from "./pipeline/cleanup.ts";
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
  try {
    const deleted = await deleteExpired(db, config.EVENT_RETENTION);
    if (deleted) logger.info({ deleted, retention_ms: config.EVENT_RETENTION }, "old events deleted (EVENT_RETENTION)");
    return deleted;
  } catch (error) {
    logger.warn({ error: errorMessage(error) }, "event retention failed; retrying later");
    return 0;
  }
}

/**
 * Runs a round now and then every `everyMs`. The returned stop ends the loop and resolves once a round in
 * progress has finished, so the database is not closed under it.
 */
export function startRetention(ctx: RetentionContext, everyMs = RETENTION_EVERY_MS): () => Promise<void> {
  let running: Promise<unknown> = runRetention(ctx);
  const timer = setInterval(() => {
    // A round slower than the interval (a huge backlog) is not overlapped by the next one.
    running = running.then(() => runRetention(ctx));
  }, everyMs);
  return async () => {
    clearInterval(timer);
    await running;
  };
}
