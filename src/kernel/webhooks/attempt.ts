/**
 * One delivery attempt: build the body from the stored event, sign it, POST it through the outbound guard
 * (the URL is checked again at send time: DNS may have changed since the webhook was saved), and record
 * the outcome. 2xx is success; any other status, a refused address, a redirect, a timeout or a network
 * error is a failure, retried with backoff.
 */
import { errorMessage } from "../../core/errors.ts";
import { guardedFetch } from "../../core/outbound-guard.ts";
import { SecretKeyError } from "../../core/secret-box.ts";
import { VERSION } from "../../core/version.ts";
import type { KernelContext } from "../context.ts";
import { retryDelayMs } from "./backoff.ts";
import { buildPayload, loadEvent } from "./payload.ts";
import { DELIVERY_ID_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signPayload } from "./sign.ts";
import { type ClaimedDelivery, recordFailure, recordGone, recordSuccess } from "./store.ts";

/** How much of a failed response's body is kept in the delivery log (enough to see the receiver's error). */
const ERROR_BODY_BYTES = 512;

export type AttemptOutcome =
  | { kind: "succeeded"; code: number; latencyMs: number }
  | { kind: "failed"; code: number | null; latencyMs: number | null; error: string; ours: boolean }
  /** The event was removed by EVENT_RETENTION: nothing left to send. */
  | { kind: "gone" }
  /** Cut off by shutdown: nothing recorded, the claim expires and the row is sent again. */
  | { kind: "interrupted" };

/** Reads at most `max` bytes of a body as text and drops the rest (a receiver's error page may be huge). */
async function bodyPrefix(res: Response, max: number): Promise<string> {
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, max)).replace(/\s+/g, " ").trim();
}

/** Sends one claimed delivery; `signal` aborts it at shutdown. Never throws. */
export async function sendOnce(ctx: KernelContext, delivery: ClaimedDelivery, signal: AbortSignal): Promise<AttemptOutcome> {
  let secret: string;
  try {
    secret = ctx.secrets.decrypt(delivery.secret_enc);
  } catch (e) {
    return { kind: "failed", code: null, latencyMs: null, error: e instanceof SecretKeyError ? e.message : `secret unreadable: ${errorMessage(e)}`, ours: true };
  }
  const event = await loadEvent(ctx, delivery.event_id);
  if (!event) return { kind: "gone" };
  const body = JSON.stringify(await buildPayload(ctx, event));
  const timestamp = Math.floor(Date.now() / 1000);
  const started = performance.now();
  try {
    const res = await guardedFetch(
      delivery.url,
      {
        method: "POST",
        body,
        signal,
        headers: {
          "content-type": "application/json",
          "user-agent": `WebEncode-Webhooks/${VERSION}`,
          [EVENT_ID_HEADER]: String(delivery.event_id),
          [EVENT_TYPE_HEADER]: delivery.event_type,
          [DELIVERY_ID_HEADER]: delivery.id,
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signPayload(secret, timestamp, body),
        },
      },
      // No redirects: the signed request goes to the URL the admin configured or nowhere (a 3xx is a failure
      // saying so). The timeout covers connect, headers and the body read below.
      { allowCidrs: ctx.config.OUTBOUND_ALLOW_CIDRS, timeoutMs: ctx.config.WEBHOOK_TIMEOUT, maxRedirects: 0, what: "webhook url" },
    );
    const text = await bodyPrefix(res, ERROR_BODY_BYTES);
    const latencyMs = Math.round(performance.now() - started);
    if (res.status >= 200 && res.status < 300) return { kind: "succeeded", code: res.status, latencyMs };
    return { kind: "failed", code: res.status, latencyMs, error: text ? `HTTP ${res.status}: ${text}` : `HTTP ${res.status}`, ours: false };
  } catch (e) {
    if (signal.aborted) return { kind: "interrupted" };
    const latencyMs = Math.round(performance.now() - started);
    return { kind: "failed", code: null, latencyMs, error: errorMessage(e) || "request failed", ours: false };
  }
}

/** Writes an attempt's outcome, with metrics and a log line for mutes. */
export async function recordOutcome(ctx: KernelContext, claimed: ClaimedDelivery, outcome: AttemptOutcome): Promise<void> {
  const { config, metrics, logger, db } = ctx;
  if (outcome.kind === "interrupted") return;
  if (outcome.kind === "succeeded") {
    metrics.webhookDeliveries.inc({ result: "success" });
    metrics.webhookDeliveryDuration.observe(outcome.latencyMs / 1000);
    await recordSuccess(db, claimed, { responseCode: outcome.code, latencyMs: outcome.latencyMs });
    return;
  }
  if (outcome.kind === "gone") {
    await recordGone(db, claimed, `event ${claimed.event_id} is no longer stored (older than EVENT_RETENTION); it cannot be delivered`);
    return;
  }
  metrics.webhookDeliveries.inc({ result: "failure" });
  if (outcome.latencyMs !== null) metrics.webhookDeliveryDuration.observe(outcome.latencyMs / 1000);
  const r = await recordFailure(db, claimed, {
    responseCode: outcome.code,
    latencyMs: outcome.latencyMs,
    error: outcome.error,
    retryInMs: retryDelayMs(claimed.attempts + 1, { baseMs: config.WEBHOOK_RETRY_BASE }),
    windowMs: config.WEBHOOK_RETRY_WINDOW,
    muteAfter: outcome.ours ? null : config.WEBHOOK_MUTE_AFTER,
  });
  if (r.status === "failed") logger.warn({ webhook_id: claimed.webhook_id, delivery_id: claimed.id, event_id: claimed.event_id, attempts: claimed.attempts + 1, error: outcome.error }, "webhook delivery given up: retry window exceeded");
  if (r.muted)
    logger.warn(
      { webhook_id: claimed.webhook_id, consecutive_failures: r.consecutiveFailures, error: outcome.error },
      `webhook muted after ${r.consecutiveFailures} consecutive failures; deliveries wait until an admin unmutes it (POST /v1/webhooks/${claimed.webhook_id}/unmute)`,
    );
}
