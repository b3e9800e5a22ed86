/**
 * Disabling the encoder bricked standalone (issue 12, item 7): after `POST /v1/plugins/encoder-ffmpeg/disable`
 * a standalone kernel (embedded worker) no longer started, and only editing the database undid it. Now the
 * API refuses to disable the last enabled plugin of a pillar every deployment needs (encoder, storage) with
 * 409 WE-PLG-002, a kernel whose database already says so fails with a message naming the way out, and
 * `webencode-kernel plugins list|enable <id>` is that way out.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import postgres from "postgres";
import { createLogger } from "../../src/core/logger.ts";
import { errorMessage } from "../../src/core/errors.ts";
import { loadKernelConfig } from "../../src/kernel/config.ts";
import { startKernel } from "../../src/kernel/start.ts";
import { TEST_KERNEL_SECURITY_ENV } from "../helpers/auth.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { BUN, ROOT, runProc } from "../helpers/proc.ts";

let k: TestKernel;
let sql: postgres.Sql;
beforeAll(async () => {
  k = await startTestKernel({ env: { EMBEDDED_WORKER: "true" } });
  sql = postgres(k.db.url, { max: 1 });
}, 120_000);
afterAll(async () => {
  await sql?.end();
  await k?.stop();
});

const enabledRow = async (id: string) => (await sql<{ enabled: boolean }[]>`select enabled from plugin_configs where id = ${id}`)[0]?.enabled;

describe("the API refuses to disable what a deployment needs", () => {
  test("the only encoder: 409 WE-PLG-002 naming why; nothing stored", async () => {
    const r = await k.fetch("/v1/plugins/encoder-ffmpeg/disable", { method: "POST" });
    expect(r.status).toBe(409);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("WE-PLG-002");
    expect(body.error.message).toContain("encoder-ffmpeg is the only enabled encoder plugin");
    expect(await enabledRow("encoder-ffmpeg")).not.toBe(false);
    expect(((await (await k.fetch("/v1/plugins/encoder-ffmpeg")).json()) as { enabled: boolean }).enabled).toBe(true);
  });

  test("the only storage plugin (storage-s3 is off by default): refused too; the kernel's storage-fs keeps running", async () => {
    const r = await k.fetch("/v1/plugins/storage-fs/disable", { method: "POST" });
    expect(r.status).toBe(409);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain("storage-fs is the only enabled storage plugin");
    expect(((await (await k.fetch("/v1/plugins/storage-fs")).json()) as { state: string }).state).toBe("healthy");
  });

  test("a plugin that is not the last of its pillar can still be disabled (auth-basic)", async () => {
    const r = await k.fetch("/v1/plugins/auth-basic/disable", { method: "POST" });
    expect(r.status).toBe(200);
    expect(await enabledRow("auth-basic")).toBe(false);
    expect((await k.fetch("/v1/plugins/auth-basic/enable", { method: "POST" })).status).toBe(200);
  });
});

describe("recovery from a database that already has the encoder disabled", () => {
  const cli = (...args: string[]) =>
    runProc([BUN, join(ROOT, "src/kernel/main.ts"), "plugins", ...args], { env: { DATABASE_URL: k.db.url, DATA_DIR: k.dataDir, LOG_LEVEL: "warn" }, timeoutMs: 60_000 });

  test("the kernel refuses to start naming the command; `plugins enable encoder-ffmpeg` fixes it", async () => {
    // The state an earlier version (or a hand edit, or plugins.toml) left behind.
    await sql`insert into plugin_configs (id, pillar, enabled) values ('encoder-ffmpeg', 'encoder', false) on conflict (id) do update set enabled = false`;
    const env = { ...TEST_KERNEL_SECURITY_ENV, PORT: "0", HOST: "127.0.0.1", DATABASE_URL: k.db.url, DATA_DIR: k.dataDir, PLUGIN_DIR: join(k.dataDir, "plugins"), BUS_PREFIX: k.prefix, EMBEDDED_WORKER: "true", SHUTDOWN_TIMEOUT: "5s" };
    await k.handle.stop();
    const failed = await startKernel(loadKernelConfig(env), createLogger("kernel", "silent")).then(
      async (h) => (await h.stop(), "started"),
      (e) => errorMessage(e),
    );
    expect(failed).toContain("webencode-kernel plugins enable encoder-ffmpeg");

    const before = await cli("list");
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/encoder-ffmpeg\s+encoder\s+disabled/);
    expect(before.stdout).toMatch(/storage-fs\s+storage\s+enabled/);

    const unknown = await cli("enable", "no-such-plugin");
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no-such-plugin");

    const fixed = await cli("enable", "encoder-ffmpeg");
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toContain("encoder-ffmpeg enabled");
    expect(await enabledRow("encoder-ffmpeg")).toBe(true);
    expect((await cli("list")).stdout).toMatch(/encoder-ffmpeg\s+encoder\s+enabled/);

    const again = await startKernel(loadKernelConfig(env), createLogger("kernel", "silent"));
    await again.stop();
  }, 120_000);
});
