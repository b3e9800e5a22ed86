/**
 * Signed, expiring URL tokens for storage-fs objects. Pure (no I/O, no clock): the plugin signs, the kernel
 * verifies when it serves `/v1/storage/storage-fs/{t|w}/<exp>.<sig>/<key>`.
 *
 *   token = `${exp}.${base64url(HMAC-SHA256(url_signing_key, `${type}\n${scope}\n${exp}`))}`
 *
 * `exp` is unix seconds; the token is valid while now < exp. `scope` is the key itself or a directory
 * prefix of it ending in "/" (keys.ts checkScope), so one read token covers every key under an HLS
 * directory and relative URLs in playlists resolve. The token type is inside the MAC: a read token ("t") can
 * never be used to write ("w"). Write tokens are always scoped to exactly one key.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { keyProblem } from "./storage-keys.ts";

export type TokenType = "t" | "w";

const TOKEN_RE = /^(\d{1,15})\.([A-Za-z0-9_-]{43})$/;

function mac(secretKey: string, scope: string, exp: number, type: TokenType): Buffer {
  return createHmac("sha256", secretKey).update(`${type}\n${scope}\n${exp}`, "utf8").digest();
}

/** `${exp}.${sig}` for `scope` (the key or a "/"-terminated prefix of it). */
export function signToken(secretKey: string, scope: string, exp: number, type: TokenType): string {
  if (!secretKey) throw new Error("signToken: empty signing key");
  if (!Number.isSafeInteger(exp) || exp <= 0) throw new Error(`signToken: exp must be positive integer unix seconds, got ${exp}`);
  if (type !== "t" && type !== "w") throw new Error(`signToken: unknown token type ${String(type)}`);
  return `${exp}.${mac(secretKey, scope, exp, type).toString("base64url")}`;
}

/** The scopes a token for `key` may have been signed with: the key, then (read tokens only) each "/" prefix. */
function candidateScopes(key: string, type: TokenType): string[] {
  const scopes = [key];
  if (type === "t") for (let i = key.indexOf("/"); i >= 0; i = key.indexOf("/", i + 1)) scopes.push(key.slice(0, i + 1));
  return scopes;
}

/**
 * True when `token` grants `type` access to `key` at `nowSec` (unix seconds, fractions allowed): well formed,
 * not expired, the key is a valid key, and the MAC matches the key or one of its directory prefixes
 * (compared in constant time).
 */
export function verifyToken(secretKey: string, token: string, key: string, type: TokenType, nowSec: number): boolean {
  if (!secretKey || typeof token !== "string" || typeof key !== "string") return false;
  if (type !== "t" && type !== "w") return false;
  const m = TOKEN_RE.exec(token);
  if (!m) return false;
  const exp = Number(m[1]);
  if (!Number.isSafeInteger(exp) || !(nowSec < exp)) return false;
  if (keyProblem(key) !== undefined) return false;
  const given = Buffer.from(m[2]!, "base64url");
  if (given.length !== 32) return false;
  let ok = false;
  for (const scope of candidateScopes(key, type)) {
    // No early exit: the time taken does not depend on which scope (if any) matched.
    if (timingSafeEqual(mac(secretKey, scope, exp, type), given)) ok = true;
  }
  return ok;
}
