/**
 * An OpenID Connect identity provider served by the test on 127.0.0.1: a discovery document, a JWKS, and
 * token signing with keys generated here (jose). Key rotation = `publish()` another key set. `down` makes
 * both endpoints answer 503, to play an unreachable provider.
 *
 * It also signs a browser in (authorization code with PKCE, as the dashboard does it): the authorization
 * endpoint approves at once as `user` (no login form) and redirects back with a one-time code; the token
 * endpoint exchanges it for a signed access token only with the matching redirect_uri, client_id and
 * code_verifier (S256), and answers with CORS headers so a page on another origin can read it.
 */
import { type CryptoKey, type JWK, type JWTPayload, SignJWT, exportJWK, generateKeyPair } from "jose";

export interface TestKey {
  kid: string;
  alg: "RS256" | "ES256";
  privateKey: CryptoKey;
  jwk: JWK;
}

export interface SignOptions {
  key?: TestKey;
  /** Seconds from now; negative = already expired. Default 300. */
  expiresIn?: number;
  /** Replaces header fields (e.g. a kid the JWKS does not have). */
  header?: Record<string, unknown>;
}

export interface TestOidcProvider {
  /** The issuer URL (with a path, like Keycloak's /realms/<name>). */
  issuer: string;
  clientId: string;
  /** The key tokens are signed with by default (the first published one). */
  key: TestKey;
  requests: { discovery: number; jwks: number; introspection: number; authorize: number; token: number };
  /** Who the authorization endpoint signs in: `sub` and extra access-token claims (e.g. roles). */
  user: { sub: string; claims: Record<string, unknown> };
  /** Lifetime of access tokens from the token endpoint, in seconds (default 300). */
  tokenLifetime: number;
  down: boolean;
  /** The client secret the introspection endpoint accepts (HTTP Basic with the client id). */
  clientSecret: string;
  /** An opaque access token the introspection endpoint knows, with these claims (active unless `active: false`). */
  opaque(claims?: Record<string, unknown>): string;
  newKey(alg?: "RS256" | "ES256"): Promise<TestKey>;
  /** Replaces the published key set (rotation); the first key becomes the default signing key. */
  publish(keys: TestKey[]): void;
  /** A signed access token: iss, aud (client id), sub, iat, exp, plus `claims`. */
  sign(claims?: JWTPayload & Record<string, unknown>, opts?: SignOptions): Promise<string>;
  stop(): Promise<void>;
}

let counter = 0;

export async function newTestKey(alg: "RS256" | "ES256" = "RS256"): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `k${++counter}-${crypto.randomUUID().slice(0, 8)}`;
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

