/**
 * End-to-end API fuzzing against the compiled kernel: a few thousand seeded requests across every OpenAPI
 * operation it publishes (/swagger/json), with hostile or mutated paths, parameters, query strings, bodies,
 * methods and headers, as admin, as viewer and anonymously. Asserts that nothing answers 5xx, that every
 * error is the envelope `{ error: { code, message, request_id } }` with the X-Request-Id, and that the kernel
 * is still up and logged no escaped error at the end.
 *
 * Replay a failure with the seed it prints: FUZZ_SEED=<seed> bun test test/e2e/fuzz.test.ts
 * (FUZZ_REQUESTS changes the count, default 3000; FUZZ_DEBUG=<text> prints the kernel log lines containing it).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { type CompiledKernel, startCompiledKernel } from "../helpers/compiled-kernel.ts";
import { Gen, type Operation, operationsOf, prng } from "../helpers/fuzz-gen.ts";
import { killAllProcs } from "../helpers/proc.ts";
import { rawHttp } from "../helpers/raw-http.ts";

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 3000);
const CONCURRENCY = 6;
const CODE = /^WE-[A-Z]+-\d{3}$/;

let k: CompiledKernel;
let viewerKey = "";

beforeAll(async () => {
  k = await startCompiledKernel();
  const r = await fetch(`${k.base}/v1/api-keys`, { method: "POST", headers: { authorization: `Bearer ${TEST_ADMIN_KEY}`, "content-type": "application/json" }, body: JSON.stringify({ name: "fuzz-viewer", role: "viewer" }) });
  viewerKey = ((await r.json()) as { key: string }).key;
}, 90_000);
afterAll(async () => {
  await k?.dispose();
  await killAllProcs();
});

interface Failure {
  n: number;
  what: string;
  request: string;
  status?: number;
  body?: string;
}

/** Ids the API handed out, reused as parameters so routes get past "not found" (never keys or users: the fuzzer must not lock itself out). */
function harvest(path: string, json: unknown, pool: string[]): void {
  if (!/^\/v1\/(jobs|profiles|webhooks|files|workers)/.test(path) || !json || typeof json !== "object") return;
  const rows = Array.isArray((json as { items?: unknown }).items) ? (json as { items: unknown[] }).items : [json];
  for (const row of rows.slice(0, 5)) {
    for (const f of ["id", "key", "name"]) {
      const v = (row as Record<string, unknown> | null)?.[f];
      if (typeof v === "string" && pool.length < 200 && !pool.includes(v)) pool.push(v);
    }
  }
}

/**
 * The one 5xx that is tolerated, and reported: editing a user restarts auth-basic by design
 * (src/kernel/auth/basic-users.ts); calls landing in that window wait for it (src/plugin-runtime/host/supervisor.ts)
 * and, if it takes longer than the host waits, get 503 WE-PLG-005 with Retry-After. Anything else 5xx fails
 * (a 500 WE-AUTH-005 or WE-PLG-004 for a restart no longer passes).
 */
function restarting(res: Response, text: string): boolean {
  try {
    const e = (JSON.parse(text) as { error: { code: string } }).error;
    return res.status === 503 && e.code === "WE-PLG-005" && Number(res.headers.get("retry-after")) > 0;
  } catch {
    return false;
  }
}
const tolerated: string[] = [];

async function one(n: number, g: Gen, op: Operation, pool: string[], failures: Failure[]): Promise<void> {
  const method = g.method(op);
  const url = `${k.base}${g.path(op, pool)}${g.query(op, pool)}`;
  const headers: Record<string, string> = g.headers();
  const who = g.pick(["admin", "admin", "viewer", "anonymous", "garbage"] as const);
  if (who === "admin") headers.authorization = `Bearer ${TEST_ADMIN_KEY}`;
  if (who === "viewer") headers.authorization = `Bearer ${viewerKey}`;
  if (who === "garbage") headers.authorization = g.pick(["Bearer we_nope", "Bearer ", "Basic YTpi", "Bearer est_x.y", "bearer " + "x".repeat(2000)]);
  const { body, contentType } = method === "GET" || method === "HEAD" ? {} : g.body(op);
  if (contentType !== undefined) headers["content-type"] = contentType;
  const request = `${method} ${url.slice(k.base.length)} as ${who}${contentType !== undefined ? ` (${contentType})` : ""}`;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body, redirect: "manual", signal: AbortSignal.timeout(20_000) });
  } catch (e) {
    failures.push({ n, what: `no response: ${(e as Error).message}`, request });
    return;
  }
  // The event stream stays open: its headers are the answer.
  if ((res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    await res.body?.cancel();
    return;
  }
  const text = await res.text();
  if (res.status >= 500) {
    if (restarting(res, text)) tolerated.push(`#${n} ${request} → ${res.status} ${text.slice(0, 200)}`);
    else failures.push({ n, what: "5xx", request, status: res.status, body: text.slice(0, 300) });
  }
  if (res.status >= 400 && method !== "HEAD") {
    let env: { error?: { code?: unknown; message?: unknown; request_id?: unknown } } | undefined;
    try {
      env = JSON.parse(text);
    } catch {
      env = undefined;
    }
    const e = env?.error;
    const ok = e && typeof e.code === "string" && CODE.test(e.code) && typeof e.message === "string" && e.request_id === res.headers.get("x-request-id");
    if (!ok) failures.push({ n, what: "error outside the envelope", request, status: res.status, body: text.slice(0, 300) });
  }
  if (res.status < 300 && method !== "HEAD" && (res.headers.get("content-type") ?? "").includes("json")) {
    try {
      harvest(new URL(url).pathname, JSON.parse(text), pool);
    } catch {
      failures.push({ n, what: "2xx JSON that does not parse", request, status: res.status, body: text.slice(0, 300) });
    }
  }
}

