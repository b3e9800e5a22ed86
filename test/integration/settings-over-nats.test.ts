/**
 * Plugin settings over NATS (issue 12, item 5). The attack: any client reaching NATS asked
 * `<prefix>.rpc.plugins.settings` and got the storage-fs URL-signing key (enough to forge a download URL for
 * any object) and the S3 credentials in plaintext. Now:
 * - the signing key is kernel-only: no reply carries it, to anyone;
 * - on a NATS server with the generated users, an anonymous client cannot connect, a user without its own
 *   permissions (default_permissions) and a monitoring user may not ask, and replies are sealed to the
 *   requesting worker's key, so the monitoring user that sees every message reads no secret;
 * - the worker user (and the worker's own settings client) still gets the S3 credentials it needs;
 * - on an open NATS (the kernel has no credentials), whoever asks gets no secret fields at all, and the kernel
 *   says why in its log.
 * A real job run by a worker under the generated permissions: test/integration/nats-permissions.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection, PermissionViolationError } from "@nats-io/transport-node";
import { natsAuthorizationBlock, natsInboxPrefix } from "../../src/bus/nats-permissions.ts";
import { openBus } from "../../src/bus/factory.ts";
import { natsNames } from "../../src/bus/subjects.ts";
import type { Bus } from "../../src/bus/types.ts";
import { createLogger } from "../../src/core/logger.ts";
import { RemotePluginSettings } from "../../src/plugin-runtime/remote-settings.ts";
import { replyKeyPair } from "../../src/plugin-runtime/sealed-reply.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { type ConfiguredNats, natsUrl, startConfiguredNats, uniquePrefix } from "../helpers/nats.ts";
import { waitFor } from "../helpers/wait.ts";

const S3_KEY_ID = `AKIATEST${crypto.randomUUID().slice(0, 8)}`;
const S3_SECRET = `s3-secret-${crypto.randomUUID()}`;
const silent = createLogger("test", "silent");
const dir = mkdtempSync(join(tmpdir(), "webencode-settings-nats-"));

type Settings = Record<string, { enabled: boolean; config: Record<string, unknown> } | null>;

async function configureS3(k: TestKernel) {
  const r = await k.fetch("/v1/plugins/storage-s3/config", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ config: { bucket: "media", endpoint: "http://127.0.0.1:9", force_path_style: true, access_key_id: S3_KEY_ID, secret_access_key: S3_SECRET } }),
  });
  expect(r.status).toBe(200);
}

/** A raw settings request on `nc`, as an attacker would send it: the reply text and, when sealed, its content. */
async function ask(nc: NatsConnection, prefix: string, withKey = true): Promise<{ raw: string; settings?: Settings }> {
  const keys = await replyKeyPair();
  const m = await nc.request(natsNames(prefix).rpc("plugins.settings"), JSON.stringify({ ids: ["storage-fs", "storage-s3", "auth-basic"], ...(withKey ? { reply_key: keys.publicKey } : {}) }), { timeout: 5000 });
  const raw = m.string();
  const env = JSON.parse(raw) as { ok: boolean; data?: { sealed?: unknown } };
  return { raw, settings: env.ok ? await keys.open<Settings>(env.data?.sealed) : undefined };
}

const permissionError = (e: unknown) => {
  for (let c = e; c instanceof Error; c = c.cause) if (c instanceof PermissionViolationError) return `refused ${c.subject}`;
  return String(e);
};

