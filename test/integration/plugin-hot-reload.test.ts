/**
 * Plugin hot reload (docs/plugins.md, issue 21): a binary replaced in PLUGIN_DIR — noticed by the watcher or
 * asked for with POST /v1/plugins/:id/reload — takes over only after it has described itself, accepted the
 * configuration and answered its health check; calls in flight finish on the old process; a new version that
 * fails its start is refused (WE-PLG-006) and the old version keeps serving.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PluginHost } from "../../src/plugin-runtime/host/host.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { capturingLogger, rejection, tempPluginDir, writeEchoLauncher } from "../helpers/plugins.ts";
import { waitFor } from "../helpers/wait.ts";

const fast = { healthIntervalMs: 5_000, healthTimeoutMs: 2_000, backoffBaseMs: 50, backoffMaxMs: 200, maxFailures: 3, callTimeoutMs: 10_000, drainMs: 5_000 };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startHost(watchIntervalMs = 0) {
  const dir = tempPluginDir();
  writeEchoLauncher(dir, "echo", { version: "1.0.0" });
  const host = new PluginHost({
    logger: capturingLogger().logger,
    pluginDir: dir,
    pillars: ["publisher"],
    settings: { get: async () => undefined },
    timings: fast,
    builtins: {},
    hostEnv: { PATH: process.env.PATH ?? "" },
    watchIntervalMs,
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => host.stop());
  await host.start();
  return { host, dir };
}

/** A "binary" that starts and then exits before describing itself (a broken build). */
function writeBrokenBinary(dir: string, name: string): void {
  const path = join(dir, `${name}.new`);
  writeFileSync(path, "#!/bin/sh\necho 'segmentation fault' >&2\nexit 139\n");
  chmodSync(path, 0o755);
  renameSync(path, join(dir, name));
}

describe("plugin hot reload", () => {
  test("the new version takes over; the call in flight finishes on the old process; no call fails meanwhile", async () => {
    const { host, dir } = await startHost();
    const sup = host.get("echo")!;
    const before = await sup.call<{ version: string; pid: number }>("version");
    expect(before.version).toBe("1.0.0");

    const inFlight = sup.call<{ slept: boolean }>("sleep", { ms: 1_500 });
    writeEchoLauncher(dir, "echo", { version: "1.1.0" });
    const reload = host.hotReload("echo");
    // Calls keep working during the swap (they go to the old process until the new one is ready).
    const during = await Promise.all(Array.from({ length: 5 }, (_, i) => sup.call<{ text: string }>("echo", { text: `n${i}` })));
    expect(during.map((r) => r.text)).toEqual(["hello n0", "hello n1", "hello n2", "hello n3", "hello n4"]);

    expect(await reload).toEqual({ plugin: "echo", from: "1.0.0", to: "1.1.0", swapped: true });
    expect(await inFlight).toEqual({ slept: true });
    const after = await sup.call<{ version: string; pid: number }>("version");
    expect(after.version).toBe("1.1.0");
    expect(after.pid).not.toBe(before.pid);
    expect(sup.manifest?.version).toBe("1.1.0");
    expect(sup.state).toBe("healthy");
    // The old process is gone once it drained.
    await waitFor(() => {
      try {
        process.kill(before.pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 15_000, "the old plugin process to exit after draining");
  }, 60_000);

  test("a new version that fails its start is refused (WE-PLG-006) and the old one keeps serving", async () => {
    const { host, dir } = await startHost();
    const sup = host.get("echo")!;
    const before = await sup.call<{ version: string; pid: number }>("version");

    writeBrokenBinary(dir, "echo");
    const error = await rejection(host.hotReload("echo"));
    expect(error.code).toBe("WE-PLG-006");
    expect(error.message).toMatch(/reload refused: the new version failed its start .*version 1\.0\.0 keeps serving/);
    const still = await sup.call<{ version: string; pid: number }>("version");
    expect(still).toEqual(before);
    expect(sup.state).toBe("healthy");

    // An incompatible plugin API is refused the same way.
    writeEchoLauncher(dir, "echo", { version: "2.0.0", apiVersion: "9.0" });
    const incompatible = await rejection(host.hotReload("echo"));
    expect(incompatible.code).toBe("WE-PLG-006");
    expect(incompatible.message).toContain("Incompatible API version");
    expect((await sup.call<{ version: string }>("version")).version).toBe("1.0.0");
  }, 60_000);

  test("the PLUGIN_DIR watcher reloads a replaced binary by itself", async () => {
    const { host, dir } = await startHost(200);
    const sup = host.get("echo")!;
    writeEchoLauncher(dir, "echo", { version: "1.2.0" });
    await waitFor(() => sup.manifest?.version === "1.2.0" && sup.ready, 30_000, "the watcher to hot-reload the replaced binary");
    expect((await sup.call<{ version: string }>("version")).version).toBe("1.2.0");
  }, 60_000);

  describe("POST /v1/plugins/:id/reload", () => {
    let kernel: TestKernel | undefined;
    afterEach(async () => {
      await kernel?.stop();
      kernel = undefined;
    });

    test("200 with from → to; 409 WE-PLG-006 for a broken binary with the old version still listed; 404 for an unknown id", async () => {
      const pluginDir = tempPluginDir();
      cleanups.push(() => rmSync(pluginDir, { recursive: true, force: true }));
      mkdirSync(pluginDir, { recursive: true });
      writeEchoLauncher(pluginDir, "echo", { version: "1.0.0" });
      kernel = await startTestKernel({ env: { PLUGIN_DIR: pluginDir, PLUGIN_WATCH_INTERVAL: "0" } });

      writeEchoLauncher(pluginDir, "echo", { version: "1.0.1" });
      const ok = await kernel.fetch("/v1/plugins/echo/reload", { method: "POST" });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ id: "echo", hosted_by: "kernel", from: "1.0.0", to: "1.0.1", swapped: true, announced: true });
      expect(await (await kernel.fetch("/v1/plugins/echo")).json()).toMatchObject({ version: "1.0.1", state: "healthy" });

      writeBrokenBinary(pluginDir, "echo");
      const refused = await kernel.fetch("/v1/plugins/echo/reload", { method: "POST" });
      expect(refused.status).toBe(409);
      const body = (await refused.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("WE-PLG-006");
      expect(body.error.message).toContain("version 1.0.1 keeps serving");
      expect(await (await kernel.fetch("/v1/plugins/echo")).json()).toMatchObject({ version: "1.0.1", state: "healthy" });

      const missing = await kernel.fetch("/v1/plugins/nope/reload", { method: "POST" });
      expect(missing.status).toBe(404);
    }, 90_000);
  });
});
