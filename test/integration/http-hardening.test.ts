/**
 * HTTP hardening on a real kernel (real PostgreSQL, Bun's HTTP server): body limits while reading (chunked
 * bodies too), the job metadata cap, NUL bytes and malformed percent-encoding refused centrally (400, never a
 * 500 from PostgreSQL), the reachable 500s of issue 12 turned into 4xx, audit entries always written (NULs
 * sanitized), and errors in the envelope (416 on Range, unknown methods).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { auditLog } from "../../src/db/schema.ts";
import { createApp } from "../../src/kernel/api/app.ts";
import { recordAudit } from "../../src/kernel/auth/audit.ts";
import { signToken } from "../../src/plugin-runtime/shared/url-signing.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { rawHttp } from "../helpers/raw-http.ts";
import { waitFor } from "../helpers/wait.ts";

let k: TestKernel;

beforeAll(async () => {
  k = await startTestKernel();
}, 90_000);
afterAll(async () => {
  await k?.stop();
});

interface Envelope {
  error: { code: string; message: string; request_id: string; details?: Record<string, unknown> };
}

/** Asserts an error response: the status, the catalogue code, and the envelope's shape and request id. */
async function expectError(r: Response, status: number, code: string): Promise<Envelope> {
  const text = await r.text();
  expect(`${r.status} ${text}`).toStartWith(`${status} `);
  const body = JSON.parse(text) as Envelope;
  expect(body.error.code).toBe(code);
  expect(body.error.request_id).toBe(r.headers.get("x-request-id")!);
  expect(typeof body.error.message).toBe("string");
  return body;
}

/** A body sent chunked (no Content-Length): a stream of `size` bytes of one JSON document. */
function chunkedJob(size: number): ReadableStream<Uint8Array> {
  const head = new TextEncoder().encode('{"source_url":"http://127.0.0.1:9/a.mp4","profiles":["720p_h264"],"metadata":{"pad":"');
  const tail = new TextEncoder().encode('"}}');
  let sent = 0;
  const pad = new Uint8Array(Math.min(64 * 1024, size)).fill(0x61);
  return new ReadableStream({
    pull(c) {
      if (sent === 0) c.enqueue(head);
      if (sent >= size) {
        c.enqueue(tail);
        c.close();
        return;
      }
      c.enqueue(pad);
      sent += pad.byteLength;
    },
  });
}

const job = (extra: Record<string, unknown> = {}) =>
  k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: "http://127.0.0.1:9/a.mp4", profiles: ["720p_h264"], ...extra }) });

describe("body limits while reading (MAX_BODY_SIZE, 1 MiB by default)", () => {
  test("a chunked 6 MiB job body is refused with 413 WE-REQ-003, and no job is written", async () => {
    const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: chunkedJob(6 * 1024 * 1024) });
    expect(r.headers.get("content-length")).not.toBe(null);
    const body = await expectError(r, 413, "WE-REQ-003");
    expect(body.error.message).toContain("MAX_BODY_SIZE");
    const list = (await (await k.fetch("/v1/jobs")).json()) as { items: unknown[] };
    expect(list.items).toEqual([]);
  });

  test("a declared oversize body is refused before reading, in the envelope", async () => {
    const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(2 * 1024 * 1024) });
    await expectError(r, 413, "WE-REQ-003");
  });

  test("a small chunked body is parsed as usual (201), and a chunked malformed one is 400 WE-REQ-004", async () => {
    const ok = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: chunkedJob(1000) });
    expect(ok.status).toBe(201);
    const bad = await k.fetch("/v1/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode('{"source_url": '));
          c.close();
        },
      }),
    });
    await expectError(bad, 400, "WE-REQ-004");
  });

  test("job metadata is capped at 16 KiB serialized: 400 WE-JOB-001 naming the limit; 15 KiB is accepted", async () => {
    const big = await job({ metadata: { note: "x".repeat(17 * 1024) } });
    const body = await expectError(big, 400, "WE-JOB-001");
    expect(body.error.message).toMatch(/metadata.*16 KiB|16384/);
    expect((await job({ metadata: { note: "x".repeat(15 * 1024) } })).status).toBe(201);
  });

  test("list limits: limit above 200 and offsets past 2^53 are 400s, not 500s", async () => {
    await expectError(await k.fetch("/v1/jobs?limit=100000"), 400, "WE-JOB-001");
    for (const path of ["/v1/jobs?offset=9223372036854775808", "/v1/workers?offset=9223372036854775807", "/v1/webhooks?offset=1" + "0".repeat(400)]) {
      const r = await k.fetch(path);
      expect(r.status, path).toBe(400);
      expect(((await r.json()) as Envelope).error.code).toMatch(/^WE-(JOB|REQ)-001$/);
    }
    expect((await k.fetch(`/v1/jobs?offset=${Number.MAX_SAFE_INTEGER}`)).status).toBe(200);
  });
});

