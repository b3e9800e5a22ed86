/**
 * HTTP guards on a real kernel: per-client rate limits (429 + Retry-After, monitoring exempt, X-Forwarded-For
 * believed only from TRUSTED_PROXIES), CORS from the allowlist with preflights, the JSON depth limit, and
 * error bodies that never carry stack traces or internal paths.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { createApp } from "../../src/kernel/api/app.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

const ORIGIN = "https://app.example";
/** Exactly the brief's settings: every request of this test comes from 127.0.0.1, one bucket. */
let limited: TestKernel;
/** Same limits, but loopback is a trusted proxy: each test speaks as its own client through X-Forwarded-For. */
let proxied: TestKernel;

beforeAll(async () => {
  [limited, proxied] = await Promise.all([
    startTestKernel({ env: { RATE_LIMIT_RPS: "2", RATE_LIMIT_BURST: "3", CORS_ORIGINS: ORIGIN } }),
    startTestKernel({ env: { RATE_LIMIT_RPS: "2", RATE_LIMIT_BURST: "3", CORS_ORIGINS: ORIGIN, TRUSTED_PROXIES: "127.0.0.0/8,::1/128" } }),
  ]);
}, 90_000);
afterAll(async () => {
  await Promise.all([limited?.stop(), proxied?.stop()]);
});

let nextClient = 1;
/** A fresh client address (a full bucket) on the proxied kernel. */
function client(): (path: string, init?: RequestInit) => Promise<Response> {
  const ip = `198.51.100.${nextClient++}`;
  return (path, init) => {
    const headers = new Headers(init?.headers);
    headers.set("x-forwarded-for", ip);
    return proxied.fetch(path, { ...init, headers });
  };
}

interface Envelope {
  error: { code: string; message: string; request_id: string; details?: Record<string, unknown> };
}

describe("rate limiting", () => {
  test("after the burst: 429 WE-SYS-005 with Retry-After; health and metrics stay open; refills", async () => {
    // Four at once: the bucket holds three, and no time passes for a refill worth a token.
    const burst = await Promise.all(Array.from({ length: 4 }, () => limited.fetch("/v1/jobs")));
    const statuses = burst.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = burst.find((r) => r.status === 429)!;
    expect(refused.headers.get("retry-after")).toBe("1");
    const body = (await refused.json()) as Envelope;
    expect(body.error.code).toBe("WE-SYS-005");
    expect(body.error.request_id).toBe(refused.headers.get("x-request-id")!);
    expect(body.error.message).toContain("retry after 1 s");

    // A forged X-Forwarded-For from an untrusted peer is not a new client.
    const spoofed = await limited.fetch("/v1/jobs", { headers: { "x-forwarded-for": "203.0.113.99" } });
    expect(spoofed.status).toBe(429);

    // Monitoring is never throttled, even with the bucket empty.
    for (const path of ["/v1/health", "/v1/system/health", "/metrics"]) {
      for (let i = 0; i < 5; i++) expect((await limited.fetch(path)).status).not.toBe(429);
    }

    // 2 tokens per second: well within a few seconds the client is served again (refused calls cost nothing).
    await waitFor(async () => (await limited.fetch("/v1/jobs")).status === 200, 5000, "the bucket to refill");
  });

  test("behind a trusted proxy each X-Forwarded-For client has its own bucket", async () => {
    const a = client();
    const b = client();
    const first = await Promise.all(Array.from({ length: 4 }, () => a("/v1/no-such-route")));
    expect(first.map((r) => r.status).sort()).toEqual([404, 404, 404, 429]);
    expect((await a("/v1/no-such-route")).status).toBe(429);
    expect((await b("/v1/no-such-route")).status).toBe(404);
  });
});

