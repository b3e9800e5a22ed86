/**
 * Webhook signatures (pure). What is signed, exactly (docs/webhooks.md has the receiver's recipe):
 *
 *   X-WebEncode-Timestamp: <t>                 unix seconds when this attempt was sent
 *   X-WebEncode-Signature: sha256=<hex>        hex HMAC-SHA256, keyed with the webhook secret (its UTF-8
 *                                              bytes, as given or as generated, prefix included), of the
 *                                              UTF-8 string "<t>.<raw request body>"
 *
 * The timestamp is inside the MAC so a captured request cannot be replayed later with a fresh timestamp:
 * receivers reject signatures whose timestamp is too old. Every attempt is signed anew (new timestamp), the
 * event id in the body stays the same.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "X-WebEncode-Signature";
export const TIMESTAMP_HEADER = "X-WebEncode-Timestamp";
export const EVENT_ID_HEADER = "X-WebEncode-Event-Id";
export const EVENT_TYPE_HEADER = "X-WebEncode-Event-Type";
export const DELIVERY_ID_HEADER = "X-WebEncode-Delivery-Id";

/** The header value `sha256=<hex>` for `body` sent at `timestamp` (unix seconds). */
export function signPayload(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex")}`;
}

/**
 * What a receiver does (used by tests, and the reference for docs/webhooks.md): recompute, compare in
 * constant time, and refuse timestamps further than `toleranceS` from `nowS` (replays, badly skewed clocks).
 */
export function verifySignature(
  secret: string,
  headers: { timestamp: string | null; signature: string | null },
  body: string,
  nowS: number,
  toleranceS = 300,
): { ok: true } | { ok: false; reason: string } {
  if (!headers.timestamp || !/^\d{1,12}$/.test(headers.timestamp)) return { ok: false, reason: "missing or malformed timestamp" };
  if (!headers.signature) return { ok: false, reason: "missing signature" };
  const t = Number(headers.timestamp);
  if (Math.abs(nowS - t) > toleranceS) return { ok: false, reason: `timestamp ${t} is more than ${toleranceS} s from now` };
  const expected = Buffer.from(signPayload(secret, t, body));
  const given = Buffer.from(headers.signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: "signature mismatch" };
  return { ok: true };
}

/** A generated secret: 32 random bytes, base64url, with a prefix that makes it recognisable in a vault. */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}
