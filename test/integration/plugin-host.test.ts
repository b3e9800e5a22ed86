/**
 * The plugin host against real plugin processes speaking the protocol over stdio: handshake and version
 * refusal, crash → restart → failed, hang → timeout, stdout noise, environment isolation, config validation,
 * logs with the plugin id, progress notifications.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { PluginHost, type PluginSettings } from "../../src/plugin-runtime/host/host.ts";
import { capturingLogger, rejection, tempPluginDir, writeEchoLauncher } from "../helpers/plugins.ts";
import { waitFor } from "../helpers/wait.ts";

const fast = { healthIntervalMs: 150, healthTimeoutMs: 300, backoffBaseMs: 50, backoffMaxMs: 200, maxFailures: 3, callTimeoutMs: 5000 };

const hosts: PluginHost[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function settingsOf(map: Record<string, PluginSettings>) {
  return { get: async (id: string) => map[id] };
}

async function startHost(settings: Record<string, PluginSettings> = {}, setup?: (dir: string) => void, hostEnv: Record<string, string> = {}) {
  const dir = tempPluginDir();
  dirs.push(dir);
  setup ? setup(dir) : writeEchoLauncher(dir, "echo");
  const { logger, lines } = capturingLogger();
  const host = new PluginHost({
    logger,
    pluginDir: dir,
    pillars: ["publisher"],
    settings: settingsOf(settings),
    timings: fast,
    builtins: {},
    hostEnv: { PATH: process.env.PATH ?? "", ...hostEnv },
  });
  hosts.push(host);
  await host.start();
  return { host, lines, dir };
}

describe("plugin host", () => {
  test("handshake: a PLUGIN_DIR binary is described, configured and healthy", async () => {
    const { host } = await startHost({ echo: { enabled: true, config: { greeting: "hi" } } });
    const sup = host.get("echo")!;
    expect(sup.state).toBe("healthy");
    expect(sup.manifest).toMatchObject({ id: "echo", pillar: "publisher", version: "0.0.1", api_version: "1.0", secret_fields: ["token"], env: ["ECHO_DECLARED"] });
    expect(sup.manifest!.config_schema).toHaveProperty("properties.greeting");
    expect(await sup.call("echo", { text: "there" })).toEqual({ text: "hi there" });
  });

  test("a plugin speaking another major API version is refused and not used", async () => {
    const { host, lines } = await startHost({}, (dir) => {
      writeEchoLauncher(dir, "future", { apiVersion: "2.0" });
      writeEchoLauncher(dir, "echo");
    });
    const refused = host.get("future")!;
    expect(refused.state).toBe("failed");
    expect(refused.lastError).toContain("Incompatible API version");
    expect(refused.pid).toBeUndefined();
    expect(lines.some((l) => String(l.msg).includes("Incompatible API version") && l.level === "error")).toBe(true);
    expect((await rejection(host.route("publisher", { id: "future" }))).code).toBe("WE-PLG-004");
    expect((await host.route("publisher")).id).toBe("echo");
  });

  test("plugin errors carry their catalogue code to the host", async () => {
    const { host } = await startHost();
    const err = await rejection(host.get("echo")!.call("fail"));
    expect(err.code).toBe("WE-STO-001");
    expect(err.message).toBe("object jobs/x not found");
    expect(err.details).toEqual({ key: "jobs/x" });
    expect((await rejection(host.get("echo")!.call("no_such_method"))).code).toBe("WE-PLG-004");
  });

  test("a crash fails the call in flight at once, and the plugin is restarted", async () => {
    const { host } = await startHost();
    const sup = host.get("echo")!;
    const firstPid = sup.pid;
    const started = Date.now();
    const err = await rejection(sup.call("crash", {}, { timeoutMs: 30_000 }));
    expect(Date.now() - started).toBeLessThan(10_000); // at once, not at the call's 30 s timeout
    expect(err.code).toBe("WE-PLG-004");
    expect(err.message).toContain("exited with code 3");
    await waitFor(() => sup.state === "healthy" && sup.restarts === 1, 5000, "restart after crash");
    expect(sup.pid).not.toBe(firstPid);
    expect(sup.lastError).toContain("exited with code 3");
    expect(await sup.call("echo", { text: "again" })).toEqual({ text: "hello again" });
  });

  test("a plugin that keeps crashing ends up failed and is not restarted again", async () => {
    const { host } = await startHost({ echo: { enabled: true, config: { mode: "crash-on-configure" } } });
    const sup = host.get("echo")!;
    await waitFor(() => sup.state === "failed", 5000, "state failed");
    expect(sup.restarts).toBe(fast.maxFailures - 1);
    expect(sup.pid).toBeUndefined();
    expect((await rejection(sup.call("echo"))).code).toBe("WE-PLG-004");
  });

  test("a hanging call times out with a clear error and does not block other calls", async () => {
    const { host } = await startHost();
    const sup = host.get("echo")!;
    const started = Date.now();
    const hanging = rejection(sup.call("sleep", { ms: 60_000 }, { timeoutMs: 300 }));
    expect(await sup.call("echo", { text: "meanwhile" })).toEqual({ text: "hello meanwhile" });
    const err = await hanging;
    expect(err.code).toBe("WE-PLG-005");
    expect(err.message).toContain("timed out after 300 ms");
    expect(Date.now() - started).toBeLessThan(10_000); // not the 60 s the call would sleep
  });

  test("a plugin whose health check hangs is restarted", async () => {
    const { host } = await startHost({ echo: { enabled: true, config: { mode: "hang-health" } } });
    const sup = host.get("echo")!;
    await waitFor(() => sup.restarts >= 1, 5000, "restart after hung health check");
    expect(sup.lastError).toMatch(/health (check failed|timed out)/);
  });

  test("an unhealthy plugin is degraded, not restarted", async () => {
    const { host } = await startHost({ echo: { enabled: true, config: { mode: "unhealthy" } } });
    const sup = host.get("echo")!;
    expect(sup.state).toBe("degraded");
    expect(sup.healthDetail).toBe("told to be unhealthy");
    expect(sup.restarts).toBe(0);
  });

  test("garbage on stdout does not corrupt the protocol; plugin logs reach the host log with the plugin id", async () => {
    const { host, lines } = await startHost();
    const sup = host.get("echo")!;
    expect(await sup.call("noise", { text: "still fine" })).toEqual({ text: "still fine" });
    expect(await sup.call("echo", { text: "after" })).toEqual({ text: "hello after" });
    await waitFor(() => lines.some((l) => l.plugin === "echo" && l.msg === "console.log goes to stderr"), 2000, "console.log line in host log");
    expect(lines.some((l) => l.plugin === "echo" && l.msg === "echo plugin configured" && l.greeting === "hello")).toBe(true);
    expect(lines.some((l) => l.plugin === "echo" && l.line === "this is not json" && l.level === "warn")).toBe(true);
  });

  test("a plugin sees only the base variables and the ones it declared", async () => {
    const { host } = await startHost({}, undefined, { ECHO_DECLARED: "yes", DATABASE_URL: "postgres://secret@db/x", SECRET_KEY: "k" });
    const got = await host.get("echo")!.call<{ declared: Record<string, string>; processEnvKeys: string[] }>("env");
    expect(got.declared).toEqual({ ECHO_DECLARED: "yes" });
    expect(got.processEnvKeys).not.toContain("DATABASE_URL");
    expect(got.processEnvKeys).not.toContain("SECRET_KEY");
    expect(got.processEnvKeys).not.toContain("ECHO_DECLARED");
    expect(got.processEnvKeys.filter((k) => !["PATH", "HOME", "TMPDIR", "LANG", "TZ", "WEBENCODE_PLUGIN", "PWD" /* set by the sh launcher */].includes(k) && !k.startsWith("BUN_"))).toEqual([]);
  });

  test("configuration is validated by the plugin: WE-PLG-003 with the field named", async () => {
    const { host } = await startHost();
    const err = await rejection(host.get("echo")!.validateConfig({ mode: "loud" }));
    expect(err.code).toBe("WE-PLG-003");
    expect(err.message).toContain("mode");
    await host.get("echo")!.validateConfig({ mode: "ok", greeting: "hey" });
  });

  test("progress notifications reach the caller before the result", async () => {
    const { host } = await startHost();
    const seen: unknown[] = [];
    const result = await host.get("echo")!.call("progress", {}, { onProgress: (d) => seen.push(d) });
    expect(seen).toEqual([{ step: 1 }, { step: 2 }, { step: 3 }]);
    expect(result).toEqual({ done: true });
  });

  test("an aborted call sends a cancel and settles at once", async () => {
    const { host } = await startHost();
    const ac = new AbortController();
    const p = rejection(host.get("echo")!.call("sleep", { ms: 60_000 }, { signal: ac.signal }));
    ac.abort();
    expect((await p).message).toContain("cancelled");
    expect(await host.get("echo")!.call("echo", { text: "ok" })).toEqual({ text: "hello ok" });
  });

  test("disabled plugins are described but not run; routing skips them", async () => {
    const { host } = await startHost({ echo: { enabled: false, config: {} } });
    const sup = host.get("echo")!;
    expect(sup.state).toBe("disabled");
    expect(sup.manifest?.id).toBe("echo");
    expect((await rejection(host.route("publisher"))).code).toBe("WE-PLG-001");
    expect((await rejection(host.route("publisher", { id: "echo" }))).code).toBe("WE-PLG-002");
  });
});