describe("NATS with the generated users", () => {
  const prefix = uniquePrefix();
  const users = { kernel: { user: "we-kernel", password: "kernel-pw-7d1" }, worker: { user: "we-worker", password: "worker-pw-2c9" } };
  const ops = { user: "ops", password: "ops-pw-5e3" }; // added by hand, no permissions of its own
  const monitor = { user: "monitor", password: "monitor-pw-8a4", permissions: { publish: ["_INBOX.monitor.>"], subscribe: [">"] } };
  let url: string;
  let server: ConfiguredNats | undefined;
  let k: TestKernel;

  beforeAll(async () => {
    server = await startConfiguredNats(dir, natsAuthorizationBlock(prefix, users, [ops, monitor]));
    url = server.url;
    k = await startTestKernel({ env: { NATS_URL: url, NATS_USER: users.kernel.user, NATS_PASSWORD: users.kernel.password, BUS_PREFIX: prefix } });
    await configureS3(k);
  }, 60_000);
  afterAll(async () => {
    await k?.stop();
    await server?.stop();
  });

  test("an anonymous client cannot even connect", async () => {
    const err = await connect({ servers: url }).then((nc) => (void nc.close(), "connected"), (e: Error) => e.message);
    expect(err).toMatch(/authorization/i);
  });

  test("a user without permissions of its own (default_permissions) may not ask", async () => {
    const nc = await connect({ servers: url, user: ops.user, pass: ops.password });
    try {
      expect(permissionError(await ask(nc, prefix).then(() => "answered", (e) => e))).toBe(`refused ${natsNames(prefix).rpc("plugins.settings")}`);
    } finally {
      await nc.close();
    }
  });

  test("the worker user gets the S3 credentials, sealed: a monitor reading every message sees no secret; the signing key is never sent", async () => {
    const mon = await connect({ servers: url, user: monitor.user, pass: monitor.password, inboxPrefix: "_INBOX.monitor" });
    const seen: string[] = [];
    const sub = mon.subscribe(">", { callback: (_e, m) => void seen.push(`${m.subject} ${m.string()}`) });
    await mon.flush();
    // The monitor may listen but not ask.
    expect(permissionError(await ask(mon, prefix).then(() => "answered", (e) => e))).toBe(`refused ${natsNames(prefix).rpc("plugins.settings")}`);

    const nc = await connect({ servers: url, user: users.worker.user, pass: users.worker.password, inboxPrefix: natsInboxPrefix(prefix, "worker") });
    try {
      const { raw, settings } = await ask(nc, prefix);
      expect(raw).not.toContain(S3_SECRET);
      expect(settings!["storage-s3"]!.config).toMatchObject({ bucket: "media", access_key_id: S3_KEY_ID, secret_access_key: S3_SECRET });
      expect(settings!["storage-fs"]!.config.root).toBeString();
      expect(settings!["storage-fs"]!.config).not.toHaveProperty("url_signing_key");
      expect(settings!["auth-basic"]).toBeNull(); // kernel-hosted: never leaves the kernel
      // Without a key to seal to, no answer.
      const bare = await ask(nc, prefix, false);
      expect(bare.raw).toContain("reply_key");
      expect(bare.raw).not.toContain("media");
      await waitFor(() => seen.some((s) => s.includes('"sealed"')), 5000, "the monitor to see the sealed reply");
      expect(seen.filter((s) => s.includes(S3_SECRET) || s.includes(S3_KEY_ID))).toEqual([]);
    } finally {
      sub.unsubscribe();
      await mon.close();
      await nc.close();
    }
  });

  test("a worker's own settings client (RemotePluginSettings over the worker user) still gets what it needs", async () => {
    let bus: Bus | undefined;
    try {
      bus = await openBus({ NATS_URL: url, BUS_PREFIX: prefix, NATS_USER: users.worker.user, NATS_PASSWORD: users.worker.password } as never, silent, "settings-worker", "worker");
      const remote = new RemotePluginSettings(bus, silent);
      const s3 = await remote.get("storage-s3");
      expect(s3?.config.secret_access_key).toBe(S3_SECRET);
      const fs = await remote.get("storage-fs");
      expect(fs?.enabled).toBe(true);
      expect(fs?.config).not.toHaveProperty("url_signing_key");
    } finally {
      await bus?.close();
    }
  });
});

describe("open NATS (no users): the kernel sends no secrets at all", () => {
  const logs: string[] = [];
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel({ nats: true, logSink: logs, logLevel: "warn" });
    await configureS3(k);
  }, 60_000);
  afterAll(async () => {
    await k?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("anyone can ask, but gets plain settings only; the kernel logs why", async () => {
    const nc = await connect({ servers: natsUrl() });
    try {
      const { raw, settings } = await ask(nc, k.prefix);
      expect(raw).not.toContain(S3_SECRET);
      expect(settings!["storage-s3"]!.config).toMatchObject({ bucket: "media" });
      expect(settings!["storage-s3"]!.config).not.toHaveProperty("secret_access_key");
      expect(settings!["storage-s3"]!.config).not.toHaveProperty("access_key_id");
      expect(settings!["storage-fs"]!.config).not.toHaveProperty("url_signing_key");
      expect(JSON.stringify(settings)).not.toContain(S3_SECRET);
      await waitFor(() => logs.some((l) => l.includes("WITHOUT its secret fields") && l.includes("storage-s3")), 5000, "the kernel's warning");
    } finally {
      await nc.close();
    }
  });
});