describe("reachable 500s become 4xx", () => {
  test("/swagger/assets/__proto__, constructor, toString (anonymous): 404 WE-REQ-002", async () => {
    for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]) {
      await expectError(await fetch(`${k.url}/swagger/assets/${name}`), 404, "WE-REQ-002");
    }
    expect((await fetch(`${k.url}/swagger/assets/swagger-ui.css`)).status).toBe(200);
  });

  test("a malformed % in a signed-URL path (anonymous) or any path/query: 400 WE-REQ-001", async () => {
    for (const path of ["/v1/storage/storage-fs/t/abc/%E0%A4%A", "/v1/storage/storage-fs/t/abc/a%zz", "/v1/jobs/%", "/v1/jobs?status=%E0%A4"]) {
      const r = await fetch(`${k.url}${path}`, { headers: { authorization: "Bearer we_testadmin_0123456789abcdefghijklmnopqrstuv" } });
      const body = await expectError(r, 400, "WE-REQ-001");
      expect(body.error.message).toContain("percent-encoding");
    }
  });

  test("a NUL byte in any path or query parameter: 400 WE-REQ-001 before anything reaches PostgreSQL", async () => {
    for (const [method, path] of [
      ["GET", "/v1/workers/a%00b"],
      ["POST", "/v1/workers/a%00b/drain"],
      ["GET", "/v1/audit?actor=a%00"],
      ["GET", "/v1/jobs?status=%00"],
      ["DELETE", "/v1/profiles/x%00y"],
      ["GET", "/v1/storage/storage-fs/t/abc/a%00.mp4"],
    ] as const) {
      const body = await expectError(await k.fetch(path, { method }), 400, "WE-REQ-001");
      expect(body.error.message).toContain("NUL");
    }
  });

  test("a NUL character anywhere in a JSON body (values or keys): 400 WE-REQ-004, nothing written", async () => {
    const post = (path: string, body: unknown) => k.fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const key = await expectError(await post("/v1/api-keys", { name: "a\u0000b", role: "viewer" }), 400, "WE-REQ-004");
    expect(key.error.message).toContain("NUL");
    await expectError(await post("/v1/jobs", { source_url: "http://127.0.0.1:9/a.mp4", profiles: ["720p_h264"], metadata: { "k\u0000": 1 } }), 400, "WE-REQ-004");
    await expectError(await post("/v1/profiles", { id: "p", nested: [{ deep: "\u0000" }] }), 400, "WE-REQ-004");
    const keys = (await (await k.fetch("/v1/api-keys")).json()) as { items: Array<{ name: string }> };
    expect(keys.items.some((i) => i.name.includes("\u0000"))).toBe(false);
  });

  test("a huge before= on the audit log: 400, not 500", async () => {
    for (const before of ["99999999999999999999999", "9223372036854775808"]) {
      const r = await k.fetch(`/v1/audit?before=${before}`);
      expect(r.status, before).toBe(400);
      expect(((await r.json()) as Envelope).error.code).toBe("WE-REQ-001");
    }
    expect((await k.fetch("/v1/audit?before=123")).status).toBe(200);
  });
});