describe("CORS", () => {
  test("an allowed origin is reflected exactly, with Vary: Origin", async () => {
    const r = await client()("/v1/jobs", { headers: { origin: ORIGIN } });
    expect(r.status).toBe(200);
    expect(r.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(r.headers.get("vary")).toContain("Origin");
    expect(r.headers.get("access-control-expose-headers")).toContain("X-Request-Id");
    expect(r.headers.get("access-control-allow-credentials")).toBeNull();
  });

  test("an allowed origin can read errors too (404, 429)", async () => {
    const c = client();
    const r = await c("/v1/no-such-route", { headers: { origin: ORIGIN } });
    expect(r.status).toBe(404);
    expect(r.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const more = await Promise.all(Array.from({ length: 4 }, () => c("/v1/jobs", { headers: { origin: ORIGIN } })));
    const refused = more.find((x) => x.status === 429);
    expect(refused?.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(refused?.headers.get("access-control-expose-headers")).toContain("Retry-After");
  });

  test("a disallowed origin gets no CORS headers", async () => {
    const r = await client()("/v1/jobs", { headers: { origin: "https://evil.example" } });
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
    expect(r.headers.get("vary")).toContain("Origin");
  });

  test("preflight from an allowed origin: 204 without credentials", async () => {
    const r = await client()("/v1/jobs", {
      method: "OPTIONS",
      headers: { authorization: "", origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, idempotency-key" },
    });
    expect(r.status).toBe(204);
    expect(r.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(r.headers.get("access-control-allow-methods")).toContain("POST");
    const allowed = r.headers.get("access-control-allow-headers")!.toLowerCase();
    for (const h of ["authorization", "content-type", "idempotency-key", "x-request-id", "last-event-id"]) expect(allowed).toContain(h);
    expect(Number(r.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    expect(await r.text()).toBe("");
  });

  test("preflight from a disallowed origin: 403 WE-AUTH-003, no CORS headers", async () => {
    const r = await client()("/v1/jobs", { method: "OPTIONS", headers: { authorization: "", origin: "https://evil.example", "access-control-request-method": "POST" } });
    expect(r.status).toBe(403);
    expect(r.headers.get("access-control-allow-origin")).toBeNull();
    const body = (await r.json()) as Envelope;
    expect(body.error.code).toBe("WE-AUTH-003");
    expect(body.error.message).toContain("https://evil.example");
  });

  test("the literal origin \"null\" is never allowed", async () => {
    const r = await client()("/v1/jobs", { method: "OPTIONS", headers: { authorization: "", origin: "null", "access-control-request-method": "GET" } });
    expect(r.status).toBe(403);
  });
});

describe("JSON depth limit", () => {
  const post = (body: string) => client()("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body });
  const nested = (levels: number) => `{"source_url":"uploads/x.mp4","profiles":["360p_h264"],"metadata":${"[".repeat(levels - 1)}${"]".repeat(levels - 1)}}`;

  test("deeper than JSON_MAX_DEPTH (32): 400 WE-REQ-004", async () => {
    const r = await post(nested(33));
    expect(r.status).toBe(400);
    const body = (await r.json()) as Envelope;
    expect(body.error.code).toBe("WE-REQ-004");
    expect(body.error.message).toBe("JSON nested deeper than 32 levels (JSON_MAX_DEPTH)");
  });

  test("at the limit the body reaches validation (not WE-REQ-004)", async () => {
    const r = await post(nested(32));
    const body = (await r.json()) as Envelope | Record<string, unknown>;
    expect((body as Envelope).error?.code).not.toBe("WE-REQ-004");
  });

  test("a body of 300 000 nested arrays is refused quickly and the kernel keeps serving", async () => {
    const n = 300_000;
    const started = performance.now();
    const r = await post(`${"[".repeat(n)}${"]".repeat(n)}`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as Envelope).error.code).toBe("WE-REQ-004");
    expect(performance.now() - started).toBeLessThan(30_000); // answered, not hung; the code is the proof
    expect((await proxied.fetch("/v1/health")).status).toBe(200);
  });
});

describe("error bodies leak nothing", () => {
  /** Text that would betray internals: stack frames, source paths, the runtime's own error names. */
  const LEAKS = [/\bat\s+\S+\s*\(/, /\.ts\b/, /\/work\//, /node_modules/, /src\//, /TypeError|ReferenceError|SyntaxError/, /secret-db-password/];

  test("an unexpected error is WE-SYS-001 with a generic message and the request id only", async () => {
    // The kernel's real app (error hook included) plus a hook that fails the way a bug would. A hook, not a
    // route: a route of its own would have no access policy and be refused before it could throw.
    const app = new Elysia().use(createApp(proxied.handle.ctx)).onRequest(({ request }) => {
      if (new URL(request.url).pathname === "/v1/test-boom") {
        throw new TypeError(`cannot read properties of undefined at ${import.meta.path} (postgres://u:secret-db-password@db/x)`);
      }
    });
    const r = await app.handle(new Request("http://kernel/v1/test-boom", { headers: { "x-request-id": "leak-check-1", authorization: `Bearer ${"x".repeat(40)}` } }));
    const text = await r.text();
    expect(r.status).toBe(500);
    const body = JSON.parse(text) as Envelope;
    expect(Object.keys(body)).toEqual(["error"]);
    expect(Object.keys(body.error).sort()).toEqual(["code", "message", "request_id"]);
    expect(body.error).toEqual({ code: "WE-SYS-001", message: "internal error; the request id is in the server log", request_id: "leak-check-1" });
    for (const leak of LEAKS) expect(text).not.toMatch(leak);
  });

  test("malformed JSON and bad requests on the real kernel carry no internals", async () => {
    const c = client();
    const responses = [
      await c("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: '{"source_url": "x", ' }),
      await c("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: '{"source_url": 5}' }),
      await c("/v1/jobs/not-a-uuid"),
    ];
    for (const r of responses) {
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      const text = await r.text();
      expect((JSON.parse(text) as Envelope).error.code).toMatch(/^WE-/);
      for (const leak of LEAKS) expect(text).not.toMatch(leak);
    }
  });
});
