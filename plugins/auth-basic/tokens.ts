/**
 * auth-basic's tokens: HS256 JWTs (jose) signed with the deployment-wide `session_secret`.
 *
 *   access  (typ "access")  short-lived (session_ttl); proves who the caller is on every request.
 *   refresh (typ "refresh") long-lived (refresh_ttl); exchanged for a new pair at /v1/auth/refresh.
 *
 * Both carry the user's token_version (`ver`): bumping it in the configuration revokes every token issued
 * before. Nothing is stored per token, so an old refresh token stays usable until it expires or the version
 * is bumped (rotation hands out a new one, it cannot retire the old one without server-side state).
 */
import { errors, SignJWT, decodeJwt, jwtVerify } from "jose";
import { PluginError } from "../../src/plugin-runtime/sdk.ts";
import type { AuthTokens } from "../../src/plugin-runtime/pillars.ts";

export const ISSUER = "webencode-auth-basic";
const AUDIENCE = "webencode";
export type TokenType = "access" | "refresh";

export interface TokenClaims {
  sub: string;
  typ: TokenType;
  ver: number;
  exp: number;
}

export function keyOf(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

async function sign(key: Uint8Array, sub: string, typ: TokenType, ver: number, ttlS: number, nowS: number): Promise<string> {
  return new SignJWT({ typ, ver })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject(sub)
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + ttlS)
    .setJti(crypto.randomUUID())
    .sign(key);
}

export async function issueTokens(
  key: Uint8Array,
  user: { username: string; token_version: number },
  ttl: { session: number; refresh: number },
  nowS = Math.floor(Date.now() / 1000),
): Promise<AuthTokens> {
  return {
    access_token: await sign(key, user.username, "access", user.token_version, ttl.session, nowS),
    refresh_token: await sign(key, user.username, "refresh", user.token_version, ttl.refresh, nowS),
    token_type: "Bearer",
    expires_in: ttl.session,
  };
}

/** Cheap pre-check without the key: is this a JWT of ours at all? (Only ever used to refuse early.) */
export function looksOurs(token: string): boolean {
  try {
    return decodeJwt(token).iss === ISSUER;
  } catch {
    return false;
  }
}

/**
 * Verifies signature, issuer, audience, expiry and type. WE-AUTH-002 when expired (after the signature was
 * checked: jose verifies the signature before the claims), WE-AUTH-001 for anything else.
 */
export async function verifyToken(key: Uint8Array, token: string, typ: TokenType): Promise<TokenClaims> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ["HS256"], requiredClaims: ["sub", "exp"] }));
  } catch (e) {
    if (e instanceof errors.JWTExpired) throw new PluginError("WE-AUTH-002", `auth-basic: the ${typ === "access" ? "session" : "refresh"} token has expired`);
    throw new PluginError("WE-AUTH-001", `auth-basic: invalid ${typ === "access" ? "session" : "refresh"} token`);
  }
  if (payload.typ !== typ || typeof payload.ver !== "number") throw new PluginError("WE-AUTH-001", `auth-basic: not a ${typ === "access" ? "session" : "refresh"} token`);
  return { sub: String(payload.sub), typ, ver: payload.ver, exp: Number(payload.exp) };
}
