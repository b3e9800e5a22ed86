/**
 * The kernel's API shell, in-process on a real PostgreSQL database (private per run) with the in-process bus
 * and the embedded worker: health and readiness, request ids, the error envelope for unknown routes, bad
 * queries, oversized and malformed bodies and internal errors, /metrics (checked by promtool), the offline
 * Swagger UI and the OpenAPI document, and the embedded worker showing up in /v1/workers.
 * A second kernel on the shared NATS JetStream (unique prefix) checks readiness over NATS.
 */
import { POLICY } from "../../src/kernel/auth/policy.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import * as v from "valibot";
import { createApp } from "../../src/kernel/api/app.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

interface Envelope {
  error: { code: string; message: string; details?: Record<string, unknown>; request_id: string };
}

async function expectEnvelope(r: Response, status: number, code: string): Promise<Envelope> {
  const text = await r.text();
  if (r.status !== status) throw new Error(`expected ${status} ${code}, got ${r.status}: ${text}`);
  expect(r.headers.get("content-type") ?? "").toStartWith("application/json");
  const body = JSON.parse(text) as Envelope;
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.request_id).toBe(r.headers.get("x-request-id")!);
  expect(text).not.toContain("    at "); // no stack trace
  return body;
}

describe("kernel API (PostgreSQL + in-process bus + embedded worker)", () => {
  let k: TestKernel;

  beforeAll(async () => {
    k = await startTestKernel({ env: { EMBEDDED_WORKER: "true", MAX_BODY_SIZE: "1KiB" } });
  });

  afterAll(async () => {
    await k?.stop();
  });

  test("GET /v1/health → 200 {status: ok}", async () => {
    const r = await k.fetch("/v1/health");
    expect(r.status).toBe(200);
    const body = (await r.json()) as { status: string; version: string };
    expect(body.status).toBe("ok");
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  test("GET /v1/system/health → 200 with the database and the bus ok", async () => {
    const r = await k.fetch("/v1/system/health");
    expect(r.status).toBe(200);
    const body = (await r.json()) as { status: string; mode: string; checks: Record<string, { status: string; detail: string }> };
    expect(body.status).toBe("ok");
    expect(body.mode).toBe("distributed"); // DATABASE_URL is set
    expect(body.checks.database).toEqual({ status: "ok", detail: "postgres reachable" });
    expect(body.checks.bus?.status).toBe("ok");
    expect(body.checks.workers).toBeDefined();
  });

  describe("request ids", () => {
    test("every response carries x-request-id, a fresh one per request", async () => {
      const ids = new Set<string>();
      for (const path of ["/v1/health", "/v1/workers", "/metrics", "/nope", "/swagger"]) {
        const r = await k.fetch(path);
        await r.arrayBuffer();
        const id = r.headers.get("x-request-id");
        expect(id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
        ids.add(id!);
      }
      expect(ids.size).toBe(5);
    });

    test("a valid X-Request-Id is echoed, on success and in the error envelope", async () => {
      const ok = await k.fetch("/v1/health", { headers: { "X-Request-Id": "trace-abc.123:x" } });
      expect(ok.headers.get("x-request-id")).toBe("trace-abc.123:x");
      const err = await k.fetch("/v1/workers/nope", { headers: { "X-Request-Id": "trace-def" } });
      expect(err.headers.get("x-request-id")).toBe("trace-def");
      expect(((await err.json()) as Envelope).error.request_id).toBe("trace-def");
    });

    test("an invalid X-Request-Id (spaces, too long) is replaced, never echoed", async () => {
      for (const given of ["has spaces <script>", "x".repeat(129)]) {
        const r = await k.fetch("/v1/health", { headers: { "X-Request-Id": given } });
        await r.arrayBuffer();
        const id = r.headers.get("x-request-id")!;
        expect(id).not.toBe(given);
        expect(id).toMatch(/^[0-9a-f-]{36}$/);
      }
    });
  });

  describe("error envelope", () => {
    test("unknown route → 404 WE-REQ-002 with request_id equal to the header", async () => {
      const r = await k.fetch("/v1/does-not-exist", { headers: { "X-Request-Id": "nf-1" } });
      const body = await expectEnvelope(r, 404, "WE-REQ-002");
      expect(body.error.request_id).toBe("nf-1");
      expect(body.error.message).toContain("/v1/does-not-exist");
    });

    test("another method on a known path → 405 WE-REQ-005 with Allow listing the path's methods", async () => {
      const r = await k.fetch("/v1/health", { method: "DELETE" });
      const body = await expectEnvelope(r, 405, "WE-REQ-005");
      expect(r.headers.get("allow")).toBe("GET, HEAD");
      expect(body.error.message).toBe("method DELETE is not allowed on /v1/health; allowed: GET, HEAD");
      const jobs = await k.fetch("/v1/jobs/00000000-0000-4000-8000-000000000000", { method: "PATCH" });
      await expectEnvelope(jobs, 405, "WE-REQ-005");
      expect(jobs.headers.get("allow")).toBe("DELETE, GET, HEAD");
    });

    test("HEAD on a GET route answers like GET without a body (so Allow may list it)", async () => {
      const r = await k.fetch("/v1/health", { method: "HEAD" });
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("");
    });

    test("GET /v1/workers?limit=abc → 400 with a WE code and the failing parameter in details", async () => {
      const body = await expectEnvelope(await k.fetch("/v1/workers?limit=abc"), 400, "WE-REQ-001");
      expect(body.error.details).toEqual({ in: "query", issues: [{ path: "limit", message: "limit must be a whole number" }] });
      expect(body.error.message).toBe("invalid query: limit: limit must be a whole number");
    });

    test("out-of-range limit and an unknown status filter are 400s naming the parameter", async () => {
      for (const [query, param] of [
        ["limit=0", "limit"],
        ["limit=201", "limit"],
        ["offset=-1", "offset"],
        ["status=zombie", "status"],
      ] as const) {
        const body = await expectEnvelope(await k.fetch(`/v1/workers?${query}`), 400, "WE-REQ-001");
        const issues = (body.error.details as { issues: { path: string }[] }).issues;
        expect(issues.map((i) => i.path)).toContain(param);
      }
    });

    test("GET /v1/workers/nope → 404 WE-WRK-001", async () => {
      const body = await expectEnvelope(await k.fetch("/v1/workers/nope"), 404, "WE-WRK-001");
      expect(body.error.message).toContain("nope");
    });

    test("a worker id over 64 characters is a 400, not a 500", async () => {
      await expectEnvelope(await k.fetch(`/v1/workers/${"w".repeat(65)}`), 400, "WE-REQ-001");
    });

    test("Content-Length above MAX_BODY_SIZE → 413 WE-REQ-003 JSON", async () => {
      const r = await k.fetch("/v1/workers", { method: "POST", body: "x".repeat(5000), headers: { "content-type": "application/json" } });
      const body = await expectEnvelope(r, 413, "WE-REQ-003");
      expect(body.error.message).toContain("MAX_BODY_SIZE");
      expect(body.error.message).toContain("1024");
    });

    test("a body under the limit on an unknown route is a 404 (405 for a known path), not a 413", async () => {
      await expectEnvelope(await k.fetch("/v1/no-such-thing", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }), 404, "WE-REQ-002");
      await expectEnvelope(await k.fetch("/v1/workers", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }), 405, "WE-REQ-005");
    });
  });

  describe("error envelope through the app's hooks (test-only routes on the same app)", () => {
    // The foundation has no POST routes yet: mount test routes on an app built by createApp with the live
    // kernel's context, so the real onRequest/onError hooks handle them.
    let app: Elysia;
    beforeAll(() => {
      // Test-only routes need policy entries like every route (fail closed otherwise): public, so these
      // tests exercise only the error envelope; authentication has its own suite (auth-matrix.test.ts).
      for (const r of ["POST /v1/jobs/__envelope_test", "POST /v1/plugins/__envelope_test", "GET /v1/__boom", "GET /v1/__db_down"]) POLICY[r] = { role: "public", action: "test.envelope" };
      app = createApp(k.handle.ctx)
        .post("/v1/jobs/__envelope_test", ({ body }) => body, { body: v.object({ source: v.object({ url: v.pipe(v.string(), v.url()) }) }) })
        .post("/v1/plugins/__envelope_test", ({ body }) => body, { body: v.object({ enabled: v.boolean() }) })
        .get("/v1/__boom", () => {
          throw new Error("secret internal detail at /srv/app/x.ts:1 password=hunter2");
        })
        .get("/v1/__db_down", () => {
          throw Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:5432"), { code: "ECONNREFUSED" });
        }) as unknown as Elysia;
    });
    const call = (path: string, init?: RequestInit) => app.handle(new Request(`http://localhost${path}`, init));
    const post = (path: string, body: string) => call(path, { method: "POST", body, headers: { "content-type": "application/json" } });

    test("malformed JSON → 400 WE-REQ-004", async () => {
      const body = await expectEnvelope(await post("/v1/jobs/__envelope_test", '{"source": '), 400, "WE-REQ-004");
      expect(body.error.message).toContain("malformed");
    });

    test("an invalid body on a job route → 400 WE-JOB-001 with the dotted path of the field", async () => {
      const body = await expectEnvelope(await post("/v1/jobs/__envelope_test", JSON.stringify({ source: { url: "not a url" } })), 400, "WE-JOB-001");
      const issues = (body.error.details as { in: string; issues: { path: string; message: string }[] }).issues;
      expect(body.error.details?.in).toBe("body");
      expect(issues[0]!.path).toBe("source.url");
      expect(JSON.stringify(body)).not.toContain("[object Object]");
    });

    test("an invalid body on a plugin route → 422 WE-PLG-003", async () => {
      await expectEnvelope(await post("/v1/plugins/__envelope_test", JSON.stringify({ enabled: "yes" })), 422, "WE-PLG-003");
    });

    test("a valid body passes through", async () => {
      const r = await post("/v1/jobs/__envelope_test", JSON.stringify({ source: { url: "https://example.com/a.mp4" } }));
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual({ source: { url: "https://example.com/a.mp4" } });
    });

    test("an unexpected exception → 500 WE-SYS-001 without the internal message, counted in webencode_errors_total", async () => {
      const body = await expectEnvelope(await call("/v1/__boom"), 500, "WE-SYS-001");
      const text = JSON.stringify(body);
      expect(text).not.toContain("hunter2");
      expect(text).not.toContain("/srv/app");
      const metrics = await (await k.fetch("/metrics")).text();
      expect(metrics).toMatch(/^webencode_errors_total\{[^}]*code="WE-SYS-001"[^}]*\} [1-9]/m);
    });

    test("a database connection failure → 503 WE-SYS-002", async () => {
      const body = await expectEnvelope(await call("/v1/__db_down"), 503, "WE-SYS-002");
      expect(JSON.stringify(body)).not.toContain("10.0.0.1");
    });
  });

  describe("metrics", () => {
    test("GET /metrics has the runbook's series and HTTP counters", async () => {
      await (await k.fetch("/v1/health")).arrayBuffer();
      const r = await k.fetch("/metrics");
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toContain("text/plain");
      const text = await r.text();
      for (const name of ["webencode_jobs_total", "webencode_tasks_processing", "webencode_workers_healthy", "webencode_streams_live", "webencode_errors_total", "webencode_http_requests_total"]) {
        expect(text).toContain(`# TYPE ${name} `);
      }
      expect(text).toMatch(/^webencode_jobs_total\{status="queued"[^}]*\} 0$/m);
      expect(text).toMatch(/^webencode_http_requests_total\{method="GET",route="\/v1\/health",status="200"[^}]*\} [1-9]/m);
    });

    test("the exposition passes `promtool check metrics` (exit 0, or 3 for lint on prom-client's defaults)", async () => {
      const text = await (await k.fetch("/metrics")).text();
      const p = Bun.spawn(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
      const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
      if (code !== 0 && code !== 3) throw new Error(`promtool check metrics exited ${code}:\n${out}${err}`);
      // Lint findings, if any, must not be about our own metrics, except the runbook's fixed name
      // `webencode_jobs_total` for a gauge (docs/metrics.md), which promtool's naming lint dislikes.
      const ours = `${out}${err}`.split("\n").filter((l) => l.includes("webencode_") && !l.startsWith("webencode_jobs_total non-counter"));
      expect(ours).toEqual([]);
    });
  });

  describe("OpenAPI and Swagger UI (offline)", () => {
    test("GET /swagger is HTML loading Swagger UI from the kernel, not a CDN", async () => {
      const r = await k.fetch("/swagger");
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toContain("text/html");
      const html = await r.text();
      expect(html).toContain('src="/swagger/assets/swagger-ui-bundle.js"');
      expect(html).toContain('href="/swagger/assets/swagger-ui.css"');
      expect(html).not.toMatch(/unpkg|jsdelivr|cdnjs|https?:\/\//);
    });

    test("the assets are served with JavaScript and CSS content types", async () => {
      const js = await k.fetch("/swagger/assets/swagger-ui-bundle.js");
      expect(js.status).toBe(200);
      expect(js.headers.get("content-type")).toContain("javascript");
      const jsText = await js.text();
      expect(jsText.length).toBeGreaterThan(100_000);
      expect(jsText).toContain("SwaggerUIBundle");
      const css = await k.fetch("/swagger/assets/swagger-ui.css");
      expect(css.status).toBe(200);
      expect(css.headers.get("content-type")).toContain("text/css");
      await css.arrayBuffer();
      await expectEnvelope(await k.fetch("/swagger/assets/nope.js"), 404, "WE-REQ-002");
    });

    test("the page's spec URL resolves to the OpenAPI document from /swagger and /swagger/", async () => {
      const checked: string[] = [];
      for (const page of ["/swagger", "/swagger/"]) {
        const r = await k.fetch(page);
        if (page !== "/swagger" && r.status !== 200) continue; // "/swagger/" only has to work if it is served
        checked.push(page);
        const html = await r.text();
        const spec = /"url":"([^"]+)"/.exec(html)?.[1];
        expect(spec).toBeDefined();
        const resolved = new URL(spec!, `${k.url}${page}`);
        const doc = await fetch(resolved);
        expect(`${page} → ${resolved.pathname}: ${doc.status}`).toBe(`${page} → ${resolved.pathname}: 200`);
        expect(((await doc.json()) as { openapi: string }).openapi).toMatch(/^3\./);
      }
      expect(checked[0]).toBe("/swagger");
    });

    test("GET /swagger/json is an OpenAPI 3 document with /v1/health and /v1/workers", async () => {
      const r = await k.fetch("/swagger/json");
      expect(r.status).toBe(200);
      const doc = (await r.json()) as { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, { parameters?: { name: string }[] }>> };
      expect(doc.openapi).toMatch(/^3\./);
      expect(doc.info.title).toBe("WebEncode API");
      const paths = Object.keys(doc.paths).map((p) => (p.length > 1 ? p.replace(/\/$/, "") : p));
      expect(paths).toContain("/v1/health");
      expect(paths).toContain("/v1/system/health");
      expect(paths).toContain("/v1/workers");
      expect(paths).toContain("/v1/workers/{id}");
      expect(paths.some((p) => p.startsWith("/swagger"))).toBe(false);
      // Bearer authentication is declared, so Swagger UI's Authorize button sends the key.
      const secured = doc as unknown as { components: { securitySchemes: Record<string, { type: string; scheme: string }> }; security: Record<string, string[]>[] };
      expect(secured.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
      expect(secured.security).toEqual([{ bearer: [] }]);
      for (const p of ["/v1/api-keys", "/v1/audit", "/v1/events", "/v1/webhooks", "/v1/auth/login", "/v1/users"]) expect(paths).toContain(p);
      // A transform in the query schema must not drop the parameters from the document (docs/architecture.md §9).
      const list = doc.paths["/v1/workers"] ?? doc.paths["/v1/workers/"];
      expect((list?.get?.parameters ?? []).map((p) => p.name).sort()).toEqual(["limit", "offset", "status"]);
    });
  });

  describe("workers", () => {
    test("the embedded worker appears in GET /v1/workers as healthy with pools [cpu, live] (the embedded worker runs one live transcode)", async () => {
      type W = { id: string; status: string; healthy: boolean; pools: string[]; slots: number; capabilities: { ffmpeg?: { version?: string } } };
      let items: W[] = [];
      await waitFor(
        async () => {
          const r = await k.fetch("/v1/workers");
          items = ((await r.json()) as { items: W[] }).items;
          return items.some((w) => w.id === "embedded" && w.status === "healthy");
        },
        15_000,
        "the embedded worker in GET /v1/workers",
        200,
      );
      const w = items.find((x) => x.id === "embedded")!;
      expect(w.healthy).toBe(true);
      expect(w.pools).toEqual(["cpu", "live"]);
      expect(w.slots).toBeGreaterThanOrEqual(1);
      expect(w.capabilities.ffmpeg?.version).toMatch(/^\d/);

      const one = await k.fetch("/v1/workers/embedded");
      expect(one.status).toBe(200);
      expect(((await one.json()) as W).id).toBe("embedded");

      const filtered = (await (await k.fetch("/v1/workers?status=offline")).json()) as { items: W[] };
      expect(filtered.items.map((x) => x.id)).not.toContain("embedded");
      const limited = (await (await k.fetch("/v1/workers?limit=1&offset=0")).json()) as { items: W[]; limit: number; offset: number };
      expect(limited.limit).toBe(1);
      expect(limited.items.length).toBeLessThanOrEqual(1);
    });

    test("readiness then reports the healthy worker", async () => {
      const body = (await (await k.fetch("/v1/system/health")).json()) as { checks: Record<string, { status: string; detail: string }> };
      expect(body.checks.workers).toEqual({ status: "ok", detail: "1 healthy" });
    });

    test("the workers gauge follows the table", async () => {
      const text = await (await k.fetch("/metrics")).text();
      expect(text).toMatch(/^webencode_workers_healthy\{[^}]*\} 1$/m);
    });
  });

  describe("shutdown", () => {
    test("stop() resolves, and the port no longer answers", async () => {
      const url = k.url;
      await k.stop();
      expect(k.stopped).toBe(true);
      const answered = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(2000) }).then(
        () => true,
        () => false,
      );
      expect(answered).toBe(false);
    });
  });
});

describe("kernel API on NATS JetStream (unique prefix)", () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel({ nats: true });
  });
  afterAll(async () => {
    await k?.stop();
  });

  test("readiness reports the NATS bus connected", async () => {
    const r = await k.fetch("/v1/system/health");
    expect(r.status).toBe(200);
    const body = (await r.json()) as { checks: Record<string, { status: string; detail: string }> };
    expect(body.checks.database?.status).toBe("ok");
    expect(body.checks.bus?.status).toBe("ok");
    expect(body.checks.bus?.detail).toContain("nats://");
  });

  test("no embedded worker without asking: the workers list is empty", async () => {
    const body = (await (await k.fetch("/v1/workers")).json()) as { items: unknown[] };
    expect(body.items).toEqual([]);
  });
});
