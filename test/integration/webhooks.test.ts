/**
 * Webhooks end to end: a real kernel (PostgreSQL, in-process bus, embedded worker) delivering to a receiver
 * run by this test (Bun.serve on 127.0.0.1; test kernels allow loopback through OUTBOUND_ALLOW_CIDRS).
 * The receiver checks every signature with node:crypto as an integrator would (not with the kernel's own
 * code) and counts what it processed per event_id. Covered: CRUD and validation (refused addresses, unknown
 * event types), the write-only secret, retries after 500s with the same event_id and no event processed
 * twice, the delivery log, muting after 10 consecutive failures and unmuting, redelivery, metrics, a
 * delivery interrupted by a kernel stop and sent by the next kernel on the same database (which also prunes
 * old finished deliveries from the log), and the outputs in a real job's job.completed payload.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { createHmac, timingSafeEqual } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rowsOf } from "../../src/db/exec.ts";
import { withAuth } from "../helpers/auth.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { makeClip } from "../helpers/media.ts";
import { holdsFor, waitFor } from "../helpers/wait.ts";

/** Fast retries for the test; the sender polls every min(1 s, WEBHOOK_RETRY_BASE). */
const FAST_ENV = { WEBHOOK_TIMEOUT: "2s", WEBHOOK_RETRY_BASE: "100ms" };

// ---- the receiver ------------------------------------------------------------------------------------

interface Hit {
  path: string;
  eventId: number;
  headerEventId: string | null;
  type: string;
  payload: { event_id: number; type: string; created_at: string; data: Record<string, unknown> };
  /** The signature checked against the route's secret, and the timestamp within 5 minutes. */
  verified: boolean;
  status: number;
}

/** What a route answers to its n-th request for an event (1-based): a status, or "hang" until the client gives up. */
type Behaviour = (hit: Hit, nthForEvent: number) => number | "hang";

interface Route {
  secret: string;
  behave: Behaviour;
}

/** Verification as docs/webhooks.md tells integrators to do it: HMAC-SHA256 of "<timestamp>.<raw body>". */
function verify(secret: string, timestamp: string | null, signature: string | null, raw: string): boolean {
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(`${timestamp}.${raw}`).digest("hex")}`);
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function startReceiver() {
  const routes = new Map<string, Route>();
  const hits: Hit[] = [];
  /** event ids a route processed (answered 2xx), with how often: a de-duplicating receiver would see > 1 as a duplicate. */
  const processed = new Map<string, Map<number, number>>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const route = routes.get(path);
      const raw = await req.text();
      if (!route) return new Response("no such hook", { status: 404 });
      const payload = JSON.parse(raw) as Hit["payload"];
      const hit: Hit = {
        path,
        eventId: payload.event_id,
        headerEventId: req.headers.get("x-webencode-event-id"),
        type: payload.type,
        payload,
        verified: verify(route.secret, req.headers.get("x-webencode-timestamp"), req.headers.get("x-webencode-signature"), raw),
        status: 0,
      };
      hits.push(hit);
      if (!hit.verified) return new Response("bad signature", { status: 401 });
      const nth = hits.filter((h) => h.path === path && h.eventId === hit.eventId).length;
      const verdict = route.behave(hit, nth);
      if (verdict === "hang") {
        await new Promise<void>((resolve) => {
          req.signal.addEventListener("abort", () => resolve());
          setTimeout(resolve, 30_000);
        });
        return new Response("too late", { status: 200 });
      }
      hit.status = verdict;
      if (verdict >= 200 && verdict < 300) {
        const seen = processed.get(path) ?? new Map<number, number>();
        processed.set(path, seen);
        seen.set(hit.eventId, (seen.get(hit.eventId) ?? 0) + 1);
      }
      return new Response(verdict >= 400 ? "down for maintenance" : "ok", { status: verdict });
    },
  });
  return {
    url: (path: string) => `http://127.0.0.1:${server.port}${path}`,
    route(path: string, secret: string, behave: Behaviour) {
      routes.set(path, { secret, behave });
    },
    hits,
    hitsOf: (path: string) => hits.filter((h) => h.path === path),
    processedOf: (path: string) => processed.get(path) ?? new Map<number, number>(),
    stop: () => server.stop(true),
  };
}

