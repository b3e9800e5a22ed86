/**
 * SSRF, end to end with a real kernel: POST /v1/jobs refuses sources on loopback, private, link-local and
 * metadata addresses (literal or behind a name) and non-http schemes with 400 WE-JOB-002, writing nothing;
 * OUTBOUND_ALLOW_CIDRS opens exactly what it names; and with the embedded worker, a source that redirects
 * to a refused address fails the job at once with WE-JOB-002, while FFmpeg itself never follows a redirect.
 *
 * Test kernels normally allow loopback (helpers/auth.ts); these override OUTBOUND_ALLOW_CIDRS.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { count } from "drizzle-orm";
import { guardedFetch, OutboundRefused } from "../../src/core/outbound-guard.ts";
import { jobs } from "../../src/db/schema.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { makeClip } from "../helpers/media.ts";
import { forbiddenServer } from "../helpers/outbound.ts";
import { waitFor } from "../helpers/wait.ts";

interface Envelope {
  error: { code: string; message: string; details: Record<string, unknown> };
}

const submit = (k: TestKernel, source_url: string) =>
  k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url, profiles: ["360p_h264"] }) });

const jobRows = async (k: TestKernel) => Number((await k.db.database.db.select({ n: count() }).from(jobs))[0]!.n);

describe("POST /v1/jobs without an allowlist (OUTBOUND_ALLOW_CIDRS empty)", () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel({ env: { OUTBOUND_ALLOW_CIDRS: "" } });
  }, 60_000);
  afterAll(async () => {
    await k?.stop();
  });

  const REFUSED: Array<[string, RegExp]> = [
    ["http://127.0.0.1:8080/video.mp4", /^source_url address 127\.0\.0\.1 is a loopback address; outbound requests to loopback addresses are refused unless OUTBOUND_ALLOW_CIDRS includes them$/],
    ["http://[::1]/video.mp4", /address ::1 is a loopback address/],
    ["http://0.0.0.0/video.mp4", /address 0\.0\.0\.0 is an unspecified address/],
    ["http://2130706433/video.mp4", /address 127\.0\.0\.1 is a loopback address/],
    ["http://[::ffff:127.0.0.1]/video.mp4", /address 127\.0\.0\.1 is a loopback address/],
    ["http://10.0.0.5/video.mp4", /^source_url address 10\.0\.0\.5 is a private address; outbound requests to private networks are refused unless OUTBOUND_ALLOW_CIDRS includes them$/],
    ["https://192.168.1.10/video.mp4", /address 192\.168\.1\.10 is a private address/],
    ["http://172.16.0.1/video.mp4", /address 172\.16\.0\.1 is a private address/],
    ["http://100.64.0.1/video.mp4", /address 100\.64\.0\.1 is a private address/],
    ["http://169.254.169.254/latest/meta-data/iam/security-credentials/", /address 169\.254\.169\.254 is a cloud metadata address/],
    ["http://169.254.1.1/video.mp4", /address 169\.254\.1\.1 is a link-local address/],
    ["http://[fd00:ec2::254]/latest/meta-data/", /cloud metadata address/],
    ["http://localhost:8080/video.mp4", /^source_url host "localhost" resolves to 127\.0\.0\.1, a loopback address; outbound requests to loopback addresses are refused unless OUTBOUND_ALLOW_CIDRS includes them$/],
    ["http://localhost./video.mp4", /host "localhost\." resolves to 127\.0\.0\.1, a loopback address/],
    ["file:///etc/passwd", /file: scheme is not allowed/],
    ["ftp://example.com/video.mp4", /ftp: scheme is not allowed/],
    ["gopher://127.0.0.1:70/_x", /gopher: scheme is not allowed/],
  ];

  test.each(REFUSED)("%s → 400 WE-JOB-002, no job written", async (url, message) => {
    const before = await jobRows(k);
    const r = await submit(k, url);
    expect(r.status).toBe(400);
    const body = (await r.json()) as Envelope;
    expect(body.error.code).toBe("WE-JOB-002");
    expect(body.error.message).toMatch(message);
    expect(await jobRows(k)).toBe(before);
  });

  test("the refusal carries the reason, host, address and its kind", async () => {
    const body = (await (await submit(k, "http://localhost:9/v.mp4")).json()) as Envelope;
    expect(body.error.details).toEqual({ reason: "address", host: "localhost", address: "127.0.0.1", address_kind: "loopback" });
  });

  test("a host that does not resolve is refused with a message naming it", async () => {
    const r = await submit(k, "http://no-such-host.invalid/video.mp4");
    expect(r.status).toBe(400);
    const body = (await r.json()) as Envelope;
    expect(body.error.code).toBe("WE-JOB-002");
    expect(body.error.message).toMatch(/^source_url host "no-such-host\.invalid" does not resolve/);
  });

  test("storage keys are not URLs: an uploaded key is accepted, a key that is not in storage is refused", async () => {
    const before = await jobRows(k);
    const missing = await submit(k, "uploads/some-key.mp4");
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as Envelope).error.code).toBe("WE-JOB-002");
    expect(await jobRows(k)).toBe(before);
    const up = await k.fetch("/v1/files?filename=clip.mp4", { method: "POST", body: new Uint8Array(1024) });
    expect(up.status).toBe(201);
    const { key } = (await up.json()) as { key: string };
    const r = await submit(k, key);
    expect(r.status).toBe(201);
    expect(await jobRows(k)).toBe(before + 1);
  });
});

describe("POST /v1/jobs with OUTBOUND_ALLOW_CIDRS", () => {
  let k: TestKernel;
  beforeAll(async () => {
    k = await startTestKernel({ env: { OUTBOUND_ALLOW_CIDRS: "10.0.0.0/8, 127.0.0.0/8, 169.254.0.0/16" } });
  }, 60_000);
  afterAll(async () => {
    await k?.stop();
  });

  test("addresses in the listed ranges are accepted, names resolving into them too", async () => {
    for (const url of ["http://10.20.30.40:9000/bucket/video.mp4", "http://127.0.0.1:1/video.mp4", "http://localhost:1/video.mp4", "http://169.254.1.1/video.mp4"]) {
      const r = await submit(k, url);
      expect({ url, status: r.status }).toEqual({ url, status: 201 });
    }
  });

  test("everything else stays refused, and metadata needs its exact address listed", async () => {
    for (const url of ["http://192.168.1.10/video.mp4", "http://[::1]/video.mp4", "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/video.mp4"]) {
      const r = await submit(k, url);
      expect({ url, status: r.status }).toEqual({ url, status: 400 });
      expect(((await r.json()) as Envelope).error.code).toBe("WE-JOB-002");
    }
  });
});

describe("redirects (embedded worker, only 127.0.0.1/32 allowed)", () => {
  let k: TestKernel;
  let origin: ReturnType<typeof Bun.serve>;
  /** Where the "flip" source finally points: 127.0.0.2, outside the allowlist. Nothing may ever reach it. */
  let forbidden: ReturnType<typeof Bun.serve>;
  const forbiddenHits: string[] = [];
  const originHits: string[] = [];
  let flipCount = 0;
  let base = "";
  const dir = mkdtempSync(join(tmpdir(), "we-ssrf-"));

  beforeAll(async () => {
    const clip = await makeClip(dir, "clip", { width: 160, height: 120, rate: "10", duration_s: 1, audio: false, gop: 10, faststart: true });
    forbidden = forbiddenServer(clip, forbiddenHits);
    origin = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const path = new URL(req.url).pathname;
        originHits.push(`${req.method} ${path} ${req.headers.get("range") ?? ""}`.trim());
        if (path === "/to-private") return new Response(null, { status: 302, headers: { location: "http://10.0.0.1/x" } });
        if (path === "/to-clip") return new Response(null, { status: 302, headers: { location: "/clip.mp4" } });
        // Answers the first request (the worker's check) and redirects every later one (FFmpeg's reads).
        if (path === "/flip") return flipCount++ === 0 ? new Response(Bun.file(clip)) : new Response(null, { status: 302, headers: { location: `http://127.0.0.2:${forbidden.port}/clip.mp4` } });
        if (path === "/clip.mp4") return new Response(Bun.file(clip));
        return new Response("not here", { status: 404 });
      },
    });
    base = `http://127.0.0.1:${origin.port}`;
    k = await startTestKernel({ env: { EMBEDDED_WORKER: "true", OUTBOUND_ALLOW_CIDRS: "127.0.0.1/32" } });
  }, 120_000);
  afterAll(async () => {
    await k?.stop();
    origin?.stop(true);
    forbidden?.stop(true);
    rmSync(dir, { recursive: true, force: true });
  });

  const finished = async (id: string, timeoutMs: number) => {
    let job: Record<string, any> = {};
    await waitFor(async () => {
      job = (await (await k.fetch(`/v1/jobs/${id}`)).json()) as Record<string, any>;
      return ["completed", "failed", "cancelled"].includes(job.status);
    }, timeoutMs, `job ${id} to finish`);
    return job;
  };

  test("guardedFetch refuses the hop to 10.0.0.1 from a real server", async () => {
    const e = await guardedFetch(`${base}/to-private`, undefined, { allowCidrs: ["127.0.0.1/32"], timeoutMs: 5_000, what: "source_url" }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OutboundRefused);
    expect((e as OutboundRefused).address).toBe("10.0.0.1");
    expect((e as OutboundRefused).message).toContain("source_url redirects to http://10.0.0.1/x; address 10.0.0.1 is a private address");
  });

  test("a job whose source redirects to a private address fails at once: WE-JOB-002, one attempt", async () => {
    const r = await submit(k, `${base}/to-private`);
    expect(r.status).toBe(201); // the URL itself is on an allowed address; its redirect is only seen when fetched
    const { id } = (await r.json()) as { id: string };
    const job = await finished(id, 60_000);
    expect(job.status).toBe("failed");
    expect(job.error.code).toBe("WE-JOB-002");
    expect(job.error.message).toContain("source_url redirects to http://10.0.0.1/x; address 10.0.0.1 is a private address");
    expect(job.error.message).toContain("OUTBOUND_ALLOW_CIDRS");
    const analyze = (job.tasks as Array<Record<string, any>>).filter((t) => t.type === "analyze");
    expect(analyze).toHaveLength(1);
    expect(analyze[0]!.attempts).toHaveLength(1);
    expect(analyze[0]!.attempts[0].error_class).toBe("permanent");
    expect((job.tasks as unknown[]).length).toBe(1); // nothing was planned
  }, 90_000);

  test("an allowed redirect is followed by the worker and FFmpeg reads the final URL", async () => {
    const r = await submit(k, `${base}/to-clip`);
    expect(r.status).toBe(201);
    const { id } = (await r.json()) as { id: string };
    const job = await finished(id, 150_000);
    expect({ status: job.status, error: job.error }).toEqual({ status: "completed", error: null });
    expect(job.source.video.width).toBe(160);
    // FFprobe/FFmpeg were given /clip.mp4 itself: the redirecting URL was only requested by the worker's checks.
    const toClip = originHits.filter((h) => h.startsWith("GET /to-clip"));
    expect(toClip.length).toBeGreaterThan(0);
    expect(toClip.every((h) => h.endsWith("bytes=0-0"))).toBe(true);
  }, 180_000);

  test("FFprobe does not follow a redirect the worker's check did not see (-max_redirects 0): permanent input error", async () => {
    const r = await submit(k, `${base}/flip`);
    expect(r.status).toBe(201);
    const { id } = (await r.json()) as { id: string };
    const job = await finished(id, 60_000);
    expect(job.status).toBe("failed");
    expect(forbiddenHits).toEqual([]); // neither FFprobe nor the worker ever reached 127.0.0.2
    expect(flipCount).toBeGreaterThan(1); // the check got the clip, FFprobe got the redirect
    expect(job.error).toMatchObject({ code: "WE-JOB-007", message: "cannot read the source: Input/output error" });
    const attempts = (job.tasks as Array<Record<string, any>>)[0]!.attempts as Array<Record<string, any>>;
    expect(attempts.map((a) => a.error_class)).toEqual(["permanent"]);
  }, 90_000);
});