describe("audit entries are always written", () => {
  test("NULs (and oversize values) in an entry are sanitized, never dropped", async () => {
    const requestId = `audit-nul-${crypto.randomUUID()}`;
    await recordAudit(k.handle.ctx, {
      principal: undefined,
      method: "POST",
      route: "/v1/workers/:id/drain",
      params: { id: `a\0b${"z".repeat(5000)}` },
      status: 400,
      clientIp: "127.0.0.1",
      userAgent: "curl\0/8",
      requestId,
    });
    const [row] = await k.db.database.db.select().from(auditLog).where(eq(auditLog.requestId, requestId));
    expect(row).toBeDefined();
    expect(row!.target!.startsWith("a\uFFFDb")).toBe(true);
    expect(row!.target!.length).toBeLessThanOrEqual(512);
    expect(row!.userAgent).toBe("curl\uFFFD/8");
  });

  test("state-changing requests refused before routing (NUL in the URL, declared oversize body) are audited with their path", async () => {
    const nul = await k.fetch("/v1/workers/a%00b/drain", { method: "POST", headers: { "x-request-id": "audit-early-nul" } });
    expect(nul.status).toBe(400);
    const big = await k.fetch("/v1/jobs", { method: "POST", headers: { "x-request-id": "audit-early-big", "content-type": "application/json" }, body: "x".repeat(2 * 1024 * 1024) });
    expect(big.status).toBe(413);
    const rows = async (id: string) => k.db.database.db.select().from(auditLog).where(eq(auditLog.requestId, id));
    await waitFor(async () => (await rows("audit-early-nul")).length === 1 && (await rows("audit-early-big")).length === 1, 10_000, "both audit rows");
    const [row] = await rows("audit-early-nul");
    expect(row).toMatchObject({ method: "POST", status: 400, target: "/v1/workers/a%00b/drain", route: "(refused before routing)", actor: "anonymous" });
    // GETs stay unaudited, refused or not.
    await k.fetch("/v1/workers/a%00b", { headers: { "x-request-id": "audit-early-get" } });
    await Bun.sleep(200);
    expect(await rows("audit-early-get")).toEqual([]);
  });

  test("a refused request with an odd path parameter is audited", async () => {
    const r = await k.fetch("/v1/workers/no-such-worker/drain", { method: "POST", headers: { "x-request-id": "audit-refused-1" } });
    expect(r.status).toBe(404);
    await waitFor(async () => (await k.db.database.db.select().from(auditLog).where(eq(auditLog.requestId, "audit-refused-1"))).length === 1, 10_000, "the audit row");
  });
});

describe("every error in the envelope", () => {
  test("416 on an unsatisfiable Range carries the envelope and Content-Range", async () => {
    const up = await k.fetch("/v1/files?filename=a.txt", { method: "POST", headers: { "content-type": "application/octet-stream" }, body: "hello world" });
    expect(up.status).toBe(201);
    const { key } = (await up.json()) as { key: string };
    const secret = String((await k.handle.ctx.pluginSettings.get("storage-fs"))?.config.url_signing_key);
    const token = signToken(secret, key, Math.floor(Date.now() / 1000) + 600, "t");
    const url = `${k.url}/v1/storage/storage-fs/t/${token}/${key}`;
    expect((await fetch(url, { headers: { range: "bytes=0-4" } })).status).toBe(206);
    const r = await fetch(url, { headers: { range: "bytes=100-200" } });
    expect(r.headers.get("content-range")).toBe("bytes */11");
    await expectError(r, 416, "WE-REQ-007");
  });

  test("an unknown method on a known path: an error in the envelope naming the real path", async () => {
    for (const method of ["PROPFIND", "MKCOL", "PURGE"]) {
      const r = await k.fetch("/v1/jobs", { method });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      const body = (await r.json()) as Envelope;
      expect(body.error.request_id).toBe(r.headers.get("x-request-id")!);
      if (body.error.code === "WE-REQ-002") expect(body.error.message).toContain("/v1/jobs");
    }
  });

  /** One raw HTTP exchange (for what fetch cannot send); resolves with everything read until the server closes. */
  const raw = (text: string) => {
    const u = new URL(k.url);
    return rawHttp(Number(u.port), u.hostname, text);
  };
  const bodyOf = (res: string) => JSON.parse(res.slice(res.indexOf("\r\n\r\n") + 4)) as Envelope;

  test("a Content-Length beyond any limit (50 GB): 413 in the envelope from the app, not Bun's bare 413", async () => {
    const res = await raw(`POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000000\r\nConnection: close\r\n\r\n{`);
    expect(res).toStartWith("HTTP/1.1 413");
    expect(bodyOf(res).error.code).toBe("WE-REQ-003");
  });

  test("Bun's last-resort error handler (an error hook that throws) answers the envelope; no HTML error pages", async () => {
    const serve = createApp(k.handle.ctx).config.serve as { development?: boolean; error?: (e: unknown) => Response };
    expect(serve.development).toBe(false);
    const r = serve.error!(new Error("the error hook itself failed"));
    const body = await expectError(r, 500, "WE-SYS-001");
    expect(body.error.message).not.toContain("the error hook itself failed");
  });

  test("HTTP/1.0 without a Host header: 400 in the envelope (was Bun's HTML 500 page)", async () => {
    const res = await raw("GET /v1/health HTTP/1.0\r\n\r\n");
    expect(res).toStartWith("HTTP/1.1 400");
    expect(res).not.toContain("<html");
    expect(bodyOf(res).error.code).toBe("WE-REQ-001");
  });
});
