/**
 * Password users and OIDC tokens end to end through a kernel: users created by an admin through /v1/users
 * (stored in auth-basic's configuration, hashes never shown), login and refresh at /v1/auth, session tokens
 * and OIDC access tokens accepted by the auth middleware with their roles, revocation on password change and
 * deletion, and the right codes for expired, role-less and unavailable-provider tokens.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { pluginConfigs } from "../../src/db/schema.ts";
import { type TestOidcProvider, newTestKey, startOidcProvider } from "../helpers/oidc-provider.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

let k: TestKernel;
let idp: TestOidcProvider;
const PASSWORD = "viewer password 123";
const seen: string[] = [];

beforeAll(async () => {
  [k, idp] = await Promise.all([startTestKernel(), startOidcProvider()]);
});
afterAll(async () => {
  await k?.stop();
  await idp?.stop();
});

const json = { "content-type": "application/json" };

async function call(path: string, init: RequestInit & { token?: string } = {}) {
  const headers = new Headers(init.headers);
  // token: a bearer token; "" = anonymous; undefined = the test admin API key (k.fetch's default).
  if (init.token !== undefined) headers.set("authorization", init.token ? `Bearer ${init.token}` : "");
  const r = await k.fetch(path, { ...init, headers });
  const text = await r.text();
  seen.push(text);
  let body: any;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  return { status: r.status, body, headers: r.headers };
}

const post = (path: string, body: unknown, token?: string) => call(path, { method: "POST", headers: json, body: JSON.stringify(body), token });
const login = (username: string, password: string) => post("/v1/auth/login", { username, password }, "");

describe("password users (auth-basic) through the kernel", () => {
  test("the kernel generated a session secret once; users start empty", async () => {
    const view = await call("/v1/plugins/auth-basic");
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ state: "healthy", enabled: true, secrets: { session_secret: "set", users: "unset" } });
    const db = k.handle.ctx.db;
    const before = (await db.select().from(pluginConfigs).where(eq(pluginConfigs.id, "auth-basic")))[0]!.secrets.session_secret;
    expect(before?.startsWith("enc:v1:")).toBe(true); // encrypted at rest
    // Kernels starting together: the secret that exists wins, none is replaced.
    await Promise.all([1, 2, 3].map(() => k.handle.ctx.pluginSettings.ensureGeneratedSecret("auth-basic", "auth", "session_secret", 48)));
    expect((await db.select().from(pluginConfigs).where(eq(pluginConfigs.id, "auth-basic")))[0]!.secrets.session_secret).toBe(before);
    expect((await call("/v1/users")).body).toEqual({ items: [] });
  });

  test("an admin creates users; hashes are never returned", async () => {
    const created = await post("/v1/users", { username: "vic", password: PASSWORD, roles: ["viewer"], name: "Vic Viewer" });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ id: "vic", username: "vic", name: "Vic Viewer", roles: ["viewer"], disabled: false });
    expect((await post("/v1/users", { username: "vic", password: PASSWORD, roles: ["admin"] })).status).toBe(409);
    expect((await post("/v1/users", { username: "olga", password: "short", roles: ["operator"] })).status).toBe(400);
    expect((await post("/v1/users", { username: "olga", password: "operator password 1", roles: ["operator", "operator"] })).status).toBe(201);
    const list = await call("/v1/users");
    expect(list.body.items.map((u: { id: string }) => u.id).sort()).toEqual(["olga", "vic"]);
    expect(list.body.items.find((u: { id: string }) => u.id === "olga").roles).toEqual(["operator"]);
    const view = await call("/v1/plugins/auth-basic");
    expect(view.body.secrets.users).toBe("set");
    expect(view.body.config.users).toBeUndefined();
    // Stored encrypted, as argon2id, in the plugin's configuration.
    const row = (await k.handle.ctx.db.select().from(pluginConfigs).where(eq(pluginConfigs.id, "auth-basic")))[0]!;
    expect(row.secrets.users?.startsWith("enc:v1:")).toBe(true);
    expect(JSON.parse(k.handle.ctx.secrets.decrypt(row.secrets.users!))[0].password_hash).toStartWith("$argon2id$");
  });

  test("login: one generic 401 for a wrong password or an unknown user", async () => {
    const wrong = await login("vic", "not the password");
    const unknown = await login("nobody", PASSWORD);
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatchObject({ code: "WE-AUTH-001", message: "invalid username or password" });
    expect({ ...unknown.body.error, request_id: "" }).toEqual({ ...wrong.body.error, request_id: "" });
  });

  test("a viewer's session token reads (200) but cannot administer (403 WE-AUTH-004)", async () => {
    const t = await login("vic", PASSWORD);
    expect(t.status).toBe(200);
    expect(t.body).toMatchObject({ token_type: "Bearer", expires_in: 900 });
    expect((await call("/v1/jobs", { token: t.body.access_token })).status).toBe(200);
    const who = await call("/v1/auth/whoami", { token: t.body.access_token });
    expect(who.body).toMatchObject({ id: "basic:vic", role: "viewer", via: "auth-basic" });
    const denied = await post("/v1/profiles", { id: "x" }, t.body.access_token);
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("WE-AUTH-004");
    expect((await call("/v1/jobs", { token: `${t.body.access_token}x` })).status).toBe(401);
  });

  test("refresh rotates; a role change applies to live sessions; a new password revokes old tokens", async () => {
    const first = (await login("vic", PASSWORD)).body;
    const next = await post("/v1/auth/refresh", { refresh_token: first.refresh_token }, "");
    expect(next.status).toBe(200);
    expect(next.body.refresh_token).not.toBe(first.refresh_token);
    expect((await call("/v1/jobs", { token: next.body.access_token })).status).toBe(200);

    expect((await call("/v1/users/vic", { method: "PUT", headers: json, body: JSON.stringify({ roles: ["admin"] }) })).status).toBe(200);
    expect((await call("/v1/users", { token: next.body.access_token })).status).toBe(200); // admin now

    expect((await call("/v1/users/vic", { method: "PUT", headers: json, body: JSON.stringify({ password: "a brand new password" }) })).status).toBe(200);
    const stale = await post("/v1/auth/refresh", { refresh_token: next.body.refresh_token }, "");
    expect(stale.status).toBe(401);
    expect(stale.body.error.code).toBe("WE-AUTH-001");
    expect((await call("/v1/jobs", { token: next.body.access_token })).status).toBe(401);
    expect((await login("vic", PASSWORD)).status).toBe(401);
    expect((await login("vic", "a brand new password")).status).toBe(200);
  });

  test("deleting a user ends their sessions at once", async () => {
    const t = (await login("olga", "operator password 1")).body;
    expect((await call("/v1/jobs", { token: t.access_token })).status).toBe(200);
    expect((await call("/v1/users/olga", { method: "DELETE" })).status).toBe(204);
    expect((await call("/v1/jobs", { token: t.access_token })).status).toBe(401);
    expect((await call("/v1/users/olga", { method: "DELETE" })).status).toBe(404);
    expect((await login("olga", "operator password 1")).status).toBe(401);
  });
});

describe("OIDC access tokens (auth-oidc) through the kernel", () => {
  test("configured and enabled through the plugin API", async () => {
    const put = await call("/v1/plugins/auth-oidc/config", {
      method: "PUT",
      headers: json,
      body: JSON.stringify({ priority: 90, config: { issuer_url: idp.issuer, client_id: idp.clientId, roles_claim: "realm_access.roles", role_map: { "we-viewers": "viewer", "we-admins": "admin" }, jwks_cooldown: 0 } }),
    });
    expect(put.status).toBe(200);
    const on = await call("/v1/plugins/auth-oidc/enable", { method: "POST" });
    expect(on.status).toBe(200);
    await waitFor(async () => (await call("/v1/plugins/auth-oidc")).body.state === "healthy", 10_000, "auth-oidc to be healthy");
  });

  test("a mapped role is accepted with that role; no role → 403 WE-AUTH-003; expired → 401 WE-AUTH-002", async () => {
    const viewer = await idp.sign({ sub: "kc-1", preferred_username: "kc.user", realm_access: { roles: ["we-viewers"] } });
    expect((await call("/v1/jobs", { token: viewer })).status).toBe(200);
    expect((await call("/v1/auth/whoami", { token: viewer })).body).toMatchObject({ id: "oidc:kc-1", name: "kc.user", role: "viewer", via: "auth-oidc" });
    expect((await post("/v1/profiles", { id: "x" }, viewer)).body.error.code).toBe("WE-AUTH-004");

    const roleless = await call("/v1/jobs", { token: await idp.sign({ realm_access: { roles: ["offline_access"] } }) });
    expect(roleless.status).toBe(403);
    expect(roleless.body.error.code).toBe("WE-AUTH-003");

    const expired = await call("/v1/jobs", { token: await idp.sign({ realm_access: { roles: ["we-admins"] } }, { expiresIn: -600 }) });
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe("WE-AUTH-002");

    expect((await call("/v1/jobs", { token: await idp.sign({ aud: "someone-else", realm_access: { roles: ["we-admins"] } }) })).status).toBe(401);
  });

  test("provider unreachable: its tokens get WE-AUTH-005, other tokens still 401", async () => {
    idp.down = true;
    try {
      const r = await call("/v1/jobs", { token: await idp.sign({ realm_access: { roles: ["we-viewers"] } }, { key: await newTestKey() }) });
      expect(r.body.error.code).toBe("WE-AUTH-005");
      expect((await call("/v1/jobs", { token: "not-a-token" })).body.error.code).toBe("WE-AUTH-001");
    } finally {
      idp.down = false;
    }
  });

  test("no response carried a password hash or a password", () => {
    const all = seen.join("\n");
    expect(all).not.toMatch(/\$argon2id\$v=\d+\$m=/); // a hash (the config schema's pattern mentions the prefix)
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain("a brand new password");
  });
});
