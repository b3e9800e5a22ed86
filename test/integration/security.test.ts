/**
 * Security properties that are not route-by-route: secrets encrypted at rest and never shown (responses,
 * logs), the first admin key, `webencode-kernel admin create-key`, development mode and its guard rails,
 * SECRET_KEY in distributed mode, and the audit stream on NATS.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import postgres from "postgres";
import { ConfigError } from "../../src/core/config.ts";
import { createSecretBox, SecretKeyError } from "../../src/core/secret-box.ts";
import { assertSecretKey, loadKernelConfig } from "../../src/kernel/config.ts";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { natsUrl } from "../helpers/nats.ts";
import { waitFor } from "../helpers/wait.ts";

const json = (body: unknown): RequestInit => ({ method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("secrets at rest", () => {
  test("AES-256-GCM round trip; wrong key and tampering are detected; plain legacy values pass through", () => {
    const box = createSecretBox("k".repeat(40));
    const enc = box.encrypt("hunter2-secret");
    expect(enc).toStartWith("enc:v1:");
    expect(enc).not.toContain("hunter2");
    expect(box.encrypt("hunter2-secret")).not.toBe(enc); // a fresh IV every time
    expect(box.decrypt(enc)).toBe("hunter2-secret");
    expect(() => createSecretBox("x".repeat(40)).decrypt(enc)).toThrow(SecretKeyError);
    const tampered = enc.slice(0, -2) + (enc.endsWith("A") ? "BB" : "AA");
    expect(() => box.decrypt(tampered)).toThrow(SecretKeyError);
    expect(box.decrypt("plain-old-value")).toBe("plain-old-value");
  });

  describe("through a kernel", () => {
    const logs: string[] = [];
    let k: TestKernel;
    let sql: postgres.Sql;
    const SECRET = `s3cr3t-${crypto.randomUUID()}`;
    beforeAll(async () => {
      k = await startTestKernel({ logSink: logs, logLevel: "debug" });
      sql = postgres(k.db.url, { max: 1, onnotice: () => {} });
    });
    afterAll(async () => {
      await sql?.end();
      await k?.stop();
    });

    test("a plugin secret is stored encrypted, shown as set, and never appears in a response or log line", async () => {
      const responses: string[] = [];
      const current = (await (await k.fetch("/v1/plugins/storage-fs")).json()) as { config: Record<string, unknown> };
      const put = await k.fetch("/v1/plugins/storage-fs/config", json({ config: { ...current.config, url_signing_key: SECRET } }));
      responses.push(await put.text());
      expect(put.status).toBeLessThan(300);
      for (const path of ["/v1/plugins", "/v1/plugins/storage-fs", "/v1/audit", "/swagger/json", "/v1/system/health"]) {
        const r = await k.fetch(path);
        responses.push(await r.text());
      }
      const view = JSON.parse(responses[2]!) as { secrets: Record<string, string> };
      expect(view.secrets.url_signing_key).toBe("set");
      for (const body of responses) expect(body).not.toContain(SECRET);
      const [row] = await sql<{ secrets: Record<string, string> }[]>`select secrets from plugin_configs where id = 'storage-fs'`;
      expect(row!.secrets.url_signing_key).toStartWith("enc:v1:");
      expect(JSON.stringify(row)).not.toContain(SECRET);
      // The plugin really got the decrypted value: a signed URL made with it verifies (uploads use it).
      const up = await k.fetch("/v1/files?filename=x.bin", { method: "POST", body: new Uint8Array(16) });
      expect(up.status).toBe(201);
      expect(logs.length).toBeGreaterThan(5);
      expect(logs.filter((l) => l.includes(SECRET))).toEqual([]);
      // Nor the admin key (it came from ADMIN_API_KEY and is never logged).
      expect(logs.filter((l) => l.includes(TEST_ADMIN_KEY))).toEqual([]);
    });

    test("nor a webhook secret, a user's password, or session tokens: every response and log line is searched", async () => {
      const HOOK_SECRET = `whsec-${crypto.randomUUID()}`;
      const PASSWORD = `pw-${crypto.randomUUID()}`;
      const responses: string[] = [];
      const call = async (path: string, init?: RequestInit) => {
        const r = await k.fetch(path, init);
        const text = await r.text();
        responses.push(text);
        return { status: r.status, text };
      };
      const post = (body: unknown): RequestInit => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const hook = await call("/v1/webhooks", post({ url: "http://127.0.0.1:9/hook", event_types: ["job.created"], secret: HOOK_SECRET }));
      expect(hook.status).toBe(201);
      const hookId = (JSON.parse(hook.text) as { id: string }).id;
      expect((await call("/v1/users", post({ username: "alice", password: PASSWORD, roles: ["operator"] }))).status).toBe(201);
      const login = await k.fetch("/v1/auth/login", { ...post({ username: "alice", password: PASSWORD }), headers: { "content-type": "application/json", authorization: "" } });
      expect(login.status).toBe(200);
      const tokens = (await login.json()) as { access_token: string; refresh_token: string };
      expect((await k.fetch("/v1/jobs", { headers: { authorization: `Bearer ${tokens.access_token}` } })).status).toBe(200);
      expect((await k.fetch("/v1/auth/login", { ...post({ username: "alice", password: "wrong" }), headers: { "content-type": "application/json", authorization: "" } })).status).toBe(401);
      for (const path of ["/v1/webhooks", `/v1/webhooks/${hookId}`, "/v1/users", "/v1/users/alice", "/v1/plugins", "/v1/plugins/auth-basic", "/v1/audit?limit=200", "/v1/api-keys"]) await call(path);
      const [stored] = await sql<{ secret_enc: string }[]>`select secret_enc from webhooks where id = ${hookId}`;
      expect(stored!.secret_enc).toStartWith("enc:v1:");
      for (const secret of [HOOK_SECRET, PASSWORD, tokens.access_token, tokens.refresh_token]) {
        expect(responses.filter((r) => r.includes(secret))).toEqual([]);
        expect(logs.filter((l) => l.includes(secret))).toEqual([]);
      }
      const plugin = (await (await k.fetch("/v1/plugins/auth-basic")).json()) as { secrets: Record<string, string> };
      expect(plugin.secrets).toMatchObject({ users: "set", session_secret: "set" });
    });
  });
});

describe("configuration guard rails", () => {
  const base = { DATA_DIR: "/tmp/x" };
  test("distributed mode without SECRET_KEY stops with one clear line", () => {
    // Serving needs it; `migrate` and `admin create-key` (which load the same configuration) do not.
    const distributed = loadKernelConfig({ ...base, DATABASE_URL: "postgres://db/x" });
    expect(() => assertSecretKey(distributed)).toThrow(ConfigError);
    expect(() => assertSecretKey(distributed)).toThrow(/SECRET_KEY is required in distributed mode/);
    expect(() => assertSecretKey(loadKernelConfig({ ...base, NATS_URL: "nats://n:4222" }))).toThrow(/SECRET_KEY is required/);
    expect(() => loadKernelConfig({ ...base, DATABASE_URL: "postgres://db/x", SECRET_KEY: "short" })).toThrow(/SECRET_KEY must be at least 32 characters/);
    expect(() => assertSecretKey(loadKernelConfig({ ...base }))).not.toThrow(); // standalone: DATA_DIR/secret.key
  });

  test("AUTH_DEV_MODE is refused unless HOST is loopback", () => {
    expect(() => loadKernelConfig({ ...base, AUTH_DEV_MODE: "true", HOST: "0.0.0.0" })).toThrow(/only allowed when HOST is a loopback address/);
    // Distributed mode listens on 0.0.0.0 by default; standalone mode on 127.0.0.1 (so dev mode is allowed there).
    expect(() => loadKernelConfig({ ...base, AUTH_DEV_MODE: "true", DATABASE_URL: "postgres://db/x" })).toThrow(/loopback/);
    expect(loadKernelConfig({ ...base, AUTH_DEV_MODE: "true" }).HOST).toBe("127.0.0.1");
    expect(() => loadKernelConfig({ ...base, AUTH_DEV_MODE: "true", HOST: "10.0.0.5" })).toThrow(/loopback/);
    for (const HOST of ["127.0.0.1", "::1", "localhost"]) expect(loadKernelConfig({ ...base, AUTH_DEV_MODE: "true", HOST }).AUTH_DEV_MODE).toBe(true);
  });

  test("ADMIN_API_KEY must be long enough to be a key", () => {
    expect(() => loadKernelConfig({ ...base, ADMIN_API_KEY: "admin" })).toThrow(/ADMIN_API_KEY must start with we_/);
  });
});

describe("development mode", () => {
  const logs: string[] = [];
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel({ env: { AUTH_DEV_MODE: "true" }, logSink: logs, logLevel: "warn" });
  });
  afterAll(async () => {
    await k?.stop();
  });

  test("says so loudly in the log and in readiness, and lets anonymous callers act as admin", async () => {
    expect(logs.some((l) => l.includes("AUTHENTICATION IS DISABLED"))).toBe(true);
    const health = (await (await k.fetch("/v1/system/health", { headers: { authorization: "" } })).json()) as { checks: Record<string, { status: string; detail: string }> };
    expect(health.checks.auth).toMatchObject({ status: "warn" });
    expect(health.checks.auth!.detail).toContain("DISABLED");
    const who = await k.fetch("/v1/auth/whoami", { headers: { authorization: "" } });
    expect(who.status).toBe(200);
    expect(await who.json()).toMatchObject({ id: "dev", role: "admin", via: "dev" });
    expect((await k.fetch("/v1/api-keys", { headers: { authorization: "" } })).status).toBe(200);
  });
});

describe("webencode-kernel admin create-key", () => {
  test("prints a new key once, saves it 0600 in DATA_DIR, and the key works", async () => {
    const k = await startTestKernel();
    try {
      const p = Bun.spawn(["bun", "src/kernel/main.ts", "admin", "create-key", "--role", "viewer", "--name", "ops dashboard"], {
        env: { ...process.env, DATABASE_URL: k.db.url, DATA_DIR: k.dataDir, SECRET_KEY: "x".repeat(40), LOG_LEVEL: "warn", NATS_URL: "" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      expect(code).toBe(0);
      const key = out.trim();
      expect(key).toMatch(/^we_[0-9A-Za-z]{40}$/);
      expect(err).toContain("created viewer API key");
      const file = /saved in (\S+)/.exec(err)![1]!;
      expect((await Bun.file(file).text()).trim()).toBe(key);
      expect((await import("node:fs")).statSync(file).mode & 0o777).toBe(0o600);
      const who = await k.fetch("/v1/auth/whoami", { headers: { authorization: `Bearer ${key}` } });
      expect(await who.json()).toMatchObject({ role: "viewer", name: "ops dashboard" });
      const bad = Bun.spawnSync(["bun", "src/kernel/main.ts", "admin", "create-key", "--role", "root"], { env: { ...process.env, DATABASE_URL: k.db.url, SECRET_KEY: "x".repeat(40), NATS_URL: "" } });
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr.toString()).toContain("--role must be one of viewer, operator, admin");
    } finally {
      await k.stop();
    }
  }, 60_000);
});

describe("first admin key", () => {
  test("two kernels starting on an empty database create exactly one first key", async () => {
    const db = await createTestDatabase();
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const { ensureFirstAdmin } = await import("../../src/kernel/auth/bootstrap.ts");
      const { openDatabase } = await import("../../src/db/client.ts");
      const { migrate } = await import("../../src/db/migrate.ts");
      const { createLogger } = await import("../../src/core/logger.ts");
      const a = await openDatabase({ url: db.url, dataDir: "", maxConnections: 2 });
      const b = await openDatabase({ url: db.url, dataDir: "", maxConnections: 2 });
      try {
        await migrate(a.db);
        const dir = (await import("node:fs")).mkdtempSync("/tmp/we-first-admin-");
        const logger = createLogger("test", "silent");
        await Promise.all([ensureFirstAdmin(a.db, { dataDir: dir, logger }), ensureFirstAdmin(b.db, { dataDir: dir, logger })]);
        const rows = await sql<{ role: string; created_by: string }[]>`select role, created_by from api_keys`;
        expect([...rows]).toEqual([{ role: "admin", created_by: "system" }]);
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await sql.end();
      await db.drop();
    }
  });
});

describe("audit stream on NATS", () => {
  test("a mutating call is appended to <prefix>_AUDIT with the retention of AUDIT_RETENTION", async () => {
    const k = await startTestKernel({ nats: true, env: { AUDIT_RETENTION: "2160h" } });
    const nc = await connect({ servers: natsUrl() });
    try {
      const r = await k.fetch("/v1/api-keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "stream", role: "viewer" }) });
      expect(r.status).toBe(201);
      const jsm = await jetstreamManager(nc);
      const name = `${k.prefix}_AUDIT`;
      await waitFor(async () => ((await jsm.streams.info(name).catch(() => null))?.state.messages ?? 0) > 0, 10_000, "an audit message");
      const info = await jsm.streams.info(name);
      expect(info.config.max_age).toBe(2160 * 3600 * 1e9);
      const msg = await jsm.streams.getMessage(name, { last_by_subj: `${k.prefix}.audit.api_keys_create` });
      const entry = msg!.json<{ action: string; actor: string; status: number }>();
      expect(entry).toMatchObject({ action: "api_keys.create", status: 201 });
      expect(entry.actor).toStartWith("key:");
    } finally {
      await nc.close();
      await k.stop();
    }
  });
});

describe("SECRET_KEY rotation", () => {
  test("with SECRET_KEY_PREVIOUS old values stay readable; admin reencrypt-secrets rewrites them with the new key", async () => {
    const db = await createTestDatabase({ migrated: true });
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    const OLD = "old-key-".padEnd(40, "o");
    const NEW = "new-key-".padEnd(40, "n");
    try {
      const old = createSecretBox(OLD);
      await sql`insert into plugin_configs (id, pillar, secrets) values ('storage-s3', 'storage', ${sql.json({ secret_access_key: old.encrypt("aws-secret-value") })})`;
      await sql`insert into webhooks (url, event_types, secret_enc) values ('https://example.com/h', '["*"]', ${old.encrypt("hook-secret")})`;
      expect(createSecretBox(NEW, OLD).decrypt(old.encrypt("x"))).toBe("x");
      const run = Bun.spawnSync(["bun", "src/kernel/main.ts", "admin", "reencrypt-secrets"], {
        env: { ...process.env, DATABASE_URL: db.url, SECRET_KEY: NEW, SECRET_KEY_PREVIOUS: OLD, NATS_URL: "", LOG_LEVEL: "warn" },
      });
      expect(run.stderr.toString()).toBe("");
      expect(run.exitCode).toBe(0);
      expect(run.stdout.toString()).toContain("re-encrypted 2 secret value(s)");
      const [p] = await sql<{ secrets: Record<string, string> }[]>`select secrets from plugin_configs where id = 'storage-s3'`;
      const [w] = await sql<{ secret_enc: string }[]>`select secret_enc from webhooks`;
      const fresh = createSecretBox(NEW);
      expect(fresh.decrypt(p!.secrets.secret_access_key!)).toBe("aws-secret-value");
      expect(fresh.decrypt(w!.secret_enc)).toBe("hook-secret");
      expect(() => old.decrypt(w!.secret_enc)).toThrow(SecretKeyError);
    } finally {
      await sql.end();
      await db.drop();
    }
  }, 60_000);
});

describe("plugin settings over the bus", () => {
  test("workers can fetch storage and encoder settings, never a kernel plugin's (auth-basic's session key and users)", async () => {
    const k = await startTestKernel({ nats: true });
    try {
      const { PLUGIN_SETTINGS_SUBJECT } = await import("../../src/plugin-runtime/remote-settings.ts");
      const { replyKeyPair } = await import("../../src/plugin-runtime/sealed-reply.ts");
      // A request must carry a key to seal the reply to (docs/security.md, "Plugin settings on the bus").
      const unsealed = await k.handle.ctx.bus.request<Record<string, unknown>>(PLUGIN_SETTINGS_SUBJECT, { ids: ["storage-fs"] }, 5_000).catch((e: Error) => e);
      expect(JSON.stringify(unsealed instanceof Error ? unsealed.message : unsealed)).toContain("reply_key");
      const keys = await replyKeyPair();
      const sealed = await k.handle.ctx.bus.request<unknown>(PLUGIN_SETTINGS_SUBJECT, { ids: ["storage-fs", "auth-basic", "auth-oidc", "nope"], reply_key: keys.publicKey }, 5_000);
      const got = await keys.open<Record<string, { config: Record<string, unknown> } | null>>((sealed as { sealed: unknown }).sealed);
      expect(got["storage-fs"]?.config.root).toBeString();
      expect(got["auth-basic"]).toBeNull();
      expect(got["auth-oidc"]).toBeNull();
      expect(got.nope).toBeNull();
      // auth-basic really has secrets to protect in this deployment
      const [row] = await (async () => {
        const sql = postgres(k.db.url, { max: 1, onnotice: () => {} });
        try {
          return await sql<{ secrets: Record<string, string> }[]>`select secrets from plugin_configs where id = 'auth-basic'`;
        } finally {
          await sql.end();
        }
      })();
      expect(Object.keys(row?.secrets ?? {})).toContain("session_secret");
    } finally {
      await k.stop();
    }
  });
});

describe("audit retention", () => {
  test("entries older than AUDIT_RETENTION are pruned by the retention pass; newer ones stay", async () => {
    const k = await startTestKernel({ env: { AUDIT_RETENTION: "1h" } });
    const sql = postgres(k.db.url, { max: 1, onnotice: () => {} });
    try {
      await sql`insert into audit_log (at, actor, method, route, action, status) values (now() - interval '2 hours', 'old', 'POST', '/v1/jobs', 'jobs.create', 201), (now() - interval '10 minutes', 'recent', 'POST', '/v1/jobs', 'jobs.create', 201)`;
      const { runRetention } = await import("../../src/kernel/retention.ts");
      await runRetention(k.handle.ctx);
      const actors = (await sql<{ actor: string }[]>`select actor from audit_log where actor in ('old', 'recent')`).map((r) => r.actor);
      expect(actors).toEqual(["recent"]);
    } finally {
      await sql.end();
      await k.stop();
    }
  });
});

describe("METRICS_REQUIRE_AUTH", () => {
  test("off by default: /metrics is open; on: /metrics needs a viewer, health stays open", async () => {
    const open = await startTestKernel();
    const closed = await startTestKernel({ env: { METRICS_REQUIRE_AUTH: "true" } });
    try {
      const anon = { headers: { authorization: "" } };
      expect((await open.fetch("/metrics", anon)).status).toBe(200);
      const refused = await closed.fetch("/metrics", anon);
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("WE-AUTH-001");
      expect((await closed.fetch("/v1/health", anon)).status).toBe(200);
      expect((await closed.fetch("/v1/system/health", anon)).status).toBe(200);
      const viewer = (await (await closed.fetch("/v1/api-keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "prometheus", role: "viewer" }) })).json()) as { key: string };
      const scraped = await closed.fetch("/metrics", { headers: { authorization: `Bearer ${viewer.key}` } });
      expect(scraped.status).toBe(200);
      expect(await scraped.text()).toContain("webencode_jobs_total");
    } finally {
      await open.stop();
      await closed.stop();
    }
  });
});

describe("stream tokens for EventSource (GET /v1/events?access_token=…)", () => {
  test("issued to a signed-in caller, accepted only on GET /v1/events, refused when forged or expired", async () => {
    const k = await startTestKernel();
    try {
      const viewer = (await (await k.fetch("/v1/api-keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "dash", role: "viewer" }) })).json()) as { key: string };
      const issued = await k.fetch("/v1/events/tokens", { method: "POST", headers: { authorization: `Bearer ${viewer.key}`, "content-type": "application/json" }, body: JSON.stringify({ expires_in: 600 }) });
      expect(issued.status).toBe(201);
      const { token, expires_at } = (await issued.json()) as { token: string; expires_at: string };
      expect(token).toStartWith("est_");
      expect(Math.abs(new Date(expires_at).getTime() - (Date.now() + 600_000))).toBeLessThan(5_000);
      const anon = { headers: { authorization: "" }, signal: AbortSignal.timeout(5_000) };
      const stream = await k.fetch(`/v1/events?access_token=${encodeURIComponent(token)}`, anon);
      expect(stream.status).toBe(200);
      expect(stream.headers.get("content-type")).toContain("text/event-stream");
      await stream.body?.cancel();
      // Nowhere else: the token is not a credential for other routes.
      expect((await k.fetch(`/v1/jobs?access_token=${encodeURIComponent(token)}`, anon)).status).toBe(401);
      const forged = token.slice(0, -3) + (token.endsWith("abc") ? "xyz" : "abc");
      const bad = await k.fetch(`/v1/events?access_token=${encodeURIComponent(forged)}`, anon);
      expect(bad.status).toBe(401);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("WE-AUTH-001");
      expect((await k.fetch("/v1/events/tokens", { method: "POST", headers: { authorization: "" } })).status).toBe(401);
      expect((await k.fetch("/v1/events/tokens", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ expires_in: 86_400 }) })).status).toBe(400);
    } finally {
      await k.stop();
    }
  });

  test("expiry and key: a token past its exp is WE-AUTH-002-worthy; one signed with another SECRET_KEY is invalid", async () => {
    const { issueStreamToken, verifyStreamToken } = await import("../../src/kernel/auth/stream-tokens.ts");
    const box = createSecretBox("a".repeat(40));
    const p = { id: "key:1", name: "dash", role: "viewer" as const, via: "api_key" };
    const { token } = issueStreamToken(box, p, 60, 1_000_000);
    expect(verifyStreamToken(box, token, 1_000_000 + 59_000)).toMatchObject({ ok: true, principal: { id: "key:1", role: "viewer" } });
    expect(verifyStreamToken(box, token, 1_000_000 + 61_000)).toEqual({ ok: false, reason: "expired" });
    expect(verifyStreamToken(createSecretBox("b".repeat(40)), token, 1_000_000)).toEqual({ ok: false, reason: "invalid" });
    // During a SECRET_KEY rotation, tokens signed with the previous key still verify.
    expect(verifyStreamToken(createSecretBox("b".repeat(40), "a".repeat(40)), token, 1_000_000).ok).toBe(true);
    expect(verifyStreamToken(box, "est_garbage", 1_000_000)).toEqual({ ok: false, reason: "invalid" });
  });
});

describe("secrets generated once per deployment", () => {
  test("kernels starting together end up with one storage-fs signing key, not one each", async () => {
    const db = await createTestDatabase({ migrated: true });
    const { openDatabase } = await import("../../src/db/client.ts");
    const { PluginSettingsStore } = await import("../../src/kernel/plugin-registry/settings-store.ts");
    const box = createSecretBox("k".repeat(40));
    const handles = await Promise.all([1, 2, 3].map(() => openDatabase({ url: db.url, dataDir: "", maxConnections: 2 })));
    try {
      const stores = handles.map((h) => new PluginSettingsStore(h.db, {}, box));
      await Promise.all(stores.map((s) => s.ensureGeneratedSecret("storage-fs", "storage", "url_signing_key", 32)));
      const keys = await Promise.all(stores.map(async (s) => (s.invalidate(), (await s.get("storage-fs"))?.config.url_signing_key)));
      expect(typeof keys[0]).toBe("string");
      expect(new Set(keys).size).toBe(1);
    } finally {
      for (const h of handles) await h.close();
      await db.drop();
    }
  });
});
