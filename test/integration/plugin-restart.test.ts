/**
 * A plugin that is (re)starting is waited for, never a 500 (src/plugin-runtime/host/supervisor.ts): calls made while
 * it restarts succeed once it is up, or get 503 WE-PLG-005 with a retry hint when it takes longer than the
 * host waits; calls running when the restart begins finish on the old process. A failed or disabled plugin
 * keeps its own error. Then the case that found it: editing a user restarts auth-basic while logins and
 * session-token requests run — no 5xx other than 503 with Retry-After, and logins work afterwards.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { PluginHost, type PluginSettings } from "../../src/plugin-runtime/host/host.ts";
import { choosePlugin } from "../../src/plugin-runtime/host/routing.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { capturingLogger, rejection, tempPluginDir, writeEchoLauncher } from "../helpers/plugins.ts";
import { waitFor } from "../helpers/wait.ts";

const fast = { healthIntervalMs: 5_000, healthTimeoutMs: 2_000, backoffBaseMs: 50, backoffMaxMs: 200, maxFailures: 3, callTimeoutMs: 10_000 };

const hosts: PluginHost[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function startHost(timings: Record<string, number> = {}, settings: Record<string, PluginSettings> = {}) {
  const dir = tempPluginDir();
  dirs.push(dir);
  writeEchoLauncher(dir, "echo");
  const host = new PluginHost({
    logger: capturingLogger().logger,
    pluginDir: dir,
    pillars: ["publisher"],
    settings: { get: async (id: string) => settings[id] },
    timings: { ...fast, ...timings },
    builtins: {},
    hostEnv: { PATH: process.env.PATH ?? "" },
  });
  hosts.push(host);
  await host.start();
  return host;
}

describe("plugin host: restarts", () => {
  test("calls made during a restart wait for the new process; a call in flight finishes on the old one", async () => {
    const host = await startHost();
    const sup = host.get("echo")!;
    const oldPid = sup.pid;
    const inFlight = sup.call<{ slept: boolean }>("sleep", { ms: 400 });
    const restart = sup.restart();
    expect(sup.ready).toBe(false);
    expect(sup.pending).toBe(true);
    // Through the router too: a restarting plugin is chosen (and waited for), not refused.
    const routed = host.route("publisher", { id: "echo" }).then((s) => s.call<{ text: string }>("echo", { text: "routed" }));
    const during = Array.from({ length: 5 }, (_, i) => sup.call<{ text: string }>("echo", { text: String(i) }));
    expect(await inFlight).toEqual({ slept: true });
    expect((await Promise.all(during)).map((r) => r.text)).toEqual(["hello 0", "hello 1", "hello 2", "hello 3", "hello 4"]);
    expect(await routed).toEqual({ text: "hello routed" });
    await restart;
    expect(sup.state).toBe("healthy");
    expect(sup.pid).not.toBe(oldPid);
  });

  test("a restart that outlasts the wait answers 503 WE-PLG-005 with retry_after_s, and the plugin is usable after", async () => {
    const host = await startHost({ readyWaitMs: 1 });
    const sup = host.get("echo")!;
    const restart = sup.restart();
    const err = await rejection(sup.call("echo", { text: "x" }));
    expect(err.code).toBe("WE-PLG-005");
    expect(err.status).toBe(503);
    expect(err.message).toContain("restarting");
    expect(err.details).toMatchObject({ plugin: "echo", retry_after_s: 2 });
    await restart;
    expect(await sup.call("echo", { text: "again" })).toEqual({ text: "hello again" });
  });

  test("two restarts at once run one after the other: one process at the end, calls keep working", async () => {
    const host = await startHost();
    const sup = host.get("echo")!;
    const both = Promise.all([sup.restart(), sup.restart()]);
    const during = sup.call<{ text: string }>("echo", { text: "mid" });
    await both;
    expect(await during).toEqual({ text: "hello mid" });
    expect(sup.state).toBe("healthy");
    const pid = sup.pid!;
    const ps = Bun.spawnSync(["pgrep", "-f", dirs[0]!]).stdout.toString().trim().split("\n").filter(Boolean).map(Number);
    // The launcher execs Bun, so each live plugin is one process whose command line names the launcher dir.
    expect(ps.filter((p) => p !== pid)).toEqual([]);
  });

  test("a crash restarts the plugin: calls made while it comes back wait for it", async () => {
    const host = await startHost({ backoffBaseMs: 300 });
    const sup = host.get("echo")!;
    await rejection(sup.call("crash"));
    await waitFor(() => sup.state === "starting", 5_000, "the restart after the crash to be scheduled");
    expect(await sup.call("echo", { text: "back" })).toEqual({ text: "hello back" });
    expect(sup.restarts).toBe(1);
  });

  test("failed and disabled plugins keep their errors (no waiting)", async () => {
    const host = await startHost({ maxFailures: 1 });
    const sup = host.get("echo")!;
    await rejection(sup.call("crash"));
    await waitFor(() => sup.state === "failed", 5_000, "the plugin to be failed");
    const started = Date.now();
    const failed = await rejection(sup.call("echo"));
    expect(failed.code).toBe("WE-PLG-004");
    expect(Date.now() - started).toBeLessThan(500);
    expect((await rejection(host.route("publisher", { id: "echo" }))).code).toBe("WE-PLG-004");

    const off = await startHost({}, { echo: { enabled: false, config: {} } });
    expect((await rejection(off.get("echo")!.call("echo"))).code).toBe("WE-PLG-002");
  });

  test("routing: a usable plugin wins over a restarting one of higher priority; a restarting one beats nothing", () => {
    const base = { pillar: "storage" as const, schemes: ["fs"], disabled: false };
    const a = { ...base, id: "a", priority: 10, usable: false, pending: true };
    const b = { ...base, id: "b", priority: 1, usable: true };
    const c = { ...base, id: "c", priority: 0, usable: false, pending: false };
    expect(choosePlugin([a, b, c], "storage").id).toBe("b");
    expect(choosePlugin([a, c], "storage").id).toBe("a");
    expect(choosePlugin([a], "storage", { id: "a" }).id).toBe("a");
    expect(() => choosePlugin([c], "storage", { id: "c" })).toThrow("not running");
    expect(() => choosePlugin([c], "storage")).toThrow("no healthy");
  });
});

describe("kernel: editing users while people log in", () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel();
    for (const username of ["alice", "bob"]) {
      const r = await k.fetch("/v1/users", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password: "alice-password-1", roles: ["viewer"] }) });
      expect(r.status).toBe(201);
    }
  });
  afterAll(async () => {
    await k?.stop();
  });

  const login = () =>
    fetch(`${k.url}/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "alice", password: "alice-password-1" }) });

  test("no 5xx but 503 with Retry-After during the restarts; logins and session tokens work afterwards", async () => {
    const first = await login();
    expect(first.status).toBe(200);
    const { access_token } = (await first.json()) as { access_token: string };
    const seen: Array<{ what: string; status: number; retryAfter: string | null; body: string }> = [];
    let editing = true;
    const client = async (what: string, send: () => Promise<Response>) => {
      while (editing) {
        const r = await send();
        seen.push({ what, status: r.status, retryAfter: r.headers.get("retry-after"), body: await r.text() });
      }
    };
    const clients = [
      client("login", login),
      client("login", login),
      // A session token is checked by auth-basic on every request (after the few-second cache is cleared by the edit).
      client("GET /v1/jobs", () => fetch(`${k.url}/v1/jobs`, { headers: { authorization: `Bearer ${access_token}` } })),
      client("GET /v1/users", () => k.fetch("/v1/users")),
    ];
    const edits: number[] = [];
    for (let i = 0; i < 4; i++) {
      // Each edit restarts auth-basic (src/kernel/auth/basic-users.ts); the edited user is not the one logging in.
      const r = await k.fetch("/v1/users/bob", { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: `Bob ${i}` }) });
      edits.push(r.status);
    }
    editing = false;
    await Promise.all(clients);
    expect(edits).toEqual([200, 200, 200, 200]);
    const bad = seen.filter((s) => s.status >= 500 && !(s.status === 503 && s.retryAfter !== null && JSON.parse(s.body).error.code === "WE-PLG-005"));
    expect(bad).toEqual([]);
    expect(seen.filter((s) => s.status !== 200 && s.status < 500)).toEqual([]);
    expect(seen.filter((s) => s.what === "login").length).toBeGreaterThan(4);
    const after = await login();
    expect(after.status).toBe(200);
    expect(await after.json()).toHaveProperty("access_token");
    const jobs = await fetch(`${k.url}/v1/jobs`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(jobs.status).toBe(200);
  });
});