// ---- API helpers --------------------------------------------------------------------------------------

interface WebhookView {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  enabled: boolean;
  secret: string;
  muted: boolean;
  muted_at: string | null;
  consecutive_failures: number;
}

interface DeliveryView {
  id: string;
  event_id: number;
  event_type: string;
  status: string;
  attempts: number;
  response_code: number | null;
  latency_ms: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  last_attempt_at: string | null;
  created_at: string;
}

/** Every API response body this file saw: the secrets must never be in one (except a generated secret's 201). */
const bodies: { path: string; status: number; text: string }[] = [];

async function api<T = unknown>(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T; text: string }> {
  const r = await fetch(`${base}${path}`, withAuth({ method, ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}) }));
  const text = await r.text();
  bodies.push({ path: `${method} ${path}`, status: r.status, text });
  return { status: r.status, body: (text ? JSON.parse(text) : undefined) as T, text };
}

/** A job whose source is not a video: enough to record a job.created event (it fails later at analysis). */
async function createJob(base: string): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob(["not a video"]), "none.mp4");
  const up = (await (await fetch(`${base}/v1/files`, withAuth({ method: "POST", body: form }))).json()) as { key: string };
  const r = await api<{ id: string }>(base, "POST", "/v1/jobs", { source_url: up.key, profiles: ["360p_h264"] });
  expect(r.status).toBe(201);
  return r.body.id;
}

async function deliveries(base: string, hookId: string): Promise<DeliveryView[]> {
  const r = await api<{ items: DeliveryView[] }>(base, "GET", `/v1/webhooks/${hookId}/deliveries?limit=200`);
  expect(r.status).toBe(200);
  return r.body.items;
}

function metricValue(text: string, name: string, labels = ""): number {
  const line = text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .find((l) => !labels || l.includes(labels));
  return line ? Number(line.split(" ").pop()) : Number.NaN;
}

// ---- the tests ------------------------------------------------------------------------------------------

