/**
 * Issue 20: the kernel listens once the database and the bus are connected; plugin processes come up in the
 * background. /v1/health answers while the storage plugin is still starting, and a request that needs storage
 * waits for it (bounded) and succeeds rather than failing or making the whole kernel wait.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLogger } from "../../src/core/logger.ts";
import { loadKernelConfig } from "../../src/kernel/config.ts";
import { type KernelHandle, startKernel } from "../../src/kernel/start.ts";
import { signToken } from "../../src/plugin-runtime/shared/url-signing.ts";
import { TEST_KERNEL_SECURITY_ENV } from "../helpers/auth.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const SLOW_FIXTURE = resolve(import.meta.dir, "../fixtures/plugins/slow-storage-fs.ts");
/**
 * How long the storage plugin's configure takes: longer than the 5 s a call waits for a *restarting* plugin
 * (readyWaitMs), inside the 30 s it waits for one that has not finished its first start (firstStartWaitMs).
 */
const PLUGIN_DELAY_MS = 6000;

describe("kernel start: listening before the plugin processes are ready", () => {
  let db: TestDatabase;
  let dataDir: string;
  let handle: KernelHandle | undefined;
  let startedAt = 0;
  let listeningAt = 0;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = mkdtempSync(join(tmpdir(), "webencode-early-listen-"));
    const pluginDir = join(dataDir, "plugins");
    mkdirSync(pluginDir);
    // A PLUGIN_DIR binary with the built-in's id overrides storage-fs: the same plugin, slow to configure.
    const launcher = join(pluginDir, "storage-fs");
    writeFileSync(launcher, `#!/bin/sh\nexec "${process.execPath}" "${SLOW_FIXTURE}" ${PLUGIN_DELAY_MS}\n`);
    chmodSync(launcher, 0o755);
    mkdirSync(join(dataDir, "storage", "early"), { recursive: true });
    writeFileSync(join(dataDir, "storage", "early", "hello.txt"), "served by a plugin that started late");
    const config = loadKernelConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      PLUGIN_DIR: pluginDir,
      EMBEDDED_WORKER: "false",
      SHUTDOWN_TIMEOUT: "5s",
      ...TEST_KERNEL_SECURITY_ENV,
    });
    startedAt = performance.now();
    handle = await startKernel(config, createLogger("kernel", "silent"));
    listeningAt = performance.now();
  }, 120_000);

  afterAll(async () => {
    await handle?.stop();
    await db?.drop().catch(() => {});
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  test("/v1/health is 200 while storage-fs is still starting; a storage request waits for it and succeeds", async () => {
    const k = handle!;
    const storage = k.ctx.plugins.get("storage-fs")!;
    // Found at once (its manifest is known, so it is routable), not started yet or still configuring.
    expect(storage.manifest?.pillar).toBe("storage");
    const health = await fetch(`${k.url}/v1/health`);
    expect(health.status).toBe(200);
    expect(storage.ready).toBe(false);
    expect(storage.state).toBe("starting");

    const secret = String((await k.ctx.pluginSettings.get("storage-fs"))?.config.url_signing_key ?? "");
    const token = signToken(secret, "early/hello.txt", Math.ceil(Date.now() / 1000) + 60, "t");
    const asked = performance.now();
    const r = await fetch(`${k.url}/v1/storage/storage-fs/t/${token}/early/hello.txt`);
    const waitedMs = performance.now() - asked;
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("served by a plugin that started late");
    expect(storage.ready).toBe(true);
    // The request waited for the plugin's first start, beyond the 5 s bound of a restart.
    expect(waitedMs).toBeGreaterThan(5_000);
    console.log(`[early-listen] startKernel resolved after ${(listeningAt - startedAt).toFixed(0)} ms; the storage request waited ${waitedMs.toFixed(0)} ms for the plugin`);
  }, 60_000);
});
