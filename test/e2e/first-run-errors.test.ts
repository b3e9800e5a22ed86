/**
 * End-to-end: the mistakes of a first installation, against the compiled executables (E2E_DIST or dist/).
 * Each one must stop the process with a line that names the variable and the fix — not a bare
 * `ECONNREFUSED`, `EINVAL … listen`, or silence:
 * - HOST that is no address, CORS_ORIGINS=*, ADMIN_API_KEY without the we_ prefix → exit 2, one line;
 * - DATABASE_URL where no PostgreSQL listens → exit 1 naming PostgreSQL, DATABASE_URL and the likely fix;
 * - a worker whose BUS_PREFIX matches no kernel's warns after 30 s;
 * - Ctrl-C on the whole process group (as a terminal sends it) stops the kernel without "unhealthy; restarting".
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { useCompiledBinaries } from "../helpers/e2e-setup.ts";
import { natsUrl, uniquePrefix } from "../helpers/nats.ts";
import { freePort, runProc, spawnProc } from "../helpers/proc.ts";

const e2e = useCompiledBinaries("webencode-first-run");
const dir = e2e.dir;

describe("configuration mistakes: exit 2 and one stderr line naming the variable", () => {
  test.each([
    ["HOST", "not-an-ip", "does not resolve"],
    ["HOST", "http://0.0.0.0", "IP address"],
    ["CORS_ORIGINS", "*", "never *"],
    ["ADMIN_API_KEY", "a".repeat(40), "must start with we_"],
  ] as const)("%s=%p", async (name, value, says) => {
    const cwd = dir("cfg");
    const env = { PORT: String(await freePort()), HOST: "127.0.0.1", DATA_DIR: join(cwd, "data"), [name]: value };
    const r = await runProc([e2e.kernel], { env, cwd, timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    const lines = r.stderr.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith(`invalid configuration: ${name} `);
    expect(lines[0]).toContain(says);
    expect(r.stderr).not.toMatch(/EINVAL|EAGAIN/);
  }, 40_000);
});

test("no PostgreSQL at DATABASE_URL: exit 1 with a line naming PostgreSQL, DATABASE_URL and the fix", async () => {
  const port = await freePort();
  const cwd = dir("db");
  const r = await runProc([e2e.kernel], {
    env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/webencode`, NATS_URL: natsUrl(), BUS_PREFIX: uniquePrefix(), SECRET_KEY: "k".repeat(40), PORT: String(await freePort()), HOST: "127.0.0.1" },
    cwd,
    timeoutMs: 30_000,
  });
  expect(r.code).toBe(1);
  const last = JSON.parse(r.stderr.trim().split("\n").pop()!) as { level: string; msg: string };
  expect(last.level).toBe("fatal");
  expect(last.msg).toContain(`cannot connect to PostgreSQL at 127.0.0.1:${port}/webencode (DATABASE_URL)`);
  expect(last.msg).toContain("start PostgreSQL, or correct the host and port in DATABASE_URL");
}, 40_000);

test("a worker whose BUS_PREFIX matches no kernel says so after 30 s, naming the prefix", async () => {
  const cwd = dir("lonely");
  const prefix = uniquePrefix();
  const w = spawnProc([e2e.worker], { env: { NATS_URL: natsUrl(), BUS_PREFIX: prefix, WORKER_ID: "e2e-lonely", WORK_DIR: join(cwd, "work"), WORKER_METRICS_PORT: "0" }, cwd });
  const line = await w.waitForLine("no kernel has answered", 90_000);
  expect(line).toContain(`BUS_PREFIX=${prefix}`);
  expect(line).toContain("set BUS_PREFIX (and NATS_URL) to the kernels' values");
  await w.stop("SIGKILL");
}, 100_000);

test("Ctrl-C on the process group: the kernel stops with exit 0 and logs no plugin restart", async () => {
  const port = await freePort();
  const cwd = dir("ctrlc");
  // setsid: the kernel leads its own process group, like a shell's foreground job; plugins are its children.
  const k = spawnProc(["setsid", e2e.kernel], { env: { DATA_DIR: join(cwd, "data"), PORT: String(port), HOST: "127.0.0.1" }, cwd });
  await k.waitForHttp200(`http://127.0.0.1:${port}/v1/health`, 90_000);
  await k.waitForLine("worker registered", 60_000);
  process.kill(-k.pid, "SIGINT");
  const timer = setTimeout(() => k.kill("SIGKILL"), 45_000);
  const status = await k.exited;
  clearTimeout(timer);
  expect(status.code).toBe(0);
  expect(k.stderr).toContain("webencode-kernel stopped");
  expect(k.stderr).not.toContain("unhealthy; restarting");
  expect(k.stderr).not.toMatch(/"level":"(error|fatal)"/);
}, 150_000);