test(`fuzz: ${REQUESTS} seeded requests, no 5xx, every error in the envelope, the kernel stays up`, async () => {
  const spec = await (await fetch(`${k.base}/swagger/json`)).json();
  const ops = operationsOf(spec as Parameters<typeof operationsOf>[0]);
  expect(ops.length).toBeGreaterThan(40);
  const g = new Gen(prng(SEED));
  // Requests are generated in order from the seed; CONCURRENCY lanes send them (responses feed the id pool, so
  // a replay is close to, not exactly, the same run).
  const plan = Array.from({ length: REQUESTS }, () => g.pick(ops));
  const failures: Failure[] = [];
  const pool: string[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < plan.length) {
        const n = next++;
        await one(n, g, plan[n]!, pool, failures);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(`[fuzz] seed ${SEED}: ${REQUESTS} requests over ${ops.length} operations in ${seconds.toFixed(1)} s; ${failures.length} failures`);
  if (tolerated.length) console.log(`[fuzz] ${tolerated.length} tolerated 5xx while auth-basic restarted after a user edit:\n${tolerated.slice(0, 5).join("\n")}`);
  const health = await fetch(`${k.base}/v1/health`).catch(() => undefined);
  const report = `seed ${SEED} (replay: FUZZ_SEED=${SEED} bun test test/e2e/fuzz.test.ts)\n${failures
    .slice(0, 25)
    .map((f) => `#${f.n} ${f.what}: ${f.request} → ${f.status ?? "-"} ${f.body ?? ""}`)
    .join("\n")}`;
  if (failures.length && process.env.FUZZ_DEBUG) console.log(k.proc.stderr.split("\n").filter((l) => l.includes(process.env.FUZZ_DEBUG!)).slice(0, 40).join("\n"));
  expect(failures.length, report).toBe(0);
  expect(k.proc.status, `${report}\n${k.proc.describe()}`).toBeUndefined();
  expect(health?.status, report).toBe(200);
  expect(k.proc.stderr, report).not.toMatch(/unhandledRejection|uncaughtException/);
}, 240_000);

/** One raw HTTP exchange (what fetch cannot send); everything read until the server closes. */
const raw = (text: string) => rawHttp(k.port, "127.0.0.1", text);

test("issue 12's reachable 500s and bare errors, replayed against the compiled kernel", async () => {
  const admin = { authorization: `Bearer ${TEST_ADMIN_KEY}` };
  const code = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;
  for (const name of ["__proto__", "constructor", "toString"]) {
    const r = await fetch(`${k.base}/swagger/assets/${name}`);
    expect([r.status, await code(r)]).toEqual([404, "WE-REQ-002"]);
  }
  for (const path of ["/v1/storage/storage-fs/t/abc/%E0%A4%A", "/v1/workers/a%00b", "/v1/jobs?offset=9223372036854775808", "/v1/audit?before=99999999999999999999999"]) {
    const r = await fetch(`${k.base}${path}`, { headers: admin });
    expect(r.status, path).toBe(400);
  }
  // A chunked body past MAX_BODY_SIZE (1 MiB): refused while reading.
  const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(c) {
      if (sent === 0) c.enqueue(new TextEncoder().encode('{"source_url":"http://127.0.0.1:9/a.mp4","profiles":["720p_h264"],"metadata":{"p":"'));
      if (sent > 6 * 1024 * 1024) return c.close();
      c.enqueue(chunk);
      sent += chunk.byteLength;
    },
  });
  const big = await fetch(`${k.base}/v1/jobs`, { method: "POST", headers: { ...admin, "content-type": "application/json" }, body });
  expect([big.status, await code(big)]).toEqual([413, "WE-REQ-003"]);
  const huge = await raw(`POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000000\r\nConnection: close\r\n\r\n{`);
  expect(huge).toStartWith("HTTP/1.1 413");
  expect(huge).toContain('"code":"WE-REQ-003"');
  const noHost = await raw("GET /v1/health HTTP/1.0\r\n\r\n");
  expect(noHost).toStartWith("HTTP/1.1 400");
  expect(noHost).toContain('"code":"WE-REQ-001"');
  expect((await fetch(`${k.base}/v1/health`)).status).toBe(200);
});
