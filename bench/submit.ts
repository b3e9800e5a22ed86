/**
 * Submission throughput (issue 20): `POST /v1/jobs` from C concurrent clients (keep-alive), rate limit off,
 * no workers attached, against compiled distributed kernels (PostgreSQL + NATS): sustained rate, errors,
 * p50/p99, for one kernel and for K kernels on one PostgreSQL (clients spread round-robin).
 *
 * Where the time goes, measured the same way on the same kernel (each step adds to the one above it):
 *   GET  /v1/health                     no credentials: routing, hooks, JSON (baseline)
 *   GET  /v1/auth/whoami + API key      + the key's indexed lookup
 *   POST /v1/jobs, invalid body         + body parsing and validation (answered 400, nothing written)
 *   POST /v1/jobs, missing source key   + the source check through the storage plugin (400, nothing written)
 *   POST /v1/jobs                       + the transaction (job, event, analyze task, audit row) and the publish
 *
 *   node_modules/.bin/bun bench/submit.ts [--seconds 60] [--clients 64] [--kernels 3] [--dist /tmp/bench-dist]
 *
 * `--profile`: where the time of one 201 goes, stage by stage. An in-process kernel (src/kernel/start.ts, on
 * PostgreSQL and NATS) and each stage of POST /v1/jobs called directly — the same functions the route calls —
 * first one call at a time (its latency: what it adds to a 201), then from --clients concurrent callers (what
 * one kernel can do of it per second); then the whole request over HTTP to the same kernel for comparison.
 *
 *   node_modules/.bin/bun bench/submit.ts --profile [--calls 300] [--clients 64] [--step-seconds 5]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import { rowsOf } from "../src/db/exec.ts";
import { join } from "node:path";
import { TEST_ADMIN_KEY } from "../test/helpers/auth.ts";
import { createTestDatabase } from "../test/helpers/db.ts";
import { cleanupPrefix, natsUrl, uniquePrefix } from "../test/helpers/nats.ts";
import * as v from "valibot";
import { eq } from "drizzle-orm";
import { createLogger } from "../src/core/logger.ts";
import { workQueue } from "../src/core/topology.ts";
import { apiKeys } from "../src/db/schema.ts";
import { jobRequestSchema } from "../src/kernel/api/jobs.ts";
import { hashApiKey, verifyApiKey } from "../src/kernel/auth/api-keys.ts";
import { recordAudit } from "../src/kernel/auth/audit.ts";
import { createJob } from "../src/kernel/jobs/create.ts";
import { publishReady } from "../src/kernel/orchestrator/dispatch.ts";
import { resolveProfiles } from "../src/kernel/profiles/catalog.ts";
import { checkSourceKey, uploadStorage } from "../src/kernel/uploads/catalog.ts";
import { startTestKernel } from "../test/helpers/kernel.ts";
import { Kernel, distDir, flag, fmt, log, loadSampler, main, median, numArg, onCleanup, percentile, printMachine, table, tempDir } from "./lib.ts";

const SECONDS = numArg("seconds", 60);
const CLIENTS = numArg("clients", 64);
const KERNELS = numArg("kernels", 3);
/** Each step of the breakdown runs this long (the sustained run uses --seconds). */
const STEP_SECONDS = numArg("step-seconds", Math.min(10, SECONDS));

interface Request {
  method: string;
  path: string;
  body?: unknown;
  auth: boolean;
  /** The status every answer must have; anything else counts as an error. */
  expect: number;
}

interface Result {
  requests: number;
  errors: number;
  errorSamples: string[];
  rate: number;
  p50: number;
  p99: number;
}

/** C clients, each a loop of one request at a time, for `seconds`, spread round-robin over `bases`. */
async function drive(bases: string[], request: Request, seconds: number): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  const errorSamples: string[] = [];
  const headers: Record<string, string> = { "content-type": "application/json", ...(request.auth ? { authorization: `Bearer ${TEST_ADMIN_KEY}` } : {}) };
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  const start = performance.now();
  const end = start + seconds * 1000;
  const client = async (index: number) => {
    const base = bases[index % bases.length]!;
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const r = await fetch(`${base}${request.path}`, { method: request.method, headers, body });
        const text = await r.text();
        if (r.status !== request.expect) {
          errors++;
          if (errorSamples.length < 3) errorSamples.push(`${r.status} ${text.slice(0, 160)}`);
        }
      } catch (e) {
        errors++;
        if (errorSamples.length < 3) errorSamples.push(String(e).slice(0, 160));
      }
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  const elapsed = (performance.now() - start) / 1000;
  return { requests: latencies.length, errors, errorSamples, rate: latencies.length / elapsed, p50: median(latencies), p99: percentile(latencies, 99) };
}

