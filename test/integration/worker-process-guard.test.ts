/**
 * The worker executable has the kernel's process guard (src/core/process-guard.ts), installed by
 * src/worker/main.ts: a real `bun src/worker/main.ts` on NATS, with a preloaded module that lets stray errors
 * escape inside the worker process on SIGUSR2 (an unawaited rejection and a throw from a timer, as a task's
 * stray callback would). Once the worker is registered they are logged and survived — it stays healthy and
 * stops cleanly; while it is still starting (no kernel on its BUS_PREFIX yet) the same error is fatal, exit 1.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { natsUrl, uniquePrefix } from "../helpers/nats.ts";
import { BUN, type Proc, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-worker-guard-"));
const preload = join(scratch, "stray-errors.ts");
writeFileSync(
  preload,
  `process.on("SIGUSR2", () => {
  void Promise.reject(new Error("stray rejection in the worker"));
  setTimeout(() => { throw new Error("stray throw in the worker"); }, 5);
});
if (process.env.STRAY_AT_START) setTimeout(() => void Promise.reject(new Error("stray while starting")), Number(process.env.STRAY_AT_START));
`,
);

let k: TestKernel;
const procs: Proc[] = [];
beforeAll(async () => {
  k = await startTestKernel({ nats: true });
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop("SIGKILL", 5_000).catch(() => {})));
  await k?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function startWorker(id: string, prefix: string, env: Record<string, string> = {}): Proc {
  const dir = join(scratch, id);
  mkdirSync(join(dir, "plugins"), { recursive: true });
  const p = spawnProc([BUN, "--preload", preload, "src/worker/main.ts"], {
    env: {
      NATS_URL: natsUrl(),
      BUS_PREFIX: prefix,
      WORKER_ID: id,
      HEARTBEAT_INTERVAL: "1s",
      WORK_DIR: join(dir, "work"),
      PLUGIN_DIR: join(dir, "plugins"),
      LOG_LEVEL: "info",
      WORKER_METRICS_PORT: "0",
      ...env,
    },
  });
  procs.push(p);
  return p;
}

const isHealthy = async (id: string) => {
  const body = (await (await k.fetch("/v1/workers")).json()) as { items: Array<{ id: string; status: string }> };
  return body.items.some((w) => w.id === id && w.status === "healthy");
};

test("running: escaped errors are logged and survived; the worker stays healthy and stops cleanly", async () => {
  const w = startWorker("guarded-1", k.prefix);
  await waitFor(() => isHealthy("guarded-1"), 60_000, "the worker to register", 200);
  w.kill("SIGUSR2");
  await w.waitForLine("stray throw in the worker", 20_000);
  const escaped = w.stderr
    .split("\n")
    .filter((l) => l.includes("an error escaped its handler"))
    .map((l) => JSON.parse(l) as { level: number | string; kind: string; error: string; msg: string });
  expect(escaped.map((l) => [l.kind, l.error])).toEqual([
    ["unhandledRejection", "stray rejection in the worker"],
    ["uncaughtException", "stray throw in the worker"],
  ]);
  expect(escaped[0]!.msg).toContain("the worker keeps running");
  expect(w.status).toBeUndefined();
  // Still heartbeating after the errors: healthy for a few more heartbeats.
  await Bun.sleep(2_500);
  expect(w.status, w.describe()).toBeUndefined();
  expect(await isHealthy("guarded-1")).toBe(true);
  const exit = await w.stop("SIGTERM", 30_000);
  expect(exit.code, w.describe()).toBe(0);
}, 120_000);

test("starting: an escaped error is fatal (exit 1, one fatal log line)", async () => {
  // A prefix with no kernel: the worker waits for one, so it is still starting when the error escapes.
  const w = startWorker("guarded-2", uniquePrefix(), { STRAY_AT_START: "1500" });
  const exit = await w.exited;
  expect(exit.code, w.describe()).toBe(1);
  expect(w.stderr).toContain("unhandledRejection while the worker was starting: exiting");
  expect(w.stderr).toContain("stray while starting");
}, 120_000);
