/**
 * Issue 12, items 2, 3 and 10 against the COMPILED kernel (E2E_DIST or dist/) with its embedded worker, i.e.
 * the encoder plugin as the shipped executable runs it: an http(s) HLS source whose segment lives on a
 * refused address (127.0.0.2, only 127.0.0.1/32 allowed), an uploaded playlist naming a file outside the
 * storage root, and a TS of one segment repeated 300 times. Each fails at analysis with one permanent
 * WE-JOB-007 naming the reason; 127.0.0.2 is never asked and nothing of the outside file reaches the job.
 * (test/integration/source-security.test.ts has the full set against the in-process kernel.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withAuth } from "../helpers/auth.ts";
import { type CompiledKernel, startCompiledKernel } from "../helpers/compiled-kernel.ts";
import { ffmpeg, forbiddenServer } from "../helpers/outbound.ts";
import { waitFor } from "../helpers/wait.ts";

type Job = Record<string, any>;

let k: CompiledKernel;
let dir = "";
let secret = "";
let origin: ReturnType<typeof Bun.serve>;
let forbidden: ReturnType<typeof Bun.serve>;
const forbiddenHits: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "we-e2e-srcsec-"));
  secret = join(dir, "secret.ts");
  await ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=208x112:rate=10", "-t", "0.5", "-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-f", "mpegts", secret]);
  forbidden = forbiddenServer(secret, forbiddenHits);
  const playlist = `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0.5,\nhttp://127.0.0.2:${forbidden.port}/seg.ts\n#EXT-X-ENDLIST\n`;
  origin = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(playlist, { headers: { "content-type": "application/vnd.apple.mpegurl" } }) });
  k = await startCompiledKernel({ EMBEDDED_WORKER: "true", OUTBOUND_ALLOW_CIDRS: "127.0.0.1/32" });
}, 120_000);

afterAll(async () => {
  await k?.dispose();
  origin?.stop(true);
  forbidden?.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

const api = (path: string, init?: RequestInit) => fetch(`${k.base}${path}`, withAuth(init));

async function upload(filename: string, body: Uint8Array): Promise<string> {
  const r = await api(`/v1/files?filename=${encodeURIComponent(filename)}`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body });
  const file = (await r.json()) as { source_url?: string };
  if (r.status !== 201 || !file.source_url) throw new Error(`POST /v1/files → ${r.status}: ${JSON.stringify(file)}`);
  return file.source_url;
}

async function run(source_url: string): Promise<Job> {
  const r = await api("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url, profiles: ["360p_h264"], outputs: ["mp4"] }) });
  const { id } = (await r.json()) as { id: string };
  expect(r.status).toBe(201);
  let job: Job = {};
  await waitFor(async () => {
    job = (await (await api(`/v1/jobs/${id}`)).json()) as Job;
    return ["completed", "failed", "cancelled"].includes(job.status);
  }, 90_000, `job ${id} to finish`, 200);
  return job;
}

function expectRefusedAtAnalyze(job: Job, message: RegExp): void {
  expect({ status: job.status, code: job.error?.code }).toEqual({ status: "failed", code: "WE-JOB-007" });
  expect(job.error.message).toMatch(message);
  expect((job.tasks as Job[]).map((t) => [t.type, (t.attempts as Job[]).map((a) => a.error_class)])).toEqual([["analyze", ["permanent"]]]);
  expect(job.source ?? null).toBeNull();
  expect(JSON.stringify(job)).not.toContain('"width":208');
}

describe("compiled kernel + embedded worker", () => {
  test("an http(s) HLS playlist (no .m3u8 in its URL) with its segment on 127.0.0.2: refused, 127.0.0.2 never asked", async () => {
    const job = await run(`http://127.0.0.1:${origin.port}/live/index`);
    expectRefusedAtAnalyze(job, /^cannot read the source: the source is an HLS playlist, which is refused/);
    expect(forbiddenHits).toEqual([]);
  }, 120_000);

  test("an uploaded playlist (named .mp4) naming a file outside the storage root: refused, the file is never read", async () => {
    const playlist = `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:0.5,\n${secret}\n#EXT-X-ENDLIST\n`;
    const job = await run(await upload("evil.mp4", new TextEncoder().encode(playlist)));
    expectRefusedAtAnalyze(job, /^cannot read the source: the source is an HLS playlist, which is refused/);
  }, 120_000);

  test("a TS of one segment repeated 300 times: one permanent failure naming the repeated timestamps", async () => {
    const seg = readFileSync(secret);
    const job = await run(await upload("repeated.ts", Buffer.concat(Array.from({ length: 300 }, () => seg))));
    expect({ status: job.status, code: job.error?.code }).toEqual({ status: "failed", code: "WE-JOB-007" });
    expect(job.error.message).toMatch(/^unsupported source: the video timestamps repeat/);
    expect((job.tasks as Job[]).map((t) => t.type)).toEqual(["analyze"]);
  }, 120_000);
});
