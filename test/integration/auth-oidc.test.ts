/**
 * auth-oidc against an identity provider served by the test (helpers/oidc-provider.ts): discovery, JWKS,
 * signed tokens. Valid, expired, wrong audience, wrong issuer, unknown key, rotated key, role claims and
 * mapping, refused algorithms, an unreachable provider; and once through a real plugin process.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { SignJWT, UnsecuredJWT } from "jose";
import * as v from "valibot";
import { mapRoles, claimAt } from "../../plugins/auth-oidc/claims.ts";
import plugin from "../../plugins/auth-oidc/plugin.ts";
import type { AuthPlugin } from "../../src/plugin-runtime/pillars.ts";
import { PluginHost } from "../../src/plugin-runtime/host/host.ts";
import { type PluginLog, manifestOf } from "../../src/plugin-runtime/sdk.ts";
import { capturingLogger, tempPluginDir } from "../helpers/plugins.ts";
import { type TestOidcProvider, newTestKey, startOidcProvider } from "../helpers/oidc-provider.ts";
import { waitFor } from "../helpers/wait.ts";

const quiet: PluginLog = { debug() {}, info() {}, warn() {}, error() {} };

let idp: TestOidcProvider;
const opened: AuthPlugin[] = [];

beforeAll(async () => {
  idp = await startOidcProvider();
});
afterAll(async () => {
  await idp.stop();
});
afterEach(async () => {
  for (const p of opened.splice(0)) await p.close?.();
});

async function make(extra: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<AuthPlugin> {
  const config = v.parse(plugin.config, { issuer_url: idp.issuer, client_id: idp.clientId, jwks_cooldown: 0, ...extra });
  const p = await plugin.create({ config, env, log: quiet });
  opened.push(p);
  return p;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return String((e as { code?: string }).code);
  }
  throw new Error("expected a refusal, but the token was accepted");
}

describe("auth-oidc", () => {
  test("manifest: auth pillar, the runbook's variables declared, the client secret write-only, asymmetric algorithms only", () => {
    const m = manifestOf(plugin);
    expect(m).toMatchObject({ id: "auth-oidc", pillar: "auth", env: ["OIDC_ISSUER_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET"], secret_fields: ["client_secret"] });
    expect(v.safeParse(plugin.config, { algorithms: ["HS256"] }).success).toBe(false);
    expect(v.safeParse(plugin.config, { algorithms: ["none"] }).success).toBe(false);
    expect(v.safeParse(plugin.config, { issuer_url: "http://idp.example.com/realms/x" }).success).toBe(false); // plain http off loopback
  });

  test("configuration: issuer and audience are required (from config or the declared variables)", async () => {
    const err = await codeOf(plugin.create({ config: v.parse(plugin.config, {}), env: {}, log: quiet }) as Promise<unknown>);
    expect(err).toBe("WE-PLG-003");
    // The same settings from OIDC_ISSUER_URL / OIDC_CLIENT_ID.
    const p = await plugin.create({ config: v.parse(plugin.config, { jwks_cooldown: 0 }), env: { OIDC_ISSUER_URL: idp.issuer, OIDC_CLIENT_ID: idp.clientId }, log: quiet });
    opened.push(p);
    expect(await p.authenticate({ token: await idp.sign({ roles: ["viewer"] }) })).toMatchObject({ subject: "user-1", roles: ["viewer"] });
  });

  test("a valid token gives its subject, name and roles; expires_at is the token's exp", async () => {
    const p = await make();
    expect(await p.health?.()).toMatchObject({ status: "ok" });
    const exp = Math.floor(Date.now() / 1000) + 300;
    const token = await idp.sign({ sub: "u-42", name: "Ada Lovelace", roles: ["operator", "something-else"], exp });
    const id = await p.authenticate({ token });
    expect(id).toEqual({ subject: "u-42", name: "Ada Lovelace", roles: ["operator"], expires_at: new Date(exp * 1000).toISOString() });
  });

  test("ES256 keys work too", async () => {
    const ec = await newTestKey("ES256");
    const before = idp.key;
    idp.publish([before, ec]);
    const p = await make();
    expect((await p.authenticate({ token: await idp.sign({ roles: ["admin"] }, { key: ec }) })).roles).toEqual(["admin"]);
  });

  test("expired → WE-AUTH-002; within the clock tolerance → accepted", async () => {
    const p = await make({ clock_tolerance: 30 });
    expect(await codeOf(p.authenticate({ token: await idp.sign({ roles: ["viewer"] }, { expiresIn: -120 }) }))).toBe("WE-AUTH-002");
    expect((await p.authenticate({ token: await idp.sign({ roles: ["viewer"] }, { expiresIn: -5 }) })).subject).toBe("user-1");
  });

  test("wrong audience → WE-AUTH-001; a configured audience replaces the client id", async () => {
    const p = await make();
    expect(await codeOf(p.authenticate({ token: await idp.sign({ aud: "another-app", roles: ["viewer"] }) }))).toBe("WE-AUTH-001");
    const api = await make({ audience: ["https://api.webencode.example", "other"] });
    expect((await api.authenticate({ token: await idp.sign({ aud: "https://api.webencode.example", roles: ["viewer"] }) })).subject).toBe("user-1");
    expect(await codeOf(api.authenticate({ token: await idp.sign({ roles: ["viewer"] }) }))).toBe("WE-AUTH-001");
  });

  test("wrong issuer → WE-AUTH-001 without contacting the provider", async () => {
    const p = await make();
    await p.authenticate({ token: await idp.sign({ roles: ["viewer"] }) });
    const jwks = idp.requests.jwks;
    for (const iss of [`${idp.issuer}-evil`, "https://accounts.example.com", "webencode-auth-basic"])
      expect(await codeOf(p.authenticate({ token: await idp.sign({ iss, roles: ["admin"] }, { header: { kid: "nope" } }) }))).toBe("WE-AUTH-001");
    expect(idp.requests.jwks).toBe(jwks);
    expect(await codeOf(p.authenticate({ token: "not-a-jwt" }))).toBe("WE-AUTH-001");
  });

  test("unknown key (kid not in the JWKS) and a forged signature → WE-AUTH-001", async () => {
    const p = await make();
    const stranger = await newTestKey("RS256");
    expect(await codeOf(p.authenticate({ token: await idp.sign({ roles: ["admin"] }, { key: stranger }) }))).toBe("WE-AUTH-001");
    // The provider's kid, but signed with another key.
    expect(await codeOf(p.authenticate({ token: await idp.sign({ roles: ["admin"] }, { key: stranger, header: { kid: idp.key.kid } }) }))).toBe("WE-AUTH-001");
  });

  test("alg none and HS256 (with the public key as secret) are refused", async () => {
    const p = await make();
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: idp.issuer, aud: idp.clientId, sub: "mallory", exp: now + 300, roles: ["admin"] };
    expect(await codeOf(p.authenticate({ token: new UnsecuredJWT(claims).encode() }))).toBe("WE-AUTH-001");
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: idp.key.kid }).sign(new TextEncoder().encode(JSON.stringify(idp.key.jwk)));
    expect(await codeOf(p.authenticate({ token: hs }))).toBe("WE-AUTH-001");
  });

  test("key rotation: a new key is fetched on first sight; a removed key is refused", async () => {
    const old = await newTestKey("RS256");
    idp.publish([old]);
    const p = await make();
    const oldToken = await idp.sign({ roles: ["viewer"] }, { key: old });
    expect((await p.authenticate({ token: oldToken })).subject).toBe("user-1");
    const fetched = idp.requests.jwks;

    const fresh = await newTestKey("RS256");
    idp.publish([fresh]); // the provider rotates: the old key is gone
    expect((await p.authenticate({ token: await idp.sign({ roles: ["operator"] }, { key: fresh }) })).roles).toEqual(["operator"]);
    expect(idp.requests.jwks).toBeGreaterThan(fetched); // unknown kid → JWKS refetched
    expect(await codeOf(p.authenticate({ token: oldToken }))).toBe("WE-AUTH-001");
  });

  test("the JWKS refetch cooldown limits how often unknown kids reach the provider", async () => {
    const p = await make({ jwks_cooldown: 60 });
    await p.authenticate({ token: await idp.sign({ roles: ["viewer"] }) });
    const fetched = idp.requests.jwks;
    for (let i = 0; i < 5; i++) expect(await codeOf(p.authenticate({ token: await idp.sign({ roles: ["viewer"] }, { key: await newTestKey() }) }))).toBe("WE-AUTH-001");
    expect(idp.requests.jwks).toBe(fetched);
  });

  test("roles from a nested claim (Keycloak), a namespaced claim (Auth0), groups (Okta), with a mapping", async () => {
    const keycloak = await make({ roles_claim: "realm_access.roles", role_map: { "we-admins": "admin", "we-ops": "operator" } });
    expect((await keycloak.authenticate({ token: await idp.sign({ realm_access: { roles: ["offline_access", "we-ops"] } }) })).roles).toEqual(["operator"]);
    // With a mapping, an unmapped provider role named "admin" grants nothing.
    expect(await codeOf(keycloak.authenticate({ token: await idp.sign({ realm_access: { roles: ["admin"] } }) }))).toBe("WE-AUTH-003");

    const auth0 = await make({ roles_claim: "https://webencode.example.com/roles" });
    expect((await auth0.authenticate({ token: await idp.sign({ "https://webencode.example.com/roles": ["admin", "viewer"] }) })).roles.sort()).toEqual(["admin", "viewer"]);

    const okta = await make({ roles_claim: "groups", role_map: { "WebEncode Viewers": "viewer" }, default_role: undefined });
    expect((await okta.authenticate({ token: await idp.sign({ groups: ["Everyone", "WebEncode Viewers"] }) })).roles).toEqual(["viewer"]);

    const scopeLike = await make({ roles_claim: "we_roles" });
    expect((await scopeLike.authenticate({ token: await idp.sign({ we_roles: "viewer operator" }) })).roles).toEqual(["viewer", "operator"]);
  });

  test("a valid user without a WebEncode role → WE-AUTH-003, unless default_role is set", async () => {
    const strict = await make();
    expect(await codeOf(strict.authenticate({ token: await idp.sign({ roles: ["unrelated"] }) }))).toBe("WE-AUTH-003");
    expect(await codeOf(strict.authenticate({ token: await idp.sign({}) }))).toBe("WE-AUTH-003");
    const lenient = await make({ default_role: "viewer" });
    expect((await lenient.authenticate({ token: await idp.sign({}) })).roles).toEqual(["viewer"]);
  });

  test("claim paths and mapping (pure)", () => {
    expect(claimAt({ a: { b: { c: 1 } } }, "a.b.c")).toBe(1);
    expect(claimAt({ "resource_access": { "my.client": { roles: ["x"] } } }, "resource_access.my.client.roles")).toEqual(["x"]);
    expect(claimAt({ a: 1 }, "a.b")).toBeUndefined();
    expect(mapRoles(["admin", "x"], undefined)).toEqual(["admin"]);
    expect(mapRoles(["admin"], { x: "viewer" })).toEqual([]);
    expect(mapRoles([], undefined, "viewer")).toEqual(["viewer"]);
  });

  test("provider unreachable: degraded, its tokens get WE-AUTH-005, others WE-AUTH-001; recovers", async () => {
    const down = await startOidcProvider({ realm: "flaky" });
    try {
      down.down = true;
      const p = await make({ issuer_url: down.issuer, client_id: down.clientId });
      const h = await p.health!();
      expect(h.status).toBe("degraded");
      expect(h.detail).toContain("discovery failed");
      expect(await codeOf(p.authenticate({ token: await down.sign({ roles: ["viewer"] }) }))).toBe("WE-AUTH-005");
      expect(await codeOf(p.authenticate({ token: await idp.sign({ roles: ["viewer"] }) }))).toBe("WE-AUTH-001");
      down.down = false;
      await waitFor(async () => (await p.health!()).status === "ok", 15_000, "auth-oidc to rediscover the provider");
      expect((await p.authenticate({ token: await down.sign({ roles: ["viewer"] }) })).roles).toEqual(["viewer"]);
      // The JWKS becoming unreachable later (a new kid forces a fetch) is unavailability too, not "invalid".
      down.down = true;
      expect(await codeOf(p.authenticate({ token: await down.sign({ roles: ["viewer"] }, { key: await newTestKey() }) }))).toBe("WE-AUTH-005");
      expect((await p.health!()).status).toBe("degraded");
    } finally {
      await down.stop();
    }
  }, 30_000);

  test("as a plugin process: env passed by the host, identities and error codes cross the wire", async () => {
    const dir = tempPluginDir();
    const { logger } = capturingLogger();
    const host = new PluginHost({
      logger,
      pluginDir: dir,
      pillars: ["auth"],
      settings: { get: async (id) => (id === "auth-oidc" ? { enabled: true, config: { jwks_cooldown: 0 } } : { enabled: false, config: {} }) },
      hostEnv: { PATH: process.env.PATH ?? "", OIDC_ISSUER_URL: idp.issuer, OIDC_CLIENT_ID: idp.clientId, OIDC_CLIENT_SECRET: "not-for-this-plugin" },
    });
    try {
      await host.start();
      const sup = host.get("auth-oidc")!;
      expect(sup.state).toBe("healthy");
      expect(await sup.call("authenticate", { token: await idp.sign({ sub: "w1", roles: ["admin"] }) })).toMatchObject({ subject: "w1", roles: ["admin"] });
      expect(await codeOf(sup.call("authenticate", { token: await idp.sign({ roles: ["admin"] }, { expiresIn: -600 }) }))).toBe("WE-AUTH-002");
      expect(await codeOf(sup.call("authenticate", { token: await idp.sign({ aud: "x", roles: ["admin"] }) }))).toBe("WE-AUTH-001");
      expect(await codeOf(sup.call("authenticate", { token: await idp.sign({ roles: [] }) }))).toBe("WE-AUTH-003");
    } finally {
      await host.stop();
    }
  }, 30_000);
});

describe("auth-oidc: opaque access tokens (RFC 7662 introspection with OIDC_CLIENT_SECRET)", () => {
  test("an active opaque token is accepted with its roles; inactive, wrong audience and expired ones are refused", async () => {
    const p = await make({ roles_claim: "groups", role_map: { "video-ops": "operator" } }, { OIDC_CLIENT_SECRET: idp.clientSecret });
    const ok = await p.authenticate({ token: idp.opaque({ sub: "u-42", groups: ["video-ops"], name: "Ops" }) });
    expect(ok).toMatchObject({ subject: "u-42", roles: ["operator"], name: "Ops" });
    expect(await codeOf(p.authenticate({ token: idp.opaque({ active: false }) }))).toBe("WE-AUTH-001");
    expect(await codeOf(p.authenticate({ token: idp.opaque({ client_id: "another-app" }) }))).toBe("WE-AUTH-001");
    expect(await codeOf(p.authenticate({ token: idp.opaque({ aud: ["another-api"] }) }))).toBe("WE-AUTH-001");
    expect(await codeOf(p.authenticate({ token: idp.opaque({ iss: "https://evil.example/realms/x" }) }))).toBe("WE-AUTH-001");
    expect(await codeOf(p.authenticate({ token: idp.opaque({ exp: Math.floor(Date.now() / 1000) - 3600 }) }))).toBe("WE-AUTH-002");
  });

  test("answers are cached: the same token is introspected once; garbage is refused without a second request", async () => {
    const p = await make({ roles_claim: "roles" }, { OIDC_CLIENT_SECRET: idp.clientSecret });
    const token = idp.opaque({ roles: ["viewer"] });
    const before = idp.requests.introspection;
    for (let i = 0; i < 5; i++) expect((await p.authenticate({ token })).roles).toEqual(["viewer"]);
    for (let i = 0; i < 5; i++) expect(await codeOf(p.authenticate({ token: "garbage-token" }))).toBe("WE-AUTH-001");
    expect(idp.requests.introspection - before).toBe(2);
  });

  test("without a client secret opaque tokens are simply not ours; a wrong secret is WE-AUTH-005 naming the variables", async () => {
    const none = await make({}, {});
    const before = idp.requests.introspection;
    expect(await codeOf(none.authenticate({ token: idp.opaque() }))).toBe("WE-AUTH-001");
    expect(idp.requests.introspection).toBe(before);
    const wrong = await make({}, { OIDC_CLIENT_SECRET: "not-the-secret" });
    try {
      await wrong.authenticate({ token: idp.opaque() });
      throw new Error("accepted");
    } catch (e) {
      expect((e as { code: string }).code).toBe("WE-AUTH-005");
      expect((e as Error).message).toContain("OIDC_CLIENT_SECRET");
    }
  });
});