describe("webhooks (kernel with embedded worker, receiver on loopback)", () => {
  let k: TestKernel;
  const rx = startReceiver();
  const SECRET_A = "retry-hook-secret-0123456789-abcdef";
  const SECRET_B = "mute-hook-secret-0123456789-abcdef";
  let generatedSecret = "";
  let hookA: WebhookView;
  let hookB: WebhookView;

  beforeAll(async () => {
    k = await startTestKernel({ env: { ...FAST_ENV, EMBEDDED_WORKER: "true" } });
  });

  afterAll(async () => {
    await k?.stop();
    rx.stop();
  });

  test("create, read, update, list; the secret is write-only and encrypted at rest", async () => {
    const created = await api<WebhookView>(k.url, "POST", "/v1/webhooks", { url: rx.url("/retry"), event_types: ["job.created"], secret: SECRET_A, description: "retry test" });
    expect(created.status).toBe(201);
    hookA = created.body;
    expect(hookA).toMatchObject({ url: rx.url("/retry"), event_types: ["job.created"], description: "retry test", enabled: true, secret: "set", muted: false, consecutive_failures: 0 });

    const gen = await api<WebhookView>(k.url, "POST", "/v1/webhooks", { url: rx.url("/generated"), event_types: ["*"], enabled: false });
    expect(gen.status).toBe(201);
    generatedSecret = gen.body.secret;
    expect(generatedSecret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const again = await api<WebhookView>(k.url, "GET", `/v1/webhooks/${gen.body.id}`);
    expect(again.status).toBe(200);
    expect(again.body.secret).toBe("set");
    expect(again.body.enabled).toBe(false);

    const put = await api<WebhookView>(k.url, "PUT", `/v1/webhooks/${gen.body.id}`, { description: "rotated", secret: "a-new-secret-0123456789", event_types: ["job.completed", "job.failed", "job.failed"] });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ description: "rotated", secret: "set", event_types: ["job.completed", "job.failed"], enabled: false, url: rx.url("/generated") });

    const list = await api<{ items: WebhookView[] }>(k.url, "GET", "/v1/webhooks");
    expect(list.status).toBe(200);
    expect(list.body.items.map((w) => w.id)).toEqual([gen.body.id, hookA.id]); // newest first
    expect(list.body.items.every((w) => w.secret === "set")).toBe(true);

    const rows = rowsOf<{ secret_enc: string }>(await k.db.database.db.execute(sql`select secret_enc from webhooks`));
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.secret_enc).toStartWith("enc:v1:");
      for (const s of [SECRET_A, generatedSecret, "a-new-secret-0123456789"]) expect(r.secret_enc).not.toContain(s);
    }

    const del = await api(k.url, "DELETE", `/v1/webhooks/${gen.body.id}`);
    expect(del.status).toBe(204);
    expect((await api(k.url, "GET", `/v1/webhooks/${gen.body.id}`)).status).toBe(404);
    expect((await api(k.url, "DELETE", `/v1/webhooks/${gen.body.id}`)).status).toBe(404);
  });

  test("refused addresses, bad URLs, unknown event types and unknown fields are 400s; nothing is created", async () => {
    const cases: [unknown, RegExp][] = [
      [{ url: "http://10.1.2.3/hook", event_types: ["*"] }, /10\.1\.2\.3.*private.*OUTBOUND_ALLOW_CIDRS/],
      [{ url: "http://169.254.169.254/latest/meta-data", event_types: ["*"] }, /169\.254\.169\.254.*metadata/],
      [{ url: "http://[::ffff:192.168.0.1]/", event_types: ["*"] }, /192\.168\.0\.1|private/],
      [{ url: "ftp://example.com/hook", event_types: ["*"] }, /http:\/\/ or https:\/\//],
      [{ url: "not a url", event_types: ["*"] }, /not a valid URL/],
      [{ url: "http://user:pw@127.0.0.1/x", event_types: ["*"] }, /credentials/],
      [{ url: rx.url("/x"), event_types: ["job.exploded"] }, /unknown event type job\.exploded/],
      [{ url: rx.url("/x"), event_types: [] }, /at least one type/],
      [{ url: rx.url("/x"), event_types: ["*"], secret: "short" }, /at least 16 characters/],
      [{ url: rx.url("/x"), event_types: ["*"], secrets: "typo" }, /secrets/],
    ];
    for (const [body, message] of cases) {
      const r = await api<{ error: { code: string; message: string } }>(k.url, "POST", "/v1/webhooks", body);
      if (r.status !== 400) throw new Error(`expected 400 for ${JSON.stringify(body)}, got ${r.status}: ${r.text}`);
      expect(r.body.error.code).toBe("WE-REQ-001");
      expect(r.text).toMatch(message);
    }
    const put = await api<{ error: { code: string; message: string } }>(k.url, "PUT", `/v1/webhooks/${hookA.id}`, { url: "http://10.9.9.9/" });
    expect(put.status).toBe(400);
    expect(put.body.error.message).toContain("10.9.9.9");
    expect((await api<WebhookView>(k.url, "GET", `/v1/webhooks/${hookA.id}`)).body.url).toBe(rx.url("/retry"));
    expect((await api<{ items: unknown[] }>(k.url, "GET", "/v1/webhooks")).body.items).toHaveLength(1);
    const missing = await api<{ error: { code: string } }>(k.url, "GET", `/v1/webhooks/${crypto.randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("WE-REQ-006");
    expect((await api(k.url, "GET", "/v1/webhooks/not-a-uuid")).status).toBe(400);
  });

  test("500s are retried with the same event_id and valid signatures until 2xx; no event is processed twice", async () => {
    // Each event fails twice, then succeeds.
    rx.route("/retry", SECRET_A, (_hit, nth) => (nth <= 2 ? 500 : 200));
    const jobIds = [await createJob(k.url), await createJob(k.url)];
    await waitFor(() => rx.processedOf("/retry").size === 2, 20_000, "both job.created events processed by /retry", 50);

    const hits = rx.hitsOf("/retry");
    expect(hits.every((h) => h.verified)).toBe(true);
    const eventIds = [...rx.processedOf("/retry").keys()];
    for (const id of eventIds) {
      const mine = hits.filter((h) => h.eventId === id);
      expect(mine.map((h) => h.status)).toEqual([500, 500, 200]);
      expect(mine.every((h) => h.headerEventId === String(id) && h.type === "job.created")).toBe(true);
      // Every attempt carries the same event (receivers de-duplicate on event_id).
      expect(new Set(mine.map((h) => JSON.stringify({ ...h.payload })))).toHaveProperty("size", 1);
    }
    expect(hits.map((h) => h.payload.data.job_id).filter((v, i, a) => a.indexOf(v) === i).sort()).toEqual([...jobIds].sort());
    expect(hits[0]!.payload.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    // The log: newest first, succeeded after 3 attempts, with the last response. The sender records an attempt
    // after the receiver answered it, so the last one may still be on its way to the database.
    await waitFor(async () => (await deliveries(k.url, hookA.id)).filter((d) => d.status === "succeeded").length === 2, 10_000, "both deliveries recorded as succeeded", 50);
    const log = await deliveries(k.url, hookA.id);
    expect(log).toHaveLength(2);
    expect(log.map((d) => d.event_id)).toEqual([...eventIds].sort((a, b) => b - a));
    for (const d of log) {
      expect(d).toMatchObject({ event_type: "job.created", status: "succeeded", attempts: 3, response_code: 200, last_error: null, next_attempt_at: null });
      expect(d.latency_ms).toBeGreaterThanOrEqual(0);
      expect(d.latency_ms).toBeLessThan(60_000); // milliseconds of one local request, not a timestamp
      expect(d.last_attempt_at).not.toBeNull();
    }
    expect((await api<WebhookView>(k.url, "GET", `/v1/webhooks/${hookA.id}`)).body.consecutive_failures).toBe(0);

    // Nothing is sent again after success.
    const total = rx.hitsOf("/retry").length;
    await holdsFor(() => rx.hitsOf("/retry").length === total && [...rx.processedOf("/retry").values()].every((n) => n === 1), 1000, "no delivery after success");

    const metrics = await (await k.fetch("/metrics")).text();
    expect(metricValue(metrics, "webencode_webhook_deliveries_total", 'result="success"')).toBeGreaterThanOrEqual(2);
    expect(metricValue(metrics, "webencode_webhook_deliveries_total", 'result="failure"')).toBeGreaterThanOrEqual(4);
    expect(metricValue(metrics, "webencode_webhook_delivery_duration_seconds_count")).toBeGreaterThanOrEqual(6);
  });

  test("an endpoint failing 10 times in a row is muted; its deliveries wait, and resume on unmute", async () => {
    // hookA no longer gets new events (disabled webhooks get no deliveries).
    expect((await api<WebhookView>(k.url, "PUT", `/v1/webhooks/${hookA.id}`, { enabled: false })).body.enabled).toBe(false);
    let up = false;
    rx.route("/down", SECRET_B, () => (up ? 204 : 503));
    const created = await api<WebhookView>(k.url, "POST", "/v1/webhooks", { url: rx.url("/down"), event_types: ["job.created"], secret: SECRET_B });
    expect(created.status).toBe(201);
    hookB = created.body;
    for (let i = 0; i < 4; i++) await createJob(k.url);

    await waitFor(async () => (await api<WebhookView>(k.url, "GET", `/v1/webhooks/${hookB.id}`)).body.muted, 20_000, "webhook muted", 100);
    const muted = (await api<WebhookView>(k.url, "GET", `/v1/webhooks/${hookB.id}`)).body;
    expect(muted.muted_at).not.toBeNull();
    expect(muted.consecutive_failures).toBeGreaterThanOrEqual(10);
    expect(rx.hitsOf("/down").length).toBeGreaterThanOrEqual(10);
    expect(rx.hitsOf("/down").every((h) => h.verified && h.status === 503)).toBe(true);

    // The mute is an event of its own.
    const ev = rowsOf<{ data: { webhook_id: string; consecutive_failures: number } }>(await k.db.database.db.execute(sql`select data from events where type = 'webhook.muted'`));
    expect(ev).toHaveLength(1);
    expect(ev[0]!.data.webhook_id).toBe(hookB.id);
    expect(ev[0]!.data.consecutive_failures).toBe(10);

    // Attempts already in flight when it was muted finish; after that nothing is sent.
    await waitFor(
      async () => rowsOf<{ n: number }>(await k.db.database.db.execute(sql`select count(*)::int as n from webhook_deliveries where webhook_id = ${hookB.id} and locked_until is not null`))[0]!.n === 0,
      5000,
      "no attempt in flight",
    );
    const hitsAtMute = rx.hitsOf("/down").length;
    await holdsFor(() => rx.hitsOf("/down").length === hitsAtMute, 1500, "no deliveries while muted");

    // The log shows why, and nothing was dropped.
    const log = await deliveries(k.url, hookB.id);
    expect(log).toHaveLength(4);
    for (const d of log) {
      expect(d).toMatchObject({ status: "pending", response_code: 503, last_error: "HTTP 503: down for maintenance" });
      expect(d.attempts).toBeGreaterThanOrEqual(1);
      expect(d.latency_ms).toBeGreaterThanOrEqual(0);
    }
    const metrics = await (await k.fetch("/metrics")).text();
    expect(metricValue(metrics, "webencode_webhooks_muted")).toBe(1);

    // Redelivery is refused while muted, with the way out in the message.
    const refused = await api<{ error: { message: string } }>(k.url, "POST", `/v1/webhooks/${hookB.id}/deliveries/${log[0]!.id}/redeliver`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toContain("/unmute");

    up = true;
    const unmuted = await api<WebhookView>(k.url, "POST", `/v1/webhooks/${hookB.id}/unmute`);
    expect(unmuted.status).toBe(200);
    expect(unmuted.body).toMatchObject({ muted: false, muted_at: null, consecutive_failures: 0 });
    await waitFor(() => rx.processedOf("/down").size === 4, 15_000, "the 4 waiting deliveries delivered after unmute", 50);
    await waitFor(async () => (await deliveries(k.url, hookB.id)).every((d) => d.status === "succeeded" && d.response_code === 204), 5000, "log shows all succeeded");
    expect([...rx.processedOf("/down").values()].every((n) => n === 1)).toBe(true);
    expect(metricValue(await (await k.fetch("/metrics")).text(), "webencode_webhooks_muted")).toBe(0);
  });

  test("redeliver sends a delivery again now, whatever its status (202), with the same event_id", async () => {
    const [d] = await deliveries(k.url, hookB.id);
    const before = rx.hitsOf("/down").filter((h) => h.eventId === d!.event_id).length;
    const r = await api<DeliveryView>(k.url, "POST", `/v1/webhooks/${hookB.id}/deliveries/${d!.id}/redeliver`);
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ id: d!.id, status: "pending", event_id: d!.event_id });
    await waitFor(() => rx.hitsOf("/down").filter((h) => h.eventId === d!.event_id).length === before + 1, 5000, "the redelivery", 20);
    await waitFor(async () => (await deliveries(k.url, hookB.id)).find((x) => x.id === d!.id)!.attempts === d!.attempts + 1, 5000, "the redelivery in the log");
    const after = (await deliveries(k.url, hookB.id)).find((x) => x.id === d!.id)!;
    expect(after.status).toBe("succeeded");

    expect((await api(k.url, "POST", `/v1/webhooks/${hookB.id}/deliveries/${crypto.randomUUID()}/redeliver`)).status).toBe(404);
    // A delivery of another webhook is not found under this one.
    const a = (await deliveries(k.url, hookA.id))[0]!;
    expect((await api(k.url, "POST", `/v1/webhooks/${hookB.id}/deliveries/${a.id}/redeliver`)).status).toBe(404);
    expect((await api(k.url, "GET", `/v1/webhooks/${hookB.id}/deliveries?status=bogus`)).status).toBe(400);
    const filtered = await api<{ items: DeliveryView[] }>(k.url, "GET", `/v1/webhooks/${hookB.id}/deliveries?status=succeeded&limit=2`);
    expect(filtered.body.items).toHaveLength(2);
  });

  test("job.completed carries the job's outputs with working download URLs", async () => {
    const secret = "job-hook-secret-0123456789abcdef";
    rx.route("/jobs", secret, () => 200);
    const hook = await api<WebhookView>(k.url, "POST", "/v1/webhooks", { url: rx.url("/jobs"), event_types: ["job.completed"], secret });
    expect(hook.status).toBe(201);
    const clips = mkdtempSync(join(tmpdir(), "webhook-clip-"));
    try {
      const clip = await makeClip(clips, "clip", { width: 640, height: 360, rate: "25", duration_s: 2, audio: true, gop: 25 });
      mkdirSync(join(k.dataDir, "storage", "uploads"), { recursive: true });
      copyFileSync(clip, join(k.dataDir, "storage", "uploads", "clip.mp4"));
    } finally {
      rmSync(clips, { recursive: true, force: true });
    }
    const job = await api<{ id: string }>(k.url, "POST", "/v1/jobs", { source_url: "uploads/clip.mp4", profiles: ["360p_h264"], outputs: ["mp4"] });
    expect(job.status).toBe(201);
    await waitFor(() => rx.hitsOf("/jobs").some((h) => h.payload.data.job_id === job.body.id), 120_000, "job.completed delivered", 200);

    const hit = rx.hitsOf("/jobs").find((h) => h.payload.data.job_id === job.body.id)!;
    expect(hit.verified).toBe(true);
    expect(hit.type).toBe("job.completed");
    expect(hit.payload.data.status).toBe("completed");
    const outputs = hit.payload.data.outputs as { kind: string; profile: string; url: string; size_bytes: number; width: number; height: number; duration_s: number; codecs: { video: string; audio: string } }[];
    const mp4 = outputs.find((o) => o.kind === "mp4")!;
    expect(mp4).toMatchObject({ profile: "360p_h264", width: 640, height: 360, codecs: { video: "h264", audio: "aac" } });
    expect(mp4.duration_s).toBeGreaterThan(1.9);
    expect(mp4.duration_s).toBeLessThan(2.2);
    expect(mp4.size_bytes).toBeGreaterThan(1000);
    // The same shape as GET /v1/jobs/:id/outputs, and the URL downloads the file (the test kernel's PUBLIC_URL
    // names port 0, so the path is requested from the kernel's real address).
    const api_outputs = await api<{ items: { kind: string; size_bytes: number }[] }>(k.url, "GET", `/v1/jobs/${job.body.id}/outputs`);
    expect(Object.keys(api_outputs.body.items[0]!).sort()).toEqual(Object.keys(mp4).sort());
    const u = new URL(mp4.url);
    const file = await fetch(`${k.url}${u.pathname}${u.search}`);
    expect(file.status).toBe(200);
    expect((await file.arrayBuffer()).byteLength).toBe(mp4.size_bytes);
  }, 180_000);

  test("no API response ever contained a secret (except the generated one, once, in its 201)", () => {
    expect(bodies.length).toBeGreaterThan(20);
    for (const s of [SECRET_A, SECRET_B, "a-new-secret-0123456789", "job-hook-secret-0123456789abcdef"]) {
      expect(bodies.filter((b) => b.text.includes(s)).map((b) => b.path)).toEqual([]);
    }
    const withGenerated = bodies.filter((b) => b.text.includes(generatedSecret));
    expect(withGenerated.map((b) => `${b.path} ${b.status}`)).toEqual(["POST /v1/webhooks 201"]);
  });
});

describe("webhooks across a kernel restart", () => {
  const rx = startReceiver();
  const kernels: TestKernel[] = [];
  let db: Awaited<ReturnType<typeof createTestDatabase>>;

  /** A kernel on the shared database (each test kernel otherwise gets its own). */
  async function boot(): Promise<TestKernel> {
    const k = await startTestKernel({
      env: {
        DATABASE_URL: db.url,
        SHUTDOWN_TIMEOUT: "2s",
        ...FAST_ENV,
        // Longer than the sender's 2 s stop grace, so the stop really cuts the attempt off (not its own timeout).
        WEBHOOK_TIMEOUT: "5s",
      },
    });
    kernels.push(k);
    return k;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    for (const k of kernels) await k.stop().catch(() => {});
    await db?.drop();
    rx.stop();
  });

  test("a delivery cut off by a kernel stop is sent by the next kernel on the same database", async () => {
    const secret = "restart-hook-secret-0123456789ab";
    // The first request hangs (the kernel stops while waiting for it); later ones succeed.
    rx.route("/restart", secret, (_hit, nth) => (nth === 1 ? "hang" : 200));
    const k1 = await boot();
    const hook = await api<WebhookView>(k1.url, "POST", "/v1/webhooks", { url: rx.url("/restart"), event_types: ["job.created"], secret });
    expect(hook.status).toBe(201);
    await createJob(k1.url);
    await waitFor(() => rx.hitsOf("/restart").length === 1, 10_000, "the first attempt reaching the receiver");

    const started = Date.now();
    await k1.stop();
    expect(Date.now() - started).toBeLessThan(10_000); // bounded, although the receiver never answered
    const [row] = rowsOf<{ status: string; attempts: number; locked_until: Date | null }>(await db.database.db.execute(sql`select status, attempts, locked_until from webhook_deliveries`));
    // Nothing was recorded for the interrupted attempt: still pending, still claimed until its claim expires.
    expect(row).toMatchObject({ status: "pending", attempts: 0 });
    expect(row!.locked_until).not.toBeNull();

    // Two finished deliveries in the log: one older than EVENT_RETENTION (7 days), one younger.
    const x = db.database.db;
    await x.execute(sql`
      insert into webhook_deliveries (webhook_id, event_id, event_type, status, attempts, created_at, updated_at) values
        (${hook.body.id}, 900001, 'job.created', 'succeeded', 1, now() - interval '8 days', now() - interval '8 days'),
        (${hook.body.id}, 900002, 'job.created', 'failed', 30, now() - interval '6 days', now() - interval '6 days')`);

    const k2 = await boot();
    await waitFor(() => rx.processedOf("/restart").size === 1, 20_000, "the delivery from the second kernel", 50);
    // The sender prunes the log at start: only the delivery older than EVENT_RETENTION is gone.
    const kept = rowsOf<{ event_id: string }>(await x.execute(sql`select event_id::text from webhook_deliveries where event_id > 900000`));
    expect(kept.map((r) => r.event_id)).toEqual(["900002"]);
    const hits = rx.hitsOf("/restart");
    expect(hits).toHaveLength(2);
    expect(hits[1]!.eventId).toBe(hits[0]!.eventId);
    expect(hits.every((h) => h.verified)).toBe(true);
    await waitFor(async () => (await deliveries(k2.url, hook.body.id))[0]!.status === "succeeded", 5000, "the log shows success");
    expect((await deliveries(k2.url, hook.body.id))[0]).toMatchObject({ attempts: 1, response_code: 200 });
  }, 60_000);
});