const JOB = { source_url: "bench/clip.mp4", profiles: ["360p_h264"] };

await main(async () => {
  if (flag("profile")) return profile();
  printMachine();
  const load = loadSampler();
  const dist = distDir();
  const database = await createTestDatabase();
  onCleanup(() => database.drop());
  const prefix = uniquePrefix();
  onCleanup(() => cleanupPrefix(natsUrl(), prefix).catch(() => {}));
  // One DATA_DIR for every kernel: storage-fs is the shared storage root, where the source key must exist.
  const dataDir = tempDir("submit-data");
  mkdirSync(join(dataDir, "storage", "bench"), { recursive: true });
  writeFileSync(join(dataDir, "storage", "bench", "clip.mp4"), "never decoded: no worker is attached");
  const env = { DATABASE_URL: database.url, NATS_URL: natsUrl(), BUS_PREFIX: prefix, EMBEDDED_WORKER: "false", RATE_LIMIT_RPS: "0" };
  const kernels: Kernel[] = [];
  for (let i = 0; i < KERNELS; i++) kernels.push((await Kernel.start({ dist, dataDir, env })).kernel);
  const one = [kernels[0]!.url];

  // Warm-up: connections, prepared statements, the plugin channel.
  await drive(one, { method: "POST", path: "/v1/jobs", body: JOB, auth: true, expect: 201 }, 2);

  log(`\nwhere the time goes: ${CLIENTS} clients, ${STEP_SECONDS} s each, one kernel`);
  const steps: Array<[string, Request]> = [
    ["GET /v1/health (no credentials)", { method: "GET", path: "/v1/health", auth: false, expect: 200 }],
    ["GET /v1/auth/whoami + API key", { method: "GET", path: "/v1/auth/whoami", auth: true, expect: 200 }],
    ["POST /v1/jobs, invalid body (400)", { method: "POST", path: "/v1/jobs", body: { source_url: "bench/clip.mp4", profiles: [] }, auth: true, expect: 400 }],
    ["POST /v1/jobs, source key missing (400)", { method: "POST", path: "/v1/jobs", body: { ...JOB, source_url: "bench/missing.mp4" }, auth: true, expect: 400 }],
    ["POST /v1/jobs (201)", { method: "POST", path: "/v1/jobs", body: JOB, auth: true, expect: 201 }],
  ];
  const stepRows: Array<Array<string | number>> = [];
  let previous: Result | undefined;
  let baseline: Result | undefined;
  for (const [name, request] of steps) {
    const r = await drive(one, request, STEP_SECONDS);
    baseline ??= r;
    // At fixed concurrency a client's round trip is the server's time per request × queueing; the p50
    // difference to the step above is what the added work costs.
    stepRows.push([name, r.rate, r.p50, r.p99, previous ? r.p50 - previous.p50 : 0, r.p50 / baseline.p50, r.errors]);
    if (r.errors) log(`  ${name}: ${r.errors} unexpected answers, e.g. ${r.errorSamples.join(" | ")}`);
    previous = r;
  }
  table(["request", "req/s", "p50 ms", "p99 ms", "+p50 ms over the step above", "p50 ÷ health", "errors"], stepRows);

  log(`\nsustained: POST /v1/jobs, ${CLIENTS} clients, ${SECONDS} s`);
  const single = await drive(one, steps[4]![1], SECONDS);
  const multi = KERNELS > 1 ? await drive(kernels.map((k) => k.url), steps[4]![1], SECONDS) : undefined;
  const rows: Array<Array<string | number>> = [["1 kernel", single.rate, single.p50, single.p99, single.errors, 1, "≥ 1000/s, 0 errors, p99 ≤ 100 ms"]];
  if (multi) rows.push([`${KERNELS} kernels, one PostgreSQL`, multi.rate, multi.p50, multi.p99, multi.errors, multi.rate / single.rate, `≈ ${KERNELS}× (near-linear)`]);
  table(["kernels", "jobs/s", "p50 ms", "p99 ms", "errors", "rate ÷ 1 kernel", "target"], rows);
  for (const r of [single, multi]) if (r?.errors) log(`  errors, e.g. ${r.errorSamples.join(" | ")}`);
  const [count] = rowsOf<{ n: number }>(await database.database.db.execute(sql`select count(*)::int as n from jobs`));
  log(`jobs in the database: ${count?.n}`);
  const l = load.stop();
  log(`\nload average during the run: mean ${fmt(l.mean)}, max ${fmt(l.max)}; the load generator runs on the same cores as the kernels and PostgreSQL (compare the ratios)`);
});

