/**
 * What authentication costs per request, on the compiled kernel: sequential round trips of
 *
 *   GET /v1/health                         no credentials (baseline: routing, hooks, JSON)
 *   GET /v1/auth/whoami + API key          one indexed lookup of the key's SHA-256
 *   GET /v1/auth/whoami + session token    auth-basic over the plugin channel (JWT check; 5 s positive cache)
 *   GET /v1/auth/whoami + stream token     HMAC check only (no database, no plugin)
 *   GET /v1/jobs?limit=1 + API key         a real read behind the same check
 *
 * in standalone mode (PGlite) and, when PostgreSQL answers at TEST_DATABASE_URL, distributed mode with an
 * in-process bus. Ratios are against the health baseline of the same kernel.
 *
 *   node_modules/.bin/bun bench/auth.ts [--requests 400]
 */
import { join } from "node:path";
import postgres from "postgres";
import { TEST_ADMIN_KEY } from "../test/helpers/auth.ts";
import { Kernel, distDir, fmt, log, loadSampler, main, median, numArg, onCleanup, percentile, printMachine, table, tempDir } from "./lib.ts";

const N = numArg("requests", 400);
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

async function timeRequests(url: string, headers: Record<string, string>, expect: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < N + 20; i++) {
    const t0 = performance.now();
    const r = await fetch(url, { headers });
    const body = await r.text();
    if (r.status !== 200 || !body.includes(expect)) throw new Error(`${url} → ${r.status} ${body.slice(0, 200)}`);
    if (i >= 20) out.push(performance.now() - t0); // the first 20 warm up connections and caches
  }
  return out;
}

async function measure(kernel: Kernel, mode: string): Promise<Array<Array<string | number>>> {
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  await kernel.api("POST", "/v1/users", { username: "bench", password: "bench-password-0123", roles: ["viewer"] });
  const login = (await (await fetch(`${kernel.url}/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "bench", password: "bench-password-0123" }) })).json()) as { access_token: string };
  const stream = await kernel.api<{ token: string }>("POST", "/v1/events/tokens", {});
  const load = loadSampler();
  // Each answer is checked (the expected text), so a fast error can never pass for a fast success.
  const cases: Array<[string, string, Record<string, string>, string]> = [
    ["GET /v1/health (no credentials)", "/v1/health", {}, '"status":"ok"'],
    ["whoami, API key", "/v1/auth/whoami", auth(TEST_ADMIN_KEY), '"via":"api_key"'],
    ["whoami, auth-basic session token", "/v1/auth/whoami", auth(login.access_token), '"via":"auth-basic"'],
    ["GET /v1/jobs?limit=1, API key", "/v1/jobs?limit=1", auth(TEST_ADMIN_KEY), '"items"'],
  ];
  const results = new Map<string, number[]>();
  for (const [name, path, headers, expect] of cases) results.set(name, await timeRequests(`${kernel.url}${path}`, headers, expect));
  // The stream token is only accepted on GET /v1/events: time until the response headers arrive.
  const streamMs: number[] = [];
  for (let i = 0; i < Math.min(N, 100) + 5; i++) {
    const t0 = performance.now();
    const r = await fetch(`${kernel.url}/v1/events?access_token=${encodeURIComponent(stream.token)}&types=none.*`);
    const dt = performance.now() - t0;
    await r.body?.cancel();
    if (r.status !== 200) throw new Error(`events → ${r.status}`);
    if (i >= 5) streamMs.push(dt);
  }
  const l = load.stop();
  const base = median(results.get(cases[0]![0])!);
  log(`(${mode}: load average mean ${fmt(l.mean)}, max ${fmt(l.max)})`);
  const rows = [...results].map(([name, xs]) => [`${mode}: ${name}`, percentile(xs, 50), percentile(xs, 99), median(xs) / base]);
  rows.push([`${mode}: GET /v1/events headers, stream token`, percentile(streamMs, 50), percentile(streamMs, 99), median(streamMs) / base]);
  return rows;
}

await main(async () => {
  printMachine();
  const dist = distDir();
  const rows: Array<Array<string | number>> = [];

  const tmp = tempDir("auth");
  const { kernel } = await Kernel.start({ dist, dataDir: join(tmp, "data"), env: { EMBEDDED_WORKER: "false" } });
  rows.push(...(await measure(kernel, "standalone (PGlite)")));
  await kernel.stop();

  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {}, connect_timeout: 3 });
  const dbName = `webencode_bench_auth_${Date.now()}`;
  const reachable = await admin`select 1`.then(() => true, () => false);
  if (reachable) {
    await admin.unsafe(`create database "${dbName}"`);
    onCleanup(async () => {
      await admin.unsafe(`drop database if exists "${dbName}" with (force)`).catch(() => {});
      await admin.end();
    });
    const url = new URL(ADMIN_URL);
    url.pathname = `/${dbName}`;
    const pg = await Kernel.start({ dist, dataDir: join(tmp, "pg-data"), env: { DATABASE_URL: url.toString(), EMBEDDED_WORKER: "false" } });
    rows.push(...(await measure(pg.kernel, "PostgreSQL")));
    await pg.kernel.stop();
  } else {
    await admin.end();
    log(`PostgreSQL at ${ADMIN_URL} does not answer: distributed mode skipped`);
  }

  log("");
  log(`## Authentication cost per request (ms, ${N} sequential requests per row after 20 warm-up; ratio = median ÷ median of GET /v1/health on the same kernel)`);
  table(["request", "p50", "p99", "× health"], rows);
});
