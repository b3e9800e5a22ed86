/**
 * The restream task's token: what its worker presents (`Authorization: Bearer <token>`) to GET the restream's
 * destinations with their keys opened (internal.ts). Shape `wrt1.<restream id>.<expiry s>.<mac>`, HMAC under
 * the kernel secret (SecretBox.mac, purpose "restream-internal"), like the live token (live/token.ts): any
 * kernel of the deployment verifies it, and it is good for one restream only. Pure.
 */
import type { SecretBox } from "../../core/secret-box.ts";

const VERSION = "wrt1";
const PURPOSE = "restream-internal";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A task keeps its token for its whole life (params are written once): as long as a streaming task's deadline. */
export const RESTREAM_TOKEN_TTL_MS = 7 * 24 * 3600 * 1000;

export type RestreamTokenCheck = { ok: true } | { ok: false; reason: "missing" | "malformed" | "wrong_restream" | "expired" | "bad_signature" };

export function signRestreamToken(box: Pick<SecretBox, "mac">, restreamId: string, expiresAt: Date): string {
  if (!UUID.test(restreamId)) throw new Error(`restream token: id must be a UUID, got ${JSON.stringify(restreamId)}`);
  const expiry = Math.floor(expiresAt.getTime() / 1000);
  return `${VERSION}.${restreamId}.${expiry}.${box.mac(PURPOSE, `${restreamId}.${expiry}`)}`;
}

export function verifyRestreamToken(box: Pick<SecretBox, "macMatches">, token: string | null, restreamId: string, nowMs: number): RestreamTokenCheck {
  if (!token) return { ok: false, reason: "missing" };
  const [version = "", id = "", expiry = "", mac = "", ...rest] = token.split(".");
  if (rest.length > 0 || version !== VERSION || !UUID.test(id) || !/^\d{1,12}$/.test(expiry) || !/^[A-Za-z0-9_-]{43}$/.test(mac)) return { ok: false, reason: "malformed" };
  if (id !== restreamId) return { ok: false, reason: "wrong_restream" };
  if (!box.macMatches(PURPOSE, `${id}.${expiry}`, mac)) return { ok: false, reason: "bad_signature" };
  if (Number(expiry) * 1000 <= nowMs) return { ok: false, reason: "expired" };
  return { ok: true };
}
