/**
 * End-to-end: the compiled executables in dist/ (build them with `bun run build`), started as an operator
 * would, each in its own temp working directory with only the variables we give it.
 *
 * - CLI: --version, --help, exit code 2 and one stderr line for invalid configuration;
 * - standalone kernel (PGlite in DATA_DIR, in-process bus, embedded worker): time to first 200, the
 *   DATA_DIR lock against a second kernel, SIGTERM → exit 0;
 * - `migrate status` / `migrate` against a fresh PostgreSQL database;
 * - distributed: kernel on PostgreSQL + NATS JetStream, a separate worker registering and going offline
 *   after SIGKILL (presence TTL) or at once after SIGTERM;
 * - a NATS server without JetStream: both executables refuse to start with the runbook's message.
 */
import { TEST_KERNEL_SECURITY_ENV, withAuth } from "../helpers/auth.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { cleanupPrefix, natsUrl, startNatsServer, type ThrowawayNats, uniquePrefix } from "../helpers/nats.ts";
import { binary, freePort, killAllProcs, type Proc, runProc, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

let KERNEL = "";
let WORKER = "";
const scratch = mkdtempSync(join(tmpdir(), "webencode-e2e-"));
const dbs: TestDatabase[] = [];
const prefixes: string[] = [];
const natsServers: ThrowawayNats[] = [];

/** A fresh working directory per process, so no .env or ./data is shared by accident. */
function workDir(name: string): string {
  return mkdtempSync(join(scratch, `${name}-`));
}

beforeAll(() => {
  // Throws "…is missing: run `bun run build`…" when the executables have not been built.
  KERNEL = binary("webencode-kernel");
  WORKER = binary("webencode-worker");
});

afterAll(async () => {
  await killAllProcs();
  for (const d of dbs) await d.drop().catch(() => {});
  for (const p of prefixes) await cleanupPrefix(natsUrl(), p).catch(() => {});
  for (const n of natsServers) await n.dispose().catch(() => {});
  rmSync(scratch, { recursive: true, force: true });
});

interface Worker {
  id: string;
  status: string;
  healthy: boolean;
  pools: string[];
  capabilities: { ffmpeg?: { version?: string } };
}

describe("command line", () => {
  test("--version prints the name and version and exits 0", async () => {
    for (const [bin, name] of [
      [KERNEL, "webencode-kernel"],
      [WORKER, "webencode-worker"],
    ] as const) {
      const r = await runProc([bin, "--version"], { cwd: workDir("version") });
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^${name} \\d+\\.\\d+\\.\\d+\\S*\\n$`));
    }
  });

  test("--help exits 0; the kernel's mentions migrate, the worker's NATS_URL", async () => {
    const k = await runProc([KERNEL, "--help"], { cwd: workDir("help") });
    expect(k.code).toBe(0);
    expect(k.stdout).toContain("webencode-kernel migrate");
    expect(k.stdout).toContain("migrate status");
    const w = await runProc([WORKER, "--help"], { cwd: workDir("help") });
    expect(w.code).toBe(0);
    expect(w.stdout).toContain("NATS_URL");
  });

  test("an unknown command exits 2 with the usage", async () => {
    const r = await runProc([KERNEL, "frobnicate"], { cwd: workDir("cmd") });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command: frobnicate");
    expect(r.stderr).toContain("Usage:");
  });

  test.each([
    ["kernel", "PORT", "abc"],
    ["kernel", "LOG_LEVEL", "loud"],
    ["kernel", "DATABASE_URL", "mysql://admin:hunter2@db/we"],
    // NATS_URL is set below: distributed mode, where serving needs SECRET_KEY ("" = unset).
    ["kernel", "SECRET_KEY", ""],
    ["kernel", "TRUSTED_PROXIES", "10.0.0.0/33"],
    ["worker", "HEARTBEAT_INTERVAL", "10s"],
    ["worker", "WORKER_CONCURRENCY", "zero"],
  ] as const)("invalid configuration: %s with %s=%p → exit 2 and exactly one stderr line naming it", async (which, name, value) => {
    // PORT/HOST/DATA_DIR so that, if the bad value were accepted, the kernel would not bind 8080 or write ./data.
    const cwd = workDir("badcfg");
    const env = { PORT: "0", HOST: "127.0.0.1", DATA_DIR: join(cwd, "data"), NATS_URL: "nats://127.0.0.1:1", [name]: value };
    const r = await runProc([which === "kernel" ? KERNEL : WORKER], { env, cwd, timeoutMs: 15_000 });
    expect(r.code).toBe(2);
    const lines = r.stderr.split("\n").filter((l) => l.length > 0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(name);
    expect(lines[0]).toStartWith("invalid configuration: ");
    expect(r.stderr).not.toContain("hunter2");
    expect(r.stdout).toBe("");
  });

  test("a bad value in ./.env is reported the same way", async () => {
    const cwd = workDir("dotenv");
    writeFileSync(join(cwd, ".env"), "# settings\nexport PORT=\"not-a-port\" # oops\n");
    const r = await runProc([KERNEL], { cwd, timeoutMs: 15_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('invalid configuration: PORT must be a whole number from 0 to 65535 (got "not-a-port")');
  });

  test("a missing ENV_FILE is a configuration error", async () => {
    // PORT/HOST/DATA_DIR so that, if the variable were ignored, the kernel would not bind 8080 or write ./data.
    const cwd = workDir("envfile");
    const env = { ENV_FILE: join(scratch, "nope.env"), PORT: "0", HOST: "127.0.0.1", DATA_DIR: join(cwd, "data") };
    const r = await runProc([KERNEL], { env, cwd, timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("ENV_FILE");
  });
});

describe("standalone kernel (PGlite in DATA_DIR, in-process bus, embedded worker)", () => {
  let dataDir = "";
  let first: Proc | undefined;
  let port = 0;
  let adminKey = "";

  beforeAll(async () => {
    dataDir = join(workDir("standalone"), "data");
    port = await freePort();
  });

  afterAll(() => {
    first?.kill("SIGKILL");
  });

  const start = (p: number) => spawnProc([KERNEL], { env: { DATA_DIR: dataDir, PORT: String(p), HOST: "127.0.0.1", LOG_LEVEL: "info" }, cwd: workDir("standalone-cwd") });

  test("reaches 200 on /v1/health (fresh DATA_DIR) and logs JSON lines to stderr", async () => {
    first = start(port);
    const ms = await first.waitForHttp200(`http://127.0.0.1:${port}/v1/health`, 60_000);
    const rss = first.rssKiB();
    console.log(`[bench] standalone kernel, fresh DATA_DIR: first 200 on /v1/health after ${ms.toFixed(0)} ms; RSS ${rss ? (rss / 1024).toFixed(0) : "?"} MiB`);
    expect(ms).toBeLessThan(60_000);

    const line = await first.waitForLine("listening on", 60_000);
    const log = JSON.parse(line) as Record<string, unknown>;
    expect(log.service).toBe("kernel");
    expect(log.level).toBe("info");
    expect(log.mode).toBe("standalone");
    expect(log.database).toBe("pglite");
    expect(log.bus).toBe("memory");
    for (const l of first.stderr.split("\n").filter((x) => x.trim())) expect(() => JSON.parse(l)).not.toThrow();
    expect(first.stdout).toBe("");

    const health = (await (await fetch(`http://127.0.0.1:${port}/v1/system/health`)).json()) as { status: string; mode: string; checks: Record<string, { status: string }> };
    expect(health.status).toBe("ok");
    expect(health.mode).toBe("standalone");
    expect(health.checks.database?.status).toBe("ok");
    expect(health.checks.auth?.status).toBe("ok");
  }, 150_000);

  test("first start: an admin API key is printed once to the log and saved in DATA_DIR/admin-api-key (0600)", async () => {
    const file = join(dataDir, "admin-api-key");
    adminKey = readFileSync(file, "utf8").trim();
    expect(adminKey).toMatch(/^we_[0-9A-Za-z]{40}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const lines = first!.stderr.split("\n").filter((l) => l.includes(adminKey));
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain("first start: created an admin API key");
    // Nothing is open without it, and with it the API answers.
    expect((await fetch(`http://127.0.0.1:${port}/v1/workers`)).status).toBe(401);
    expect((await fetch(`http://127.0.0.1:${port}/v1/workers`, withAuth(undefined, adminKey))).status).toBe(200);
  });

  test("the embedded worker registers", async () => {
    let w: Worker | undefined;
    await waitFor(
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/v1/workers/embedded`, withAuth(undefined, adminKey));
        w = r.status === 200 ? ((await r.json()) as Worker) : undefined;
        return w?.status === "healthy";
      },
      90_000,
      "the embedded worker to be healthy",
      200,
    );
    expect(w!.pools).toContain("cpu");
  });

  test("a second kernel on the same DATA_DIR exits non-zero with 'already in use'", async () => {
    const second = spawnProc([KERNEL], { env: { DATA_DIR: dataDir, PORT: String(await freePort()), HOST: "127.0.0.1" }, cwd: workDir("second") });
    const timer = setTimeout(() => second.kill("SIGKILL"), 30_000);
    const status = await second.exited;
    clearTimeout(timer);
    expect(status.signal).toBeNull();
    expect(status.code).not.toBe(0);
    expect(second.stderr).toContain("already in use");
    expect(second.stderr).toContain("DATA_DIR");
    // The first kernel is unharmed.
    expect((await fetch(`http://127.0.0.1:${port}/v1/health`)).status).toBe(200);
  });

  test("SIGTERM → exit code 0, and the DATA_DIR can be reused at once (faster warm start)", async () => {
    const status = await first!.stop("SIGTERM", 20_000);
    expect(status).toEqual({ code: 0, signal: null });
    expect(first!.stderr).toContain("webencode-kernel stopped");

    const p2 = await freePort();
    const again = start(p2);
    try {
      const ms = await again.waitForHttp200(`http://127.0.0.1:${p2}/v1/health`, 60_000);
      const rss = again.rssKiB();
      console.log(`[bench] standalone kernel, existing DATA_DIR: first 200 on /v1/health after ${ms.toFixed(0)} ms; RSS ${rss ? (rss / 1024).toFixed(0) : "?"} MiB`);
      expect(again.stderr).not.toContain("applied 1 migration"); // already migrated by the first run
    } finally {
      expect(await again.stop("SIGTERM", 20_000)).toEqual({ code: 0, signal: null });
    }
  }, 90_000);
});

describe("webencode-kernel migrate", () => {
  test("status lists the pending migration, migrate applies it, status then shows it applied", async () => {
    const t = await createTestDatabase({ migrated: false });
    dbs.push(t);
    const env = { DATABASE_URL: t.url };
    const cwd = workDir("migrate");

    const before = await runProc([KERNEL, "migrate", "status"], { env, cwd });
    expect(before.code).toBe(0);
    expect(before.stdout).toContain("pending  0000_initial");
    expect(before.stdout).toMatch(/^0 applied, \d+ pending$/m);

    const up = await runProc([KERNEL, "migrate"], { env, cwd });
    expect(up.code).toBe(0);
    expect(up.stdout).toContain("applied  0000_initial");

    const after = await runProc([KERNEL, "migrate", "status"], { env, cwd });
    expect(after.code).toBe(0);
    expect(after.stdout).toContain("applied  0000_initial");
    expect(after.stdout).not.toContain("pending  ");
    expect(after.stdout).toMatch(/^\d+ applied, 0 pending$/m);

    const again = await runProc([KERNEL, "migrate"], { env, cwd });
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("database is up to date\n");
  });

  test("an unknown migrate subcommand exits 2", async () => {
    const t = await createTestDatabase();
    dbs.push(t);
    const r = await runProc([KERNEL, "migrate", "sideways"], { env: { DATABASE_URL: t.url }, cwd: workDir("migrate") });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown migrate command: sideways");
  });

  test("an unreachable database exits 1 with a logged reason", async () => {
    const port = await freePort();
    const r = await runProc([KERNEL, "migrate", "status"], { env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/none` }, cwd: workDir("migrate"), timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    const last = JSON.parse(r.stderr.trim().split("\n").pop()!) as { level: string; service: string; error?: string };
    expect(last.level).toBe("fatal");
    expect(last.service).toBe("kernel");
    expect(last.error ?? "").toMatch(/ECONNREFUSED|connect/i);
  });
});

describe("distributed: kernel on PostgreSQL + NATS JetStream, separate workers", () => {
  let kernel: Proc;
  let base = "";
  const prefix = uniquePrefix();
  prefixes.push(prefix);

  beforeAll(async () => {
    const t = await createTestDatabase();
    dbs.push(t);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    kernel = spawnProc([KERNEL], { env: { DATABASE_URL: t.url, NATS_URL: natsUrl(), BUS_PREFIX: prefix, PORT: String(port), HOST: "127.0.0.1", DATA_DIR: join(scratch, "unused-data"), ...TEST_KERNEL_SECURITY_ENV }, cwd: workDir("dkernel") });
    await kernel.waitForHttp200(`${base}/v1/health`, 30_000);
  });

  // WORK_DIR inside the scratch dir: a SIGKILLed worker cannot clean up its default /tmp/webencode-worker-<id>.
  const startWorker = (id: string) => {
    const cwd = workDir(id);
    return spawnProc([WORKER], { env: { NATS_URL: natsUrl(), BUS_PREFIX: prefix, WORKER_ID: id, HEARTBEAT_INTERVAL: "1s", WORK_DIR: join(cwd, "work"), WORKER_METRICS_PORT: "0" }, cwd });
  };
  const getWorker = async (id: string): Promise<Worker | undefined> => {
    const r = await fetch(`${base}/v1/workers/${id}`, withAuth(undefined));
    return r.status === 200 ? ((await r.json()) as Worker) : undefined;
  };

  test("readiness: database and NATS ok, distributed mode, no embedded worker", async () => {
    const r = await fetch(`${base}/v1/system/health`);
    expect(r.status).toBe(200);
    const body = (await r.json()) as { mode: string; checks: Record<string, { status: string; detail: string }> };
    expect(body.mode).toBe("distributed");
    expect(body.checks.database?.status).toBe("ok");
    expect(body.checks.bus).toMatchObject({ status: "ok" });
    expect(await getWorker("embedded")).toBeUndefined();
  });

  test("workers register as healthy with cpu and FFmpeg; SIGTERM → offline at once, SIGKILL → offline after the presence TTL", async () => {
    const w1 = startWorker("e2e-w1");
    const w2 = startWorker("e2e-w2");
    for (const id of ["e2e-w1", "e2e-w2"]) {
      await waitFor(async () => (await getWorker(id))?.status === "healthy", 90_000, `${id} healthy in GET /v1/workers/${id}`, 200);
    }
    const w = (await getWorker("e2e-w1"))!;
    expect(w.healthy).toBe(true);
    expect(w.pools).toContain("cpu");
    expect(w.capabilities.ffmpeg?.version).toMatch(/^\d/);
    const registered = JSON.parse(await w1.waitForLine("worker registered", 5_000)) as { service: string; worker_id: string };
    expect(registered).toMatchObject({ service: "worker", worker_id: "e2e-w1" });

    const killedAt = Date.now();
    w1.kill("SIGKILL");
    const term = await w2.stop("SIGTERM", 20_000);
    expect(term).toEqual({ code: 0, signal: null });

    // A clean stop removes the presence entry: offline on the next registry sync.
    await waitFor(async () => (await getWorker("e2e-w2"))?.status === "offline", 30_000, "e2e-w2 offline after SIGTERM", 200);
    // A killed worker stops heartbeating; its entry expires after the TTL (15 s).
    await waitFor(async () => (await getWorker("e2e-w1"))?.status === "offline", 25_000, "e2e-w1 offline after SIGKILL", 250);
    const after = (Date.now() - killedAt) / 1000;
    console.log(`[e2e] SIGKILLed worker marked offline after ${after.toFixed(1)} s`);
    expect((await w1.exited).signal).toBe("SIGKILL");
    expect(await getWorker("e2e-w1")).toMatchObject({ healthy: false });
    expect(kernel.stderr).toContain("worker offline");
  }, 200_000);

  test("SIGTERM → the kernel exits 0", async () => {
    expect(await kernel.stop("SIGTERM", 20_000)).toEqual({ code: 0, signal: null });
  });
});

describe("NATS without JetStream", () => {
  let nats: ThrowawayNats;
  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: false });
    natsServers.push(nats);
  });

  test("the worker exits non-zero with 'NATS Connection Failed' and the fix", async () => {
    const cwd = workDir("nojs");
    const r = await runProc([WORKER], { env: { NATS_URL: nats.url, WORKER_ID: "e2e-nojs", BUS_PREFIX: uniquePrefix(), WORK_DIR: join(cwd, "work") }, cwd, timeoutMs: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("NATS Connection Failed");
    expect(r.stderr).toContain("nats-server -js");
  });

  test("the kernel exits non-zero with 'NATS Connection Failed' and the fix", async () => {
    const t = await createTestDatabase();
    dbs.push(t);
    const r = await runProc([KERNEL], {
      env: { NATS_URL: nats.url, DATABASE_URL: t.url, BUS_PREFIX: uniquePrefix(), PORT: String(await freePort()), HOST: "127.0.0.1", ...TEST_KERNEL_SECURITY_ENV },
      cwd: workDir("nojs-kernel"),
      timeoutMs: 30_000,
    });
    expect(r.signal).toBeNull();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("NATS Connection Failed");
    expect(r.stderr).toContain("nats-server -js");
  });

  test("a worker pointed at a port where nothing listens fails with the same message", async () => {
    const cwd = workDir("nonats");
    const r = await runProc([WORKER], { env: { NATS_URL: `nats://127.0.0.1:${await freePort()}`, WORKER_ID: "e2e-nonats", WORK_DIR: join(cwd, "work") }, cwd, timeoutMs: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("NATS Connection Failed");
  });
});
