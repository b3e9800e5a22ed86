/**
 * The webhook delivery rows' state changes, each one SQL statement (or one transaction) so several kernels
 * can run senders against the same database:
 *
 * - claim: due, unclaimed rows of enabled, unmuted webhooks are stamped `locked_until = now() + lock` with
 *   `FOR UPDATE SKIP LOCKED`, so two kernels never claim the same row; a kernel that dies (or stops) mid-send
 *   leaves the stamp, and the row is claimed again once it passes (at least once, never lost).
 * - success / failure: written after the attempt; a failure reschedules (or gives up after the retry window,
 *   measured from the delivery's creation) and counts against the webhook, muting it at WEBHOOK_MUTE_AFTER
 *   consecutive failures with a `webhook.muted` event in the same transaction.
 */
import { sql } from "drizzle-orm";
import type { Db } from "../../db/client.ts";
import { rowsOf } from "../../db/exec.ts";
import { recordEvent } from "../events/record.ts";

export interface ClaimedDelivery {
  id: string;
  webhook_id: string;
  event_id: number;
  event_type: string;
  /** Attempts made before this one. */
  attempts: number;
  url: string;
  secret_enc: string;
}

export async function claimDue(db: Db, limit: number, lockMs: number): Promise<ClaimedDelivery[]> {
  if (limit <= 0) return [];
  const rows = rowsOf<ClaimedDelivery>(
    await db.execute(sql`
      update webhook_deliveries d
      set locked_until = now() + ${lockMs}::double precision * interval '1 millisecond'
      from webhooks w
      where w.id = d.webhook_id and d.id in (
        select d2.id from webhook_deliveries d2 join webhooks w2 on w2.id = d2.webhook_id
        where d2.status = 'pending' and d2.next_attempt_at <= now()
          and (d2.locked_until is null or d2.locked_until < now())
          and w2.enabled and w2.muted_at is null
        order by d2.next_attempt_at
        limit ${limit}
        for update of d2 skip locked
      )
      returning d.id, d.webhook_id, d.event_id, d.event_type, d.attempts, w.url, w.secret_enc`),
  );
  return rows.map((r) => ({ ...r, event_id: Number(r.event_id), attempts: Number(r.attempts) }));
}

export interface AttemptFacts {
  responseCode: number | null;
  latencyMs: number | null;
}

export async function recordSuccess(db: Db, delivery: ClaimedDelivery, facts: AttemptFacts): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`
      update webhook_deliveries
      set status = 'succeeded', attempts = attempts + 1, last_attempt_at = now(), response_code = ${facts.responseCode},
          latency_ms = ${facts.latencyMs}, last_error = null, locked_until = null, updated_at = now()
      where id = ${delivery.id}`);
    await tx.execute(sql`update webhooks set consecutive_failures = 0 where id = ${delivery.webhook_id} and consecutive_failures <> 0`);
  });
}

export interface FailureOptions extends AttemptFacts {
  error: string;
  /** Delay before the next attempt (backoff.ts). */
  retryInMs: number;
  /** WEBHOOK_RETRY_WINDOW: no attempt later than this after the delivery was created. */
  windowMs: number;
  /** WEBHOOK_MUTE_AFTER; null = this failure was ours (e.g. undecryptable secret), not the endpoint's. */
  muteAfter: number | null;
}

export interface FailureResult {
  status: "pending" | "failed";
  /** The webhook was muted by this failure. */
  muted: boolean;
  consecutiveFailures: number | null;
}

export async function recordFailure(db: Db, delivery: ClaimedDelivery, options: FailureOptions): Promise<FailureResult> {
  return db.transaction(async (tx) => {
    const next = sql`now() + ${options.retryInMs}::double precision * interval '1 millisecond'`;
    const [row] = rowsOf<{ status: "pending" | "failed" }>(
      await tx.execute(sql`
        update webhook_deliveries
        set attempts = attempts + 1, last_attempt_at = now(), response_code = ${options.responseCode}, latency_ms = ${options.latencyMs},
            last_error = ${options.error.slice(0, 1000)}, locked_until = null, next_attempt_at = ${next}, updated_at = now(),
            status = case when created_at + ${options.windowMs}::double precision * interval '1 millisecond' < ${next} then 'failed' else 'pending' end
        where id = ${delivery.id}
        returning status`),
    );
    if (options.muteAfter === null) return { status: row?.status ?? "pending", muted: false, consecutiveFailures: null };
    // muted_at = now() only holds for a mute made in this transaction (now() is the transaction's start).
    const [hook] = rowsOf<{ consecutive_failures: number; newly_muted: boolean; url: string }>(
      await tx.execute(sql`
        update webhooks
        set consecutive_failures = consecutive_failures + 1,
            muted_at = case when muted_at is null and consecutive_failures + 1 >= ${options.muteAfter}::int then now() else muted_at end
        where id = ${delivery.webhook_id}
        returning consecutive_failures, coalesce(muted_at = now(), false) as newly_muted, url`),
    );
    if (hook?.newly_muted) {
      await recordEvent(tx, {
        type: "webhook.muted",
        data: { webhook_id: delivery.webhook_id, url: hook.url, consecutive_failures: Number(hook.consecutive_failures), last_error: options.error.slice(0, 500) },
      });
    }
    return { status: row?.status ?? "pending", muted: Boolean(hook?.newly_muted), consecutiveFailures: hook ? Number(hook.consecutive_failures) : null };
  });
}

/** The event is gone (EVENT_RETENTION): nothing can be sent any more. */
export async function recordGone(db: Db, delivery: ClaimedDelivery, error: string): Promise<void> {
  await db.execute(sql`
    update webhook_deliveries set status = 'failed', last_error = ${error}, locked_until = null, updated_at = now()
    where id = ${delivery.id}`);
}

/**
 * Finished deliveries (succeeded, failed) older than the retention leave the log, in batches (EVENT_RETENTION:
 * their events are gone by then too, so they could not be redelivered anyway). Pending ones are kept however
 * old: they wait for an unmute. Idempotent; every kernel may run it.
 */
export async function pruneDeliveries(db: Db, retentionMs: number, batch = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const n = rowsOf<{ id: string }>(
      await db.execute(sql`
        delete from webhook_deliveries where id in (
          select id from webhook_deliveries
          where status <> 'pending' and updated_at < now() - ${retentionMs}::double precision * interval '1 millisecond'
          limit ${batch}
          for update skip locked)
        returning id`),
    ).length;
    total += n;
    if (n < batch) return total;
  }
}

/**
 * Milliseconds until the earliest pending delivery of an enabled, unmuted webhook can be claimed (0 if one
 * already can), or null when none is pending: how long an idle sender may sleep (sender.ts). Asked only after
 * something changed, never on an idle timer.
 */
export async function nextDueInMs(db: Db): Promise<number | null> {
  const [row] = rowsOf<{ ms: number | string | null }>(
    await db.execute(sql`
      select extract(epoch from (min(greatest(d.next_attempt_at, coalesce(d.locked_until, d.next_attempt_at))) - now())) * 1000 as ms
      from webhook_deliveries d join webhooks w on w.id = d.webhook_id
      where d.status = 'pending' and w.enabled and w.muted_at is null`),
  );
  // min() of no rows is null (nothing pending); a past due time is 0.
  return row?.ms == null ? null : Math.max(0, Number(row.ms));
}