export async function startOidcProvider(opts: { realm?: string; clientId?: string; alg?: "RS256" | "ES256" } = {}): Promise<TestOidcProvider> {
  const realm = opts.realm ?? "webencode";
  let published: TestKey[] = [await newTestKey(opts.alg)];
  const requests = { discovery: 0, jwks: 0, introspection: 0, authorize: 0, token: 0 };
  const codes = new Map<string, { clientId: string; redirectUri: string; challenge: string; sub: string; claims: Record<string, unknown> }>();
  const clientSecret = `secret-${crypto.randomUUID()}`;
  const opaqueTokens = new Map<string, Record<string, unknown>>();
  const state = { down: false };
  let issuer = "";
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req): Promise<Response> {
      const path = new URL(req.url).pathname;
      if (state.down) return new Response("unavailable", { status: 503 });
      if (path === `/realms/${realm}/.well-known/openid-configuration`) {
        requests.discovery++;
        return Response.json({
          issuer,
          jwks_uri: `${issuer}/protocol/openid-connect/certs`,
          authorization_endpoint: `${issuer}/protocol/openid-connect/auth`,
          token_endpoint: `${issuer}/protocol/openid-connect/token`,
          introspection_endpoint: `${issuer}/protocol/openid-connect/token/introspect`,
          id_token_signing_alg_values_supported: ["RS256", "ES256"],
        });
      }
      if (path === `/realms/${realm}/protocol/openid-connect/token/introspect` && req.method === "POST") {
        requests.introspection++;
        if (req.headers.get("authorization") !== `Basic ${btoa(`${clientId}:${clientSecret}`)}`) return new Response("unauthorized", { status: 401 });
        const token = new URLSearchParams(await req.text()).get("token") ?? "";
        const claims = opaqueTokens.get(token);
        return Response.json(claims ? { active: true, ...claims } : { active: false });
      }
      if (path === `/realms/${realm}/protocol/openid-connect/auth` && req.method === "GET") {
        requests.authorize++;
        return authorize(new URL(req.url).searchParams);
      }
      if (path === `/realms/${realm}/protocol/openid-connect/token` && req.method === "POST") {
        requests.token++;
        return exchange(new URLSearchParams(await req.text()));
      }
      if (path === `/realms/${realm}/protocol/openid-connect/certs`) {
        requests.jwks++;
        return Response.json({ keys: published.map((k) => k.jwk) });
      }
      return new Response("not found", { status: 404 });
    },
  });
  issuer = `http://127.0.0.1:${server.port}/realms/${realm}`;
  const clientId = opts.clientId ?? "webencode-api";

  /** Approves at once as provider.user: back to redirect_uri with a one-time code and the caller's state. */
  function authorize(query: URLSearchParams): Response {
    const redirectUri = query.get("redirect_uri") ?? "";
    const challenge = query.get("code_challenge") ?? "";
    if (query.get("response_type") !== "code" || query.get("client_id") !== clientId || !redirectUri.startsWith("http")) return new Response("bad authorization request", { status: 400 });
    if (query.get("code_challenge_method") !== "S256" || !challenge) return new Response("PKCE with S256 is required", { status: 400 });
    const code = `code-${crypto.randomUUID()}`;
    codes.set(code, { clientId, redirectUri, challenge, sub: provider.user.sub, claims: provider.user.claims });
    const back = new URL(redirectUri);
    back.searchParams.set("code", code);
    back.searchParams.set("state", query.get("state") ?? "");
    return new Response(null, { status: 302, headers: { location: back.href } });
  }

  /** authorization_code grant: the code once, with its redirect_uri, client_id and the PKCE verifier. */
  async function exchange(form: URLSearchParams): Promise<Response> {
    const cors = { "access-control-allow-origin": "*" };
    const refuse = (error: string) => Response.json({ error }, { status: 400, headers: cors });
    const grant = codes.get(form.get("code") ?? "");
    codes.delete(form.get("code") ?? "");
    if (form.get("grant_type") !== "authorization_code" || !grant) return refuse("invalid_grant");
    if (form.get("client_id") !== grant.clientId || form.get("redirect_uri") !== grant.redirectUri) return refuse("invalid_grant");
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(form.get("code_verifier") ?? "")));
    if (Buffer.from(digest).toString("base64url") !== grant.challenge) return refuse("invalid_grant");
    const accessToken = await provider.sign({ sub: grant.sub, ...grant.claims }, { expiresIn: provider.tokenLifetime });
    return Response.json({ access_token: accessToken, token_type: "Bearer", expires_in: provider.tokenLifetime, scope: "openid profile" }, { headers: cors });
  }

  const provider: TestOidcProvider = {
    issuer,
    clientId,
    key: published[0]!,
    requests,
    user: { sub: "user-1", claims: {} },
    tokenLifetime: 300,
    clientSecret,
    opaque(claims = {}) {
      const token = `opaque-${crypto.randomUUID()}`;
      const now = Math.floor(Date.now() / 1000);
      const all: Record<string, unknown> = { iss: issuer, client_id: clientId, sub: "user-opaque", exp: now + 300, ...claims };
      if (all.active === false) return token; // unknown to the endpoint: inactive
      opaqueTokens.set(token, all);
      return token;
    },
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    newKey: (alg) => newTestKey(alg),
    publish(keys) {
      published = [...keys];
      if (keys[0]) provider.key = keys[0];
    },
    async sign(claims = {}, o = {}) {
      const key = o.key ?? provider.key;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: issuer, aud: clientId, sub: "user-1", iat: now, exp: now + (o.expiresIn ?? 300), ...claims })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...o.header })
        .sign(key.privateKey);
    },
    async stop() {
      await server.stop(true);
    },
  };
  return provider;
}
