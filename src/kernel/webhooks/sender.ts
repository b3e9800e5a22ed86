/**
 * The webhook sender: runs in every kernel. It claims due deliveries from the database (store.ts: several
 * kernels share the work without sending a row twice), sends up to CONCURRENCY at a time, and records each
 * outcome. The rows are the queue, so nothing lives only in memory: a kernel that stops or dies mid-send
 * leaves its claim behind and the delivery is sent again once the claim expires.
 *
 * It looks for due rows immediately after an attempt finishes (there may be more waiting), when kicked
 * (redeliver, unmute) and on a NOTIFY from migration 0009's trigger (a delivery inserted by any kernel). While
 * that LISTEN is healthy an idle sender sleeps until the next pending delivery is due (asked once after each
 * change), at most IDLE_SAFETY_MS; without it (connection down) it polls every min(1 s, WEBHOOK_RETRY_BASE).
 */
import { errorMessage } from "../../core/errors.ts";
import type { KernelContext } from "../context.ts";
import { recordOutcome, sendOnce } from "./attempt.ts";
import type { Listener } from "../../db/notify.ts";
import { type ClaimedDelivery, claimDue, nextDueInMs, pruneDeliveries } from "./store.ts";

/** The channel migration 0009's trigger NOTIFYs when deliveries are inserted. */
export const WEBHOOKS_CHANNEL = "webencode_webhooks";
/** Longest idle sleep while LISTEN is healthy: the safety net for a NOTIFY lost to a reconnect race. */
const IDLE_SAFETY_MS = 5_000;

/** Attempts in flight per kernel: a slow endpoint (up to WEBHOOK_TIMEOUT each) must not hold up the others. */
const CONCURRENCY = 16;
/** A claim outlives one attempt (WEBHOOK_TIMEOUT) by this much: time to build the payload and record the result. */
const CLAIM_MARGIN_MS = 5_000;
/** How often finished deliveries older than EVENT_RETENTION are removed from the log. */
const PRUNE_EVERY_MS = 10 * 60_000;

export interface WebhookSender {
  /** Look for due deliveries now. */
  kick(): void;
  /** Queries the sender has made (claims and look-aheads): tests show an idle sender makes none. */
  queryCount(): number;
  /**
   * Stops claiming, gives attempts in flight a short grace to finish and record, then aborts the rest
   * (their rows keep their claim and are retried when it expires). Bounded.
   */
  stop(graceMs?: number): Promise<void>;
}

const senders = new WeakMap<KernelContext, WebhookSender>();

/** Kicks the kernel's sender, if it runs (API routes call this after redeliver and unmute). */
export function kickWebhookSender(ctx: KernelContext): void {
  senders.get(ctx)?.kick();
}

/** The kernel's sender, if it runs (tests read its query count). */
export function webhookSenderOf(ctx: KernelContext): WebhookSender | undefined {
  return senders.get(ctx);
}

export function startWebhookSender(ctx: KernelContext): WebhookSender {
  const { logger, config } = ctx;
  const pollMs = Math.max(50, Math.min(1000, config.WEBHOOK_RETRY_BASE));
  const lockMs = config.WEBHOOK_TIMEOUT + CLAIM_MARGIN_MS;
  const abort = new AbortController();
  const inflight = new Set<Promise<void>>();
  let stopping = false;
  let wake: (() => void) | undefined;
  let kicked = false;
  let lastError = "";
  /** Something changed since the sender last asked when the next delivery is due (nextDueInMs). */
  let changed = true;
  let nextDueAt: number | null = null;
  /** Test hook: claim/look-ahead queries made, to show an idle sender makes none. */
  let queries = 0;

  const kick = () => {
    kicked = true;
    changed = true;
    wake?.();
  };
  let listener: Listener | undefined;
  const listening = ctx.database.listen?.(WEBHOOKS_CHANNEL, kick).then(
    (l) => (listener = l),
    (error) => logger.warn({ error: errorMessage(error) }, "LISTEN for webhook deliveries failed; the sender polls"),
  );
  /** How long to sleep with nothing claimed: until the next due delivery while LISTEN is healthy, else pollMs. */
  const idleWaitMs = async (claimedNone: boolean): Promise<number> => {
    if (!claimedNone || inflight.size || !listener?.healthy()) return pollMs;
    // A due time that has passed: sent meanwhile, or still claimed elsewhere (then its claim's end is next).
    if (changed || (nextDueAt !== null && nextDueAt <= Date.now())) {
      changed = false;
      queries++;
      const ms = await nextDueInMs(ctx.db);
      nextDueAt = ms === null ? null : Date.now() + ms;
    }
    const until = nextDueAt === null ? IDLE_SAFETY_MS : nextDueAt - Date.now();
    return Math.max(pollMs, Math.min(IDLE_SAFETY_MS, until));
  };

  const run = (claimed: ClaimedDelivery) => {
    const p = (async () => {
      try {
        const outcome = await sendOnce(ctx, claimed, abort.signal);
        await recordOutcome(ctx, claimed, outcome);
      } catch (error) {
        // A database error while recording: the claim expires and the row is sent again (at least once).
        logger.warn({ error: errorMessage(error), delivery_id: claimed.id, webhook_id: claimed.webhook_id }, "webhook delivery not recorded; it is retried after its claim expires");
      }
    })().finally(() => {
      inflight.delete(p);
      kick();
    });
    inflight.add(p);
  };

  let prunedAt = 0;
  const prune = async () => {
    prunedAt = Date.now();
    const n = await pruneDeliveries(ctx.db, config.EVENT_RETENTION);
    if (n) logger.info({ deleted: n, retention_ms: config.EVENT_RETENTION }, "old webhook deliveries removed from the log (EVENT_RETENTION)");
  };

  const loop = (async () => {
    while (!stopping) {
      kicked = false;
      let waitMs = pollMs;
      if (Date.now() - prunedAt >= PRUNE_EVERY_MS) await prune().catch((error) => logger.warn({ error: errorMessage(error) }, "webhook sender: pruning the delivery log failed"));
      try {
        queries++;
        const claimed = await claimDue(ctx.db, CONCURRENCY - inflight.size, lockMs);
        if (stopping) break; // claimed rows keep their claim: another kernel (or the next start) sends them
        for (const d of claimed) run(d);
        lastError = "";
        if (!kicked) waitMs = await idleWaitMs(claimed.length === 0);
      } catch (error) {
        changed = true;
        const msg = errorMessage(error);
        if (msg !== lastError) logger.warn({ error: msg }, "webhook sender: claiming due deliveries failed; retrying");
        lastError = msg;
      }
      if (stopping || kicked) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  })();

  const sender: WebhookSender = {
    kick,
    queryCount: () => queries,
    async stop(graceMs = Math.min(2_000, config.WEBHOOK_TIMEOUT)) {
      stopping = true;
      wake?.();
      await loop;
      await listening;
      await listener?.close();
      if (inflight.size) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([Promise.allSettled([...inflight]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
      }
      if (inflight.size) {
        logger.info({ in_flight: inflight.size }, "webhook sender: aborting attempts in flight; they are retried after their claims expire");
        abort.abort();
        await Promise.allSettled([...inflight]);
      }
      senders.delete(ctx);
    },
  };
  senders.set(ctx, sender);
  return sender;
}
