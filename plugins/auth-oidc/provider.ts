/**
 * One OpenID Connect provider: its discovery document (`<issuer>/.well-known/openid-configuration`), its
 * JWKS (jose's createRemoteJWKSet: cached, refetched when a token names an unknown `kid`, at most once per
 * cooldown) and token verification. A provider that cannot be reached leaves the plugin degraded, and tokens
 * that name it as issuer get WE-AUTH-005 instead of a misleading "invalid token".
 */
import { type JWTPayload, createRemoteJWKSet, decodeJwt, errors, jwtVerify } from "jose";
import { PluginError } from "../../src/plugin-runtime/sdk.ts";

export interface ProviderOptions {
  issuerUrl: string;
  audience: string | string[];
  algorithms: string[];
  clockToleranceS: number;
  jwksCooldownMs: number;
  httpTimeoutMs: number;
  /** How often a failed discovery is retried (on calls and health checks). */
  retryMs: number;
}

interface Discovered {
  issuer: string;
  jwks: ReturnType<typeof createRemoteJWKSet>;
  /** RFC 7662 endpoint for opaque tokens, when the provider has one (introspect.ts). */
  introspectionEndpoint?: string;
}

const trimSlash = (s: string) => s.replace(/\/+$/, "");

/** Issuer and JWKS must be https, except on loopback (a provider on the same host, tests). Pure. */
export function isAcceptableUrl(text: string): boolean {
  try {
    const u = new URL(text);
    if (u.protocol === "https:") return true;
    return u.protocol === "http:" && (u.hostname === "localhost" || u.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(u.hostname));
  } catch {
    return false;
  }
}

export class OidcProvider {
  private discovered: Discovered | undefined;
  private discovering: Promise<void> | undefined;
  private lastAttempt = 0;
  /** Why the provider is unusable right now (discovery or JWKS failure); undefined when fine. */
  problem: string | undefined = "discovery not done yet";

  constructor(private readonly o: ProviderOptions) {}

  get issuer(): string {
    return this.discovered?.issuer ?? this.o.issuerUrl;
  }

  /** Fetches the discovery document (once at a time); never throws, records the problem instead. */
  discover(): Promise<void> {
    this.discovering ??= (async () => {
      this.lastAttempt = Date.now();
      const url = `${trimSlash(this.o.issuerUrl)}/.well-known/openid-configuration`;
      try {
        const res = await fetch(url, { redirect: "error", signal: AbortSignal.timeout(this.o.httpTimeoutMs), headers: { accept: "application/json" } });
        if (res.status !== 200) throw new Error(`${url} answered HTTP ${res.status}`);
        const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown; introspection_endpoint?: unknown };
        if (typeof doc.issuer !== "string" || trimSlash(doc.issuer) !== trimSlash(this.o.issuerUrl))
          throw new Error(`the discovery document's issuer ${JSON.stringify(doc.issuer)} is not the configured issuer ${this.o.issuerUrl}`);
        if (typeof doc.jwks_uri !== "string" || !isAcceptableUrl(doc.jwks_uri)) throw new Error(`the discovery document has no usable https jwks_uri (${JSON.stringify(doc.jwks_uri)})`);
        this.discovered = {
          issuer: doc.issuer,
          jwks: createRemoteJWKSet(new URL(doc.jwks_uri), { cooldownDuration: this.o.jwksCooldownMs, timeoutDuration: this.o.httpTimeoutMs }),
          introspectionEndpoint: typeof doc.introspection_endpoint === "string" && isAcceptableUrl(doc.introspection_endpoint) ? doc.introspection_endpoint : undefined,
        };
        this.problem = undefined;
      } catch (e) {
        this.problem = `discovery failed: ${(e as Error)?.message ?? String(e)}`;
      } finally {
        this.discovering = undefined;
      }
    })();
    return this.discovering;
  }

  /** The discovered document, discovering first when needed; WE-AUTH-005 when the provider is unreachable. */
  async ready(): Promise<Discovered> {
    if (!this.discovered) {
      this.retryIfDue();
      if (this.discovering) await this.discovering;
    }
    if (!this.discovered) throw new PluginError("WE-AUTH-005", `auth-oidc: identity provider ${this.o.issuerUrl} unavailable (${this.problem})`);
    return this.discovered;
  }

  /** Retries a failed discovery in the background when the retry interval has passed. */
  retryIfDue(): void {
    if (this.discovering || Date.now() - this.lastAttempt < this.o.retryMs) return;
    if (!this.discovered) {
      void this.discover();
      return;
    }
    if (!this.problem) return;
    // A JWKS failure seen by an earlier call: check whether the key set is reachable again.
    this.lastAttempt = Date.now();
    this.discovered.jwks.reload().then(
      () => (this.problem = undefined),
      (e) => (this.problem = `JWKS unavailable: ${(e as Error)?.message ?? String(e)}`),
    );
  }

  /**
   * Verifies a token of this provider. WE-AUTH-001 for a token that is not ours or not valid, WE-AUTH-002
   * expired, WE-AUTH-005 when the provider (discovery or JWKS) cannot be reached.
   */
  async verify(token: string): Promise<JWTPayload> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw new PluginError("WE-AUTH-001", "auth-oidc: not a JWT");
    }
    // Only a refusal is decided on unverified data: tokens of other issuers (auth-basic's, another IdP's)
    // are turned away without touching the network.
    if (typeof unverified.iss !== "string" || trimSlash(unverified.iss) !== trimSlash(this.issuer)) throw new PluginError("WE-AUTH-001", "auth-oidc: token from another issuer");
    const d = await this.ready();
    try {
      const { payload } = await jwtVerify(token, d.jwks, {
        issuer: d.issuer,
        audience: this.o.audience,
        algorithms: this.o.algorithms,
        clockTolerance: this.o.clockToleranceS,
        requiredClaims: ["sub", "exp"],
      });
      if (this.problem) this.problem = undefined;
      return payload;
    } catch (e) {
      throw this.mapError(e);
    }
  }

  private mapError(cause: unknown): PluginError {
    if (cause instanceof errors.JWTExpired) return new PluginError("WE-AUTH-002", "auth-oidc: the token has expired");
    if (cause instanceof errors.JWTClaimValidationFailed) return new PluginError("WE-AUTH-001", `auth-oidc: token refused (${cause.claim} ${cause.reason === "check_failed" ? "mismatch" : cause.reason})`);
    if (cause instanceof errors.JWKSNoMatchingKey) return new PluginError("WE-AUTH-001", "auth-oidc: token signed with a key the provider does not publish");
    if (cause instanceof errors.JOSEAlgNotAllowed) return new PluginError("WE-AUTH-001", "auth-oidc: token signing algorithm not allowed");
    if (
      cause instanceof errors.JWSSignatureVerificationFailed ||
      cause instanceof errors.JWSInvalid ||
      cause instanceof errors.JWTInvalid ||
      cause instanceof errors.JWKSMultipleMatchingKeys ||
      cause instanceof errors.JOSENotSupported
    )
      return new PluginError("WE-AUTH-001", "auth-oidc: invalid token");
    // The rest is the JWKS fetch: timeout, network error, non-200, unparsable key set.
    const why = (cause as Error)?.message ?? String(cause);
    this.problem = `JWKS unavailable: ${why}`;
    return new PluginError("WE-AUTH-005", `auth-oidc: identity provider ${this.o.issuerUrl} unavailable (JWKS: ${why})`);
  }
}
