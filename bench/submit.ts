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
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import { rowsOf } from "../src/db/exec.ts";
import { join } from "node:path";
import { TEST_ADMIN_KEY } from "../test/helpers/auth.ts";
import { createTestDatabase } from "../test/helpers/db.ts";
import { cleanupPrefix, natsUrl, uniquePrefix } from "../test/helpers/nats.ts";
import { Kernel, distDir, fmt, log, loadSampler, main, median, numArg, onCleanup, percentile, printMachine, table, tempDir } from "./lib.ts";

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
