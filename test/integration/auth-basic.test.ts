/**
 * auth-basic: argon2id hashes, login (good password, bad password, unknown user: one generic refusal, and
 * no timing shortcut for unknown users), session tokens through authenticate, expiry, refresh rotation,
 * revocation by token_version; and once through a real plugin process.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { SignJWT } from "jose";
import * as v from "valibot";
import plugin from "../../plugins/auth-basic/plugin.ts";
import { ISSUER, issueTokens, keyOf } from "../../plugins/auth-basic/tokens.ts";
import type { User } from "../../src/plugin-runtime/shared/basic-users.ts";
import type { PasswordAuthPlugin } from "../../src/plugin-runtime/pillars.ts";
import { PluginHost } from "../../src/plugin-runtime/host/host.ts";
import { type PluginLog, manifestOf } from "../../src/plugin-runtime/sdk.ts";
import { capturingLogger, tempPluginDir } from "../helpers/plugins.ts";

const quiet: PluginLog = { debug() {}, info() {}, warn() {}, error() {} };
const SECRET = "auth-basic-test-session-secret-0123456789";
const PASSWORD = "correct horse battery staple";

const opened: PasswordAuthPlugin[] = [];
afterEach(async () => {
  for (const p of opened.splice(0)) await p.close?.();
});

async function make(users: User[], extra: Record<string, unknown> = {}): Promise<PasswordAuthPlugin> {
  const config = v.parse(plugin.config, { session_secret: SECRET, users: JSON.stringify(users), ...extra });
  const p = await plugin.create({ config, env: {}, log: quiet });
  opened.push(p);
  return p;
}

let aliceHash: string | undefined;
async function alice(over: Partial<User> = {}): Promise<User> {
  if (!aliceHash) {
    const bare = await make([]);
    aliceHash = (await bare.hash_password({ password: PASSWORD })).hash;
  }
  return { username: "alice", name: "Alice", password_hash: aliceHash, roles: ["operator"], token_version: 0, disabled: false, ...over };
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return { code: String(err.code), message: String(err.message) };
  }
  throw new Error("expected a refusal, but the call succeeded");
}

describe("auth-basic", () => {
  test("manifest: auth pillar; users and session_secret are secret fields", () => {
    expect(manifestOf(plugin)).toMatchObject({ id: "auth-basic", pillar: "auth", secret_fields: ["session_secret", "users"], env: [] });
  });

  test("hash_password is argon2id, salted, and verifiable; weak or absurd passwords are refused", async () => {
    const p = await make([]);
    const a = (await p.hash_password({ password: PASSWORD })).hash;
    const b = (await p.hash_password({ password: PASSWORD })).hash;
    expect(a.startsWith("$argon2id$")).toBe(true);
    expect(a).not.toBe(b);
    expect(await Bun.password.verify(PASSWORD, a)).toBe(true);
    expect((await refusal(p.hash_password({ password: "short" }))).code).toBe("WE-REQ-001");
    expect((await refusal(p.hash_password({ password: "x".repeat(1025) }))).code).toBe("WE-REQ-001");
  });

  test("configuration refuses users with a non-argon2id hash, unknown roles or duplicate names", () => {
    const ok = { username: "bob", password_hash: "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA", roles: ["viewer"] };
    expect(v.safeParse(plugin.config, { users: JSON.stringify([ok]) }).success).toBe(true);
    expect(v.safeParse(plugin.config, { users: JSON.stringify([{ ...ok, password_hash: "$2b$10$abc" }]) }).success).toBe(false);
    expect(v.safeParse(plugin.config, { users: JSON.stringify([{ ...ok, roles: ["root"] }]) }).success).toBe(false);
    expect(v.safeParse(plugin.config, { users: JSON.stringify([ok, ok]) }).success).toBe(false);
    expect(v.safeParse(plugin.config, { users: "{not json" }).success).toBe(false);
    expect(v.safeParse(plugin.config, { session_secret: "too-short" }).success).toBe(false);
  });

  test("login: the right password gives tokens; a wrong password and an unknown user get the same refusal", async () => {
    const p = await make([await alice()], { session_ttl: 600 });
    const t = await p.login({ username: "alice", password: PASSWORD });
    expect(t).toMatchObject({ token_type: "Bearer", expires_in: 600 });
    expect(t.access_token.split(".")).toHaveLength(3);
    const wrong = await refusal(p.login({ username: "alice", password: `${PASSWORD}!` }));
    const unknown = await refusal(p.login({ username: "mallory", password: PASSWORD }));
    expect(wrong).toEqual({ code: "WE-AUTH-001", message: "auth-basic: invalid username or password" });
    expect(unknown).toEqual(wrong);
    expect(await refusal(p.login({ username: "alice", password: "" }))).toEqual(wrong);
  });

  test("unknown users are not answered faster (the dummy hash is verified)", async () => {
    const p = await make([await alice()]);
    const time = async (username: string) => {
      const samples: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        await p.login({ username, password: "wrong password" }).catch(() => {});
        samples.push(performance.now() - t0);
      }
      return samples.sort((a, b) => a - b)[1]!;
    };
    const known = await time("alice");
    const unknown = await time("nobody");
    // An argon2id verify takes tens of ms; skipping it for unknown users would make them ~100× faster.
    expect(known).toBeGreaterThan(5);
    expect(unknown).toBeGreaterThan(known * 0.4);
  });

  test("a session token authenticates with the user's current roles; tokens of others are not ours", async () => {
    const p = await make([await alice()]);
    const { access_token } = await p.login({ username: "alice", password: PASSWORD });
    const id = await p.authenticate({ token: access_token });
    expect(id).toMatchObject({ subject: "alice", name: "Alice", roles: ["operator"] });
    expect(Date.parse(id.expires_at!)).toBeGreaterThan(Date.now());

    // The role comes from the configuration, not the token: a demotion applies to existing sessions.
    const demoted = await make([await alice({ roles: ["viewer"] })]);
    expect((await demoted.authenticate({ token: access_token })).roles).toEqual(["viewer"]);

    // Another deployment's secret, another issuer, garbage, a refresh token used as a session token.
    const forged = await new SignJWT({ typ: "access", ver: 0 }).setProtectedHeader({ alg: "HS256" }).setIssuer(ISSUER).setAudience("webencode").setSubject("alice").setExpirationTime("5m").sign(keyOf("another-secret-another-secret-another-secret"));
    const foreign = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setIssuer("https://idp.example.com").setSubject("alice").setExpirationTime("5m").sign(keyOf(SECRET));
    const { refresh_token } = await p.login({ username: "alice", password: PASSWORD });
    for (const token of [forged, foreign, "garbage", refresh_token]) expect((await refusal(p.authenticate({ token }))).code).toBe("WE-AUTH-001");
  });

  test("an expired session token → WE-AUTH-002", async () => {
    const user = await alice();
    const p = await make([user]);
    const old = await issueTokens(keyOf(SECRET), user, { session: 900, refresh: 3600 }, Math.floor(Date.now() / 1000) - 1000);
    expect(await refusal(p.authenticate({ token: old.access_token }))).toEqual({ code: "WE-AUTH-002", message: "auth-basic: the session token has expired" });
    // Its refresh token (30 min left of 1 h) still gets a new session.
    const renewed = await p.refresh({ refresh_token: old.refresh_token });
    expect((await p.authenticate({ token: renewed.access_token })).subject).toBe("alice");
  });

  test("refresh rotates: a new pair that works; an expired refresh token → WE-AUTH-002", async () => {
    const user = await alice();
    const p = await make([user]);
    const first = await p.login({ username: "alice", password: PASSWORD });
    const second = await p.refresh({ refresh_token: first.refresh_token });
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect(second.access_token).not.toBe(first.access_token);
    expect((await p.authenticate({ token: second.access_token })).subject).toBe("alice");
    expect((await p.refresh({ refresh_token: second.refresh_token })).token_type).toBe("Bearer");
    // A session token is not a refresh token.
    expect((await refusal(p.refresh({ refresh_token: first.access_token }))).code).toBe("WE-AUTH-001");
    const expired = await issueTokens(keyOf(SECRET), user, { session: 900, refresh: 3600 }, Math.floor(Date.now() / 1000) - 7200);
    expect((await refusal(p.refresh({ refresh_token: expired.refresh_token }))).code).toBe("WE-AUTH-002");
  });

  test("bumping token_version revokes refresh and session tokens; deleted or disabled users are refused", async () => {
    const p = await make([await alice()]);
    const t = await p.login({ username: "alice", password: PASSWORD });
    const bumped = await make([await alice({ token_version: 1 })]);
    expect((await refusal(bumped.refresh({ refresh_token: t.refresh_token }))).code).toBe("WE-AUTH-001");
    expect((await refusal(bumped.authenticate({ token: t.access_token }))).code).toBe("WE-AUTH-001");
    // After the bump, a fresh login works again.
    const again = await bumped.login({ username: "alice", password: PASSWORD });
    expect((await bumped.authenticate({ token: again.access_token })).subject).toBe("alice");

    const gone = await make([]);
    expect((await refusal(gone.authenticate({ token: t.access_token }))).code).toBe("WE-AUTH-001");
    const disabled = await make([await alice({ disabled: true })]);
    expect((await refusal(disabled.authenticate({ token: t.access_token }))).code).toBe("WE-AUTH-001");
    expect((await refusal(disabled.login({ username: "alice", password: PASSWORD }))).message).toBe("auth-basic: invalid username or password");
  });

  test("without session_secret: degraded, and login says why", async () => {
    const config = v.parse(plugin.config, { users: JSON.stringify([await alice()]) });
    const p = await plugin.create({ config, env: {}, log: quiet });
    opened.push(p);
    expect(await p.health!()).toMatchObject({ status: "degraded", detail: "session_secret is not set" });
    expect((await refusal(p.login({ username: "alice", password: PASSWORD }))).code).toBe("WE-AUTH-005");
  });

  test("as a plugin process: login, authenticate and error codes cross the wire", async () => {
    const { logger, lines } = capturingLogger();
    const users = JSON.stringify([await alice()]);
    const host = new PluginHost({
      logger,
      pluginDir: tempPluginDir(),
      pillars: ["auth"],
      settings: { get: async (id) => (id === "auth-basic" ? { enabled: true, config: { session_secret: SECRET, users } } : { enabled: false, config: {} }) },
      hostEnv: { PATH: process.env.PATH ?? "" },
    });
    try {
      await host.start();
      const sup = host.get("auth-basic")!;
      expect(sup.state).toBe("healthy");
      const t = await sup.call<{ access_token: string }>("login", { username: "alice", password: PASSWORD });
      expect(await sup.call("authenticate", { token: t.access_token })).toMatchObject({ subject: "alice", roles: ["operator"] });
      expect((await refusal(sup.call("login", { username: "alice", password: "nope nope nope" }))).code).toBe("WE-AUTH-001");
      // Neither the password nor the hash reaches the host's log.
      const logged = JSON.stringify(lines);
      expect(logged).not.toContain(PASSWORD);
      expect(logged).not.toContain("$argon2id$");
    } finally {
      await host.stop();
    }
  }, 30_000);
});
