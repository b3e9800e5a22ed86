/**
 * The internal live token: what a worker presents (`Authorization: Bearer <token>`) when it pulls a live
 * session's source (`GET /internal/live/<session>/source.flv`) and when it PUTs the session's segments and
 * playlists (`PUT /internal/live/<session>/<rung>/<file>`).
 *
 * Shape: `wlt1.<session id>.<expiry, epoch seconds>.<mac>`, the MAC being HMAC-SHA256 under a key derived from
 * the kernel secret (SecretBox.mac, purpose "live-internal") over `<session id>.<expiry>`. Every kernel of a
 * deployment shares SECRET_KEY, so any kernel verifies a token another one signed (a worker may PUT to any
 * kernel behind the load balancer), and a token is good for one session only. Pure: no clock, no I/O.
 */
import type { SecretBox } from "../../core/secret-box.ts";

const VERSION = "wlt1";
const PURPOSE = "live-internal";
/** Session ids are UUIDs; anything else in that place is refused before the MAC is computed. */
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * How long a token signed for a session is good for. A live task keeps its token for the whole session (the
 * params are written once), so this bounds the longest session a worker can serve without a new attempt; a
 * restarted attempt (worker death, lease expiry) gets a fresh token. One week: long enough for any event,
 * short enough that a leaked token dies on its own.
 */
export const LIVE_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;

export type LiveTokenCheck = { ok: true; expiresAt: Date } | { ok: false; reason: "malformed" | "wrong_session" | "expired" | "bad_signature" };

export function signLiveToken(box: Pick<SecretBox, "mac">, sessionId: string, expiresAt: Date): string {
  if (!SESSION_ID.test(sessionId)) throw new Error(`live token: session id must be a UUID, got ${JSON.stringify(sessionId)}`);
  const expirySeconds = Math.floor(expiresAt.getTime() / 1000);
  return `${VERSION}.${sessionId}.${expirySeconds}.${box.mac(PURPOSE, `${sessionId}.${expirySeconds}`)}`;
}

/** Checks a token presented for `sessionId` at time `nowMs` (the session in the URL must be the token's). */
export function verifyLiveToken(box: Pick<SecretBox, "macMatches">, token: string, sessionId: string, nowMs: number): LiveTokenCheck {
  const parts = token.split(".");
  if (parts.length !== 4) return { ok: false, reason: "malformed" };
  const [version = "", tokenSession = "", expiryText = "", mac = ""] = parts;
  if (version !== VERSION || !SESSION_ID.test(tokenSession) || !/^\d{1,12}$/.test(expiryText) || !/^[A-Za-z0-9_-]{43}$/.test(mac))
    return { ok: false, reason: "malformed" };
  if (tokenSession !== sessionId) return { ok: false, reason: "wrong_session" };
  if (!box.macMatches(PURPOSE, `${tokenSession}.${expiryText}`, mac)) return { ok: false, reason: "bad_signature" };
  const expiresAt = new Date(Number(expiryText) * 1000);
  if (expiresAt.getTime() <= nowMs) return { ok: false, reason: "expired" };
  return { ok: true, expiresAt };
}

/** The token from an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(header: string | null | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1] ?? null;
}
