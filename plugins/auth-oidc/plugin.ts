/**
 * auth-oidc: accepts access tokens (JWTs) issued by an OpenID Connect provider (Keycloak, Auth0, Okta, …).
 * Checks signature (JWKS with key rotation), issuer, audience, expiry and algorithm (provider.ts); roles
 * come from a configurable claim, optionally mapped from the provider's names (claims.ts).
 */
import * as v from "valibot";
import type { AuthIdentity, AuthPlugin } from "../../src/plugin-runtime/pillars.ts";
import { PluginError, definePlugin } from "../../src/plugin-runtime/sdk.ts";
import { WEBENCODE_ROLES, claimAt, displayName, mapRoles, namesOf } from "./claims.ts";
import { Introspector, looksLikeJwt } from "./introspect.ts";
import { OidcProvider, isAcceptableUrl } from "./provider.ts";

/** Asymmetric algorithms only: `none` and HS* (which would let a public key act as a shared secret) never. */
export const ASYMMETRIC_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"] as const;

const role = v.picklist(WEBENCODE_ROLES, "must be viewer, operator or admin");
const httpsUrl = v.pipe(v.string(), v.check(isAcceptableUrl, "must be an https:// URL (http:// only on loopback)"));

export const config = v.object({
  /** The provider's issuer URL (the `iss` of its tokens). Default: OIDC_ISSUER_URL. */
  issuer_url: v.optional(httpsUrl),
  /** This application's client id; the default audience. Default: OIDC_CLIENT_ID. */
  client_id: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Client secret for introspecting opaque (non-JWT) access tokens (RFC 7662). Default: OIDC_CLIENT_SECRET. */
  client_secret: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Accepted `aud` value(s) when they differ from the client id (e.g. an Auth0 API identifier). */
  audience: v.optional(v.union([v.pipe(v.string(), v.minLength(1)), v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.minLength(1))])),
  /** Where the roles are: a claim name or a dotted path (`realm_access.roles`, `groups`, `https://x/roles`). */
  roles_claim: v.optional(v.pipe(v.string(), v.minLength(1)), "roles"),
  /** Provider role/group name → WebEncode role. When set, only mapped names count. */
  role_map: v.optional(v.record(v.pipe(v.string(), v.minLength(1)), role)),
  /** Role of an authenticated user none of whose names map to a role; unset = such users get 403. */
  default_role: v.optional(role),
  /** Claim shown as the user's name (default: name, preferred_username, email, sub). */
  name_claim: v.optional(v.pipe(v.string(), v.minLength(1))),
  algorithms: v.optional(v.pipe(v.array(v.picklist(ASYMMETRIC_ALGS, `algorithms must be among ${ASYMMETRIC_ALGS.join(", ")}`)), v.minLength(1)), [...ASYMMETRIC_ALGS]),
  /** Seconds of clock skew allowed on exp/nbf/iat. */
  clock_tolerance: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(300)), 30),
  /** Seconds after a JWKS fetch before an unknown `kid` may trigger another one. */
  jwks_cooldown: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(3600)), 30),
  /** Timeout of discovery and JWKS requests, in seconds. */
  http_timeout: v.optional(v.pipe(v.number(), v.minValue(0.1), v.maxValue(60)), 5),
});

export default definePlugin({
  id: "auth-oidc",
  pillar: "auth",
  version: "1.0.0",
  priority: 90,
  capabilities: ["authenticate", "jwks-rotation"],
  config,
  secretFields: ["client_secret"],
  // OIDC_CLIENT_SECRET is only used to introspect opaque tokens; JWT access tokens are checked without it.
  env: ["OIDC_ISSUER_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"],
  async create({ config: c, env, log }): Promise<AuthPlugin> {
    const issuerUrl = c.issuer_url ?? env.OIDC_ISSUER_URL;
    const clientId = c.client_id ?? env.OIDC_CLIENT_ID;
    const audience = c.audience ?? clientId;
    const clientSecret = c.client_secret ?? env.OIDC_CLIENT_SECRET;
    const issues: Array<{ path: string; message: string }> = [];
    if (!issuerUrl) issues.push({ path: "issuer_url", message: "set issuer_url or OIDC_ISSUER_URL" });
    else if (!isAcceptableUrl(issuerUrl)) issues.push({ path: "issuer_url", message: "must be an https:// URL (http:// only on loopback)" });
    if (!audience) issues.push({ path: "client_id", message: "set client_id (or OIDC_CLIENT_ID) or audience: tokens are only accepted for this audience" });
    if (issues.length) throw new PluginError("WE-PLG-003", `invalid configuration for auth-oidc: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, { issues });

    const provider = new OidcProvider({
      issuerUrl: issuerUrl!,
      audience: audience!,
      algorithms: c.algorithms,
      clockToleranceS: c.clock_tolerance,
      jwksCooldownMs: c.jwks_cooldown * 1000,
      httpTimeoutMs: Math.round(c.http_timeout * 1000),
      retryMs: 5_000,
    });
    // discover() never throws: a provider that is down at start leaves the plugin degraded (and retried), not failed.
    await provider.discover();
    if (provider.problem) log.warn("auth-oidc: identity provider unavailable", { issuer: issuerUrl, problem: provider.problem });
    else log.info("auth-oidc ready", { issuer: provider.issuer, audience, roles_claim: c.roles_claim });

    let introspector: Introspector | undefined;
    /** Opaque tokens: only with a client secret and a provider that offers introspection. */
    const introspect = async (token: string) => {
      if (!clientSecret || !clientId) throw new PluginError("WE-AUTH-001", "auth-oidc: not a JWT (set OIDC_CLIENT_SECRET to accept opaque tokens)");
      const d = await provider.ready();
      if (!d.introspectionEndpoint) throw new PluginError("WE-AUTH-001", "auth-oidc: not a JWT, and the provider offers no introspection endpoint");
      introspector ??= new Introspector({
        endpoint: d.introspectionEndpoint,
        clientId,
        clientSecret,
        issuer: d.issuer,
        audience: audience!,
        timeoutMs: Math.round(c.http_timeout * 1000),
        clockToleranceS: c.clock_tolerance,
      });
      return introspector.introspect(token);
    };

    return {
      health() {
        provider.retryIfDue();
        return provider.problem ? { status: "degraded" as const, detail: provider.problem } : { status: "ok" as const, detail: `issuer ${provider.issuer}` };
      },

      async authenticate(p: { token: string }): Promise<AuthIdentity> {
        if (typeof p?.token !== "string") throw new PluginError("WE-AUTH-001", "auth-oidc: token must be a string");
        const claims = looksLikeJwt(p.token) ? await provider.verify(p.token) : await introspect(p.token);
        const subject = String(claims.sub);
        const name = displayName(claims, c.name_claim);
        const found = namesOf(claimAt(claims, c.roles_claim));
        const roles = mapRoles(found, c.role_map, c.default_role);
        if (!roles.length)
          throw new PluginError("WE-AUTH-003", `auth-oidc: ${name} is signed in but has no WebEncode role (claim ${c.roles_claim}: ${found.length ? found.join(", ") : "absent"}); ask an administrator to grant one`, {
            subject,
            roles_claim: c.roles_claim,
          });
        return { subject, name, roles, ...(typeof claims.exp === "number" ? { expires_at: new Date(claims.exp * 1000).toISOString() } : {}) };
      },

      close() {},
    };
  },
});
