/**
 * An OpenID Connect identity provider served by the test on 127.0.0.1: a discovery document, a JWKS, and
 * token signing with keys generated here (jose). Key rotation = `publish()` another key set. `down` makes
 * both endpoints answer 503, to play an unreachable provider.
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
  requests: { discovery: number; jwks: number; introspection: number };
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
  const requests = { discovery: 0, jwks: 0, introspection: 0 };
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
      if (path === `/realms/${realm}/protocol/openid-connect/certs`) {
        requests.jwks++;
        return Response.json({ keys: published.map((k) => k.jwk) });
      }
      return new Response("not found", { status: 404 });
    },
  });
  issuer = `http://127.0.0.1:${server.port}/realms/${realm}`;
  const clientId = opts.clientId ?? "webencode-api";

  const provider: TestOidcProvider = {
    issuer,
    clientId,
    key: published[0]!,
    requests,
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