/** `fn` called `calls` times one after the other, then from CLIENTS callers for STEP_SECONDS: latency and rate. */
async function stage(fn: (i: number) => Promise<unknown>, calls: number): Promise<{ p50: number; p99: number; rate: number }> {
  const one: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await fn(i);
    one.push(performance.now() - t0);
  }
  let done = 0;
  let n = calls;
  const start = performance.now();
  const end = start + STEP_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < end) {
        await fn(n++);
        done++;
      }
    }),
  );
  return { p50: median(one), p99: percentile(one, 99), rate: done / ((performance.now() - start) / 1000) };
}

/** --profile: the stages of POST /v1/jobs one by one (see the header). */
async function profile(): Promise<void> {
  printMachine();
  const calls = numArg("calls", 300);
  const load = loadSampler();
  const k = await startTestKernel({ nats: true, env: { RATE_LIMIT_RPS: "0" } });
  onCleanup(() => k.stop());
  const ctx = k.handle.ctx;
  mkdirSync(join(k.dataDir, "storage", "bench"), { recursive: true });
  writeFileSync(join(k.dataDir, "storage", "bench", "clip.mp4"), "never decoded: no worker is attached");
  const storage = await uploadStorage(ctx);
  const logger = createLogger("bench", "silent");
  const hash = hashApiKey(TEST_ADMIN_KEY);
  const audit = (i: number) => ({ principal: undefined, method: "POST", route: "/v1/jobs", params: {}, status: 201, clientIp: "127.0.0.1", userAgent: "bench", requestId: `profile-${i}` });
  log(`\nwhere the time of a 201 goes: each stage ${calls} calls one at a time, then ${CLIENTS} concurrent callers for ${STEP_SECONDS} s (in-process kernel, PostgreSQL + NATS)`);
  const stages: Array<[string, (i: number) => Promise<unknown>]> = [
    ["auth: API key lookup, uncached (one indexed query)", () => ctx.db.select().from(apiKeys).where(eq(apiKeys.keyHash, hash))],
    ["auth: API key lookup as the middleware does it (1 s cache)", () => verifyApiKey(ctx.db, TEST_ADMIN_KEY)],
    ["validation: body against the valibot schema", async () => v.parse(jobRequestSchema, JOB)],
    ["source check: storage plugin stat (JSON-RPC)", () => checkSourceKey(storage, "bench/clip.mp4")],
    ["profiles: custom profiles lookup", () => resolveProfiles(ctx.db, JOB.profiles)],
    ["insert: createJob (profiles + one INSERT chain)", () => createJob(ctx.db, JOB, { storage: storage.id, maxAttempts: 3 })],
    ["outbox: JetStream publish of a task delivery (acked)", (i) => ctx.bus.enqueue(workQueue("cpu"), { i }, { msgId: `profile:${i}:${crypto.randomUUID()}` })],
    ["audit: recordAudit (batched INSERT + JetStream append)", (i) => recordAudit(ctx, audit(i))],
  ];
  const rows: Array<Array<string | number>> = [];
  for (const [name, fn] of stages) {
    const r = await stage(fn, calls);
    rows.push([name, r.p50, r.p99, r.rate]);
  }
  // The outbox as the kick runs it after a burst: one pass over the jobs queued meanwhile (here 64).
  // What the stages above left unpublished, in passes of 1000: one pass over all of them would mark tens of
  // thousands of tasks in one UPDATE, past PostgreSQL's 65,535 bind parameters (the kernel's passes take 200).
  while ((await publishReady(ctx.db, ctx.bus, logger, 1000)) === 1000);
  const pass: number[] = [];
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 64; i++) await createJob(ctx.db, JOB, { storage: storage.id, maxAttempts: 3 });
    const t0 = performance.now();
    const n = await publishReady(ctx.db, ctx.bus, logger, 200);
    pass.push((performance.now() - t0) / Math.max(1, n));
  }
  rows.push(["outbox: publishReady pass over 64 new tasks (select, 64 publishes, 1 UPDATE), per task", median(pass), Math.max(...pass), 1000 / median(pass)]);
  const http = await drive([k.url], { method: "POST", path: "/v1/jobs", body: JOB, auth: true, expect: 201 }, STEP_SECONDS);
  rows.push([`whole request: POST /v1/jobs over HTTP (201), p50/p99 at ${CLIENTS} clients`, http.p50, http.p99, http.rate]);
  table(["stage", "p50 ms (1 at a time)", "p99 ms", `calls/s (${CLIENTS} callers)`], rows);
  if (http.errors) log(`  HTTP errors: ${http.errors}, e.g. ${http.errorSamples.join(" | ")}`);
  const l = load.stop();
  log(`\nload average during the run: mean ${fmt(l.mean)}, max ${fmt(l.max)}`);
}
