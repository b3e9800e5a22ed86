/**
 * Opaque access tokens (RFC 7662 token introspection). Some providers hand out tokens that are not JWTs
 * (Okta's and Keycloak's opaque/reference tokens), and a JWT cannot tell whether it was revoked. With a client
 * secret (OIDC_CLIENT_SECRET) and an `introspection_endpoint` in the discovery document, such tokens are asked
 * about: the provider answers whether the token is active and with which claims. Results are cached briefly
 * per token (positive until at most `exp`, negative for a few seconds) so a stream of garbage tokens does not
 * turn into a stream of requests to the provider.
 */
import type { JWTPayload } from "jose";
import { PluginError } from "../../src/plugin-runtime/sdk.ts";

export interface IntrospectionOptions {
  endpoint: string;
  clientId: string;
  clientSecret: string;
  issuer: string;
  audience: string | string[];
  timeoutMs: number;
  clockToleranceS: number;
  /** How long a positive answer is reused (capped by the token's exp). */
  cacheMs?: number;
}

const MAX_CACHE = 10_000;

/** The checks of an introspection answer, as for a JWT: active, issuer, audience, expiry, subject. Pure. */
export function checkIntrospection(answer: Record<string, unknown>, options: Pick<IntrospectionOptions, "issuer" | "audience" | "clockToleranceS">, nowS: number): JWTPayload {
  if (answer.active !== true) throw new PluginError("WE-AUTH-001", "auth-oidc: the token is not active (unknown, revoked or expired)");
  const trim = (s: string) => s.replace(/\/+$/, "");
  if (answer.iss !== undefined && (typeof answer.iss !== "string" || trim(answer.iss) !== trim(options.issuer))) throw new PluginError("WE-AUTH-001", "auth-oidc: token refused (iss mismatch)");
  const wanted = Array.isArray(options.audience) ? options.audience : [options.audience];
  const aud = answer.aud === undefined ? undefined : Array.isArray(answer.aud) ? answer.aud : [answer.aud];
  // Without `aud`, the provider's client_id must be ours (the token was issued to this application).
  const audOk = aud ? aud.some((a) => wanted.includes(String(a))) : answer.client_id === undefined || wanted.includes(String(answer.client_id));
  if (!audOk) throw new PluginError("WE-AUTH-001", "auth-oidc: token refused (aud mismatch)");
  if (typeof answer.exp === "number" && answer.exp + options.clockToleranceS < nowS) throw new PluginError("WE-AUTH-002", "auth-oidc: the token has expired");
  if (typeof answer.sub !== "string" || !answer.sub) throw new PluginError("WE-AUTH-001", "auth-oidc: the introspection answer names no subject");
  return answer as JWTPayload;
}

export class Introspector {
  private cache = new Map<string, { until: number; claims?: JWTPayload; error?: PluginError }>();

  constructor(private readonly o: IntrospectionOptions) {}

  async introspect(token: string): Promise<JWTPayload> {
    const key = new Bun.CryptoHasher("sha256").update(token).digest("hex");
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) {
      if (hit.error) throw hit.error;
      return hit.claims!;
    }
    let answer: Record<string, unknown>;
    try {
      const res = await fetch(this.o.endpoint, {
        method: "POST",
        redirect: "error",
        signal: AbortSignal.timeout(this.o.timeoutMs),
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
          authorization: `Basic ${btoa(`${encodeURIComponent(this.o.clientId)}:${encodeURIComponent(this.o.clientSecret)}`)}`,
        },
        body: new URLSearchParams({ token, token_type_hint: "access_token" }),
      });
      if (res.status === 401 || res.status === 403) throw new Error(`the provider refused this client's credentials (HTTP ${res.status}): check OIDC_CLIENT_ID and OIDC_CLIENT_SECRET`);
      if (res.status !== 200) throw new Error(`introspection answered HTTP ${res.status}`);
      answer = (await res.json()) as Record<string, unknown>;
    } catch (e) {
      throw new PluginError("WE-AUTH-005", `auth-oidc: token introspection unavailable (${(e as Error)?.message ?? String(e)})`);
    }
    const now = Date.now();
    try {
      const claims = checkIntrospection(answer, this.o, Math.floor(now / 1000));
      const expMs = typeof claims.exp === "number" ? claims.exp * 1000 : Number.POSITIVE_INFINITY;
      this.remember(key, { until: Math.min(now + (this.o.cacheMs ?? 30_000), expMs), claims });
      return claims;
    } catch (e) {
      this.remember(key, { until: now + 5_000, error: e as PluginError });
      throw e;
    }
  }

  private remember(key: string, entry: { until: number; claims?: JWTPayload; error?: PluginError }): void {
    if (this.cache.size >= MAX_CACHE) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, entry);
  }
}

/** A JWS compact token has three base64url parts; anything else is treated as opaque. Pure. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}
