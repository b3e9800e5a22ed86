/**
 * Plugin packaging with the compiled executables: the built-ins run as `<kernel> __plugin <id>`
 * subprocesses; a compiled plugin binary dropped into PLUGIN_DIR (here: storage-fs from `build --plugins`)
 * is picked up at start, overrides the built-in of the same id, and serves real requests.
 */
import { TEST_KERNEL_SECURITY_ENV, withAuth } from "../helpers/auth.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, DIST, freePort, killAllProcs, spawnProc } from "../helpers/proc.ts";

const pluginBinary = join(DIST, "plugins", "storage-fs");
let dir: string;

beforeAll(() => {
  if (!existsSync(pluginBinary)) throw new Error(`${pluginBinary} is missing: run \`bun scripts/build.ts --plugins\` first`);
  dir = mkdtempSync(join(tmpdir(), "we-e2e-plugins-"));
});
afterAll(async () => {
  await killAllProcs();
  rmSync(dir, { recursive: true, force: true });
});

async function startKernel(name: string, pluginDir: string) {
  const port = await freePort();
  const dataDir = join(dir, name);
  const k = spawnProc([binary("webencode-kernel")], { env: { DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", PLUGIN_DIR: pluginDir, EMBEDDED_WORKER: "false", ...TEST_KERNEL_SECURITY_ENV } });
  await k.waitForHttp200(`http://127.0.0.1:${port}/v1/health`, 60_000);
  await k.waitForLine("listening on", 60_000);
  // The kernel listens before its plugin processes are ready (issue 20); these tests look at running plugins.
  await k.waitForLine("plugins started", 60_000);
  return { k, url: `http://127.0.0.1:${port}`, dataDir };
}

describe("plugins with the compiled kernel", () => {
  test("built-ins run as subprocesses of the kernel executable itself", async () => {
    const { k, url } = await startKernel("builtin", join(dir, "empty-plugins"));
    const body = (await (await fetch(`${url}/v1/plugins/storage-fs`, withAuth(undefined))).json()) as Record<string, unknown>;
    expect(body).toMatchObject({ state: "healthy", builtin: true, source: "built-in" });
    const ps = Bun.spawnSync(["pgrep", "-f", "-a", "__plugin storage-fs"]).stdout.toString();
    expect(ps).toContain(binary("webencode-kernel"));
    expect((await k.stop("SIGTERM", 20_000)).code).toBe(0);
  }, 120_000);

  test("a compiled plugin in PLUGIN_DIR overrides the built-in and does the work", async () => {
    const pluginDir = join(dir, "plugins");
    mkdirSync(pluginDir, { recursive: true });
    copyFileSync(pluginBinary, join(pluginDir, "storage-fs"));
    Bun.spawnSync(["chmod", "+x", join(pluginDir, "storage-fs")]);
    const { k, url, dataDir } = await startKernel("override", pluginDir);
    const view = (await (await fetch(`${url}/v1/plugins/storage-fs`, withAuth(undefined))).json()) as Record<string, unknown>;
    expect(view).toMatchObject({ state: "healthy", builtin: false, source: join(pluginDir, "storage-fs"), pillar: "storage" });
    expect(k.stderr).toContain("overrides the built-in");
    const up = await fetch(`${url}/v1/files?filename=a.bin`, withAuth({ method: "POST", body: new Uint8Array(4096).fill(7) }));
    expect(up.status).toBe(201);
    const { key } = (await up.json()) as { key: string };
    expect(Bun.file(join(dataDir, "storage", key)).size).toBe(4096);
    expect((await k.stop("SIGTERM", 20_000)).code).toBe(0);
  }, 120_000);
});
