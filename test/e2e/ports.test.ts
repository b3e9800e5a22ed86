/**
 * End-to-end: a taken port is never shared. The compiled executables (E2E_DIST or dist/) are started on a port
 * another process holds — a second kernel, or a server that itself asked for SO_REUSEPORT, which is how two
 * kernels once split one port's connections — and must exit 3 within seconds, naming the variable and the port,
 * without ever logging "listening".
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { TEST_KERNEL_SECURITY_ENV } from "../helpers/auth.ts";
import { useCompiledBinaries } from "../helpers/e2e-setup.ts";
import { natsUrl, uniquePrefix } from "../helpers/nats.ts";
import { freePort, type Proc, runProc, spawnProc } from "../helpers/proc.ts";

const EXIT_PORT_UNAVAILABLE = 3;
const e2e = useCompiledBinaries("webencode-ports");
const dir = e2e.dir;

/** A server holding `port` the way a pre-fix kernel did (SO_REUSEPORT on), answering "occupant". */
function occupy(port: number) {
  return Bun.serve({ port, hostname: "127.0.0.1", reusePort: true, fetch: () => new Response("occupant") });
}

describe("kernel API port (PORT)", () => {
  let first: Proc;
  let port = 0;

  beforeAll(async () => {
    port = await freePort();
    first = spawnProc([e2e.kernel], { env: { DATA_DIR: join(dir("k1"), "data"), PORT: String(port), HOST: "127.0.0.1" }, cwd: dir("k1-cwd") });
    await first.waitForHttp200(`http://127.0.0.1:${port}/v1/health`, 90_000);
  }, 100_000);

  test("a second kernel on the same port exits 3 naming PORT and the port; the first keeps every request", async () => {
    const started = Date.now();
    const second = await runProc([e2e.kernel], { env: { DATA_DIR: join(dir("k2"), "data"), PORT: String(port), HOST: "127.0.0.1" }, cwd: dir("k2-cwd"), timeoutMs: 60_000 });
    const seconds = (Date.now() - started) / 1000;
    expect(second.code).toBe(EXIT_PORT_UNAVAILABLE);
    expect(seconds).toBeLessThan(30);
    expect(second.stderr).toContain(`PORT=${port}`);
    expect(second.stderr).toContain(`port ${port} is already in use`);
    expect(second.stderr).not.toContain("listening on");
    // Nothing was split: the first kernel answers every request.
    for (let i = 0; i < 20; i++) expect((await fetch(`http://127.0.0.1:${port}/v1/health`)).status).toBe(200);
    expect(first.status).toBeUndefined();
  }, 70_000);

  test("a port held with SO_REUSEPORT by another program is refused as well", async () => {
    const p = await freePort();
    const occupant = occupy(p);
    try {
      const r = await runProc([e2e.kernel], { env: { DATA_DIR: join(dir("k3"), "data"), PORT: String(p), HOST: "127.0.0.1" }, cwd: dir("k3-cwd"), timeoutMs: 60_000 });
      expect(r.code).toBe(EXIT_PORT_UNAVAILABLE);
      expect(r.stderr).toContain(`PORT=${p}`);
      expect(r.stderr).not.toContain("listening on");
      for (let i = 0; i < 10; i++) expect(await (await fetch(`http://127.0.0.1:${p}/`)).text()).toBe("occupant");
    } finally {
      occupant.stop(true);
    }
  }, 70_000);

  test("SIGTERM stops the first kernel with exit 0", async () => {
    expect((await first.stop("SIGTERM", 30_000)).code).toBe(0);
  }, 40_000);
});

describe("worker metrics port (WORKER_METRICS_PORT)", () => {
  test("a taken metrics port stops the worker with exit 3 naming WORKER_METRICS_PORT, before it takes any work", async () => {
    const p = await freePort();
    const occupant = occupy(p);
    try {
      const cwd = dir("w");
      const started = Date.now();
      const r = await runProc([e2e.worker], {
        env: { NATS_URL: natsUrl(), BUS_PREFIX: uniquePrefix(), WORKER_ID: "e2e-port", WORK_DIR: join(cwd, "work"), WORKER_METRICS_PORT: String(p), WORKER_METRICS_HOST: "127.0.0.1", ...pick(TEST_KERNEL_SECURITY_ENV, "OUTBOUND_ALLOW_CIDRS") },
        cwd,
        timeoutMs: 60_000,
      });
      expect(r.code).toBe(EXIT_PORT_UNAVAILABLE);
      expect((Date.now() - started) / 1000).toBeLessThan(30);
      expect(r.stderr).toContain(`WORKER_METRICS_PORT=${p}`);
      expect(r.stderr).toContain("already in use");
      expect(r.stderr).not.toContain("worker registered");
      expect(await (await fetch(`http://127.0.0.1:${p}/metrics`)).text()).toBe("occupant");
    } finally {
      occupant.stop(true);
    }
  }, 70_000);
});

function pick(o: Record<string, string>, ...keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]!]));
}
