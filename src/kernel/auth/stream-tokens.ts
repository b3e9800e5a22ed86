/**
 * Stream tokens: browsers' EventSource cannot send an Authorization header, so a signed-in client asks for a
 * short-lived token (`POST /v1/events/tokens`) and opens `GET /v1/events?access_token=est_…`. The token is
 * only accepted on that route (read-only events), carries the caller's identity and role at issue time, and
 * expires within an hour at most — what leaks with a URL (proxy logs, browser history) is little and brief.
 * Signed with a key derived from SECRET_KEY, so any kernel accepts a token another kernel issued.
 * A token issued for an API key (`sub` = "key:<id>") follows that key: GET /v1/events refuses it once the key
 * is revoked or expired, and the hub ends its open streams (api/events.ts, events/hub.ts recheckCredentials).
 */
import type { SecretBox } from "../../core/secret-box.ts";
import { ROLES, type Principal, type Role } from "./principal.ts";

export const STREAM_TOKEN_PREFIX = "est_";
const PURPOSE = "events-stream-token";

export function issueStreamToken(box: SecretBox, principal: Principal, ttlS: number, nowMs = Date.now()): { token: string; expiresAt: Date } {
  const exp = Math.floor(nowMs / 1000) + ttlS;
  const body = Buffer.from(JSON.stringify({ sub: principal.id, name: principal.name, role: principal.role, via: principal.via, exp })).toString("base64url");
  return { token: `${STREAM_TOKEN_PREFIX}${body}.${box.mac(PURPOSE, body)}`, expiresAt: new Date(exp * 1000) };
}

/** The principal a stream token stands for; a reason when it is malformed, forged or expired. */
export function verifyStreamToken(box: SecretBox, token: string, nowMs = Date.now()): { ok: true; principal: Principal } | { ok: false; reason: "invalid" | "expired" } {
  if (!token.startsWith(STREAM_TOKEN_PREFIX)) return { ok: false, reason: "invalid" };
  const [body, mac, extra] = token.slice(STREAM_TOKEN_PREFIX.length).split(".");
  if (!body || !mac || extra !== undefined || !box.macMatches(PURPOSE, body, mac)) return { ok: false, reason: "invalid" };
  let claims: { sub?: unknown; name?: unknown; role?: unknown; via?: unknown; exp?: unknown };
  try {
    claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    return { ok: false, reason: "invalid" };
  }
  if (typeof claims.sub !== "string" || typeof claims.exp !== "number" || !(ROLES as readonly unknown[]).includes(claims.role)) return { ok: false, reason: "invalid" };
  if (claims.exp * 1000 <= nowMs) return { ok: false, reason: "expired" };
  return { ok: true, principal: { id: claims.sub, name: String(claims.name ?? claims.sub), role: claims.role as Role, via: `stream-token:${String(claims.via ?? "")}` } };
}
