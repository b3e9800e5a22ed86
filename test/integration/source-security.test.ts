/**
 * Sources that make FFmpeg open more than the input it was given (issue 12, items 2, 3 and 10), against a
 * real kernel with its embedded worker, real FFprobe/FFmpeg and real HTTP servers:
 * - an uploaded HLS playlist or concat script whose entries are absolute paths outside the storage root;
 * - an http(s) source that is an HLS playlist whose variants, segments and key live on an address the
 *   outbound guard refuses (127.0.0.2 with only 127.0.0.1/32 allowed): that server must never be asked;
 * - a TS made of one segment repeated 300 times (timestamps repeat): one permanent failure naming the cause,
 *   not a kernel handler that throws until the attempts run out.
 * Each fails the job at once with WE-JOB-007 (one attempt, nothing planned), and nothing of the file behind
 * the playlist reaches the job. A plain upload still goes all the way through with the same whitelists.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { makeClip } from "../helpers/media.ts";
import { ffmpeg, forbiddenServer } from "../helpers/outbound.ts";
import { waitFor } from "../helpers/wait.ts";

type Job = Record<string, any>;

/** A size no other clip here has: if it shows up in a job, FFmpeg read the file outside the storage root. */
const OUTSIDE = { width: 208, height: 112 };

let k: TestKernel;
let outsideDir = "";
let outsideTs = "";
let work = "";
let origin: ReturnType<typeof Bun.serve>;
/** 127.0.0.2: outside OUTBOUND_ALLOW_CIDRS. Every request that reaches it is recorded; there must be none. */
let forbidden: ReturnType<typeof Bun.serve>;
const forbiddenHits: string[] = [];
let base = "";

beforeAll(async () => {
  // Not under the kernel's DATA_DIR (the storage root): a file the worker must never read.
  outsideDir = mkdtempSync(join(tmpdir(), "we-outside-"));
  work = mkdtempSync(join(tmpdir(), "we-srcsec-"));
  outsideTs = join(outsideDir, "secret.ts");
  await ffmpeg([
    "-f", "lavfi", "-i", `testsrc2=size=${OUTSIDE.width}x${OUTSIDE.height}:rate=10`, "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100",
    "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-c:a", "aac", "-f", "mpegts", outsideTs,
  ]);
  forbidden = forbiddenServer(outsideTs, forbiddenHits);
  const far = `http://127.0.0.2:${forbidden.port}`;
  const playlists: Record<string, string> = {
    // A media playlist: its key and segment on the refused address.
    "/media": `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXT-X-KEY:METHOD=AES-128,URI="${far}/key.bin"\n#EXTINF:1.0,\n${far}/seg0.ts\n#EXT-X-ENDLIST\n`,
    // Without a key: FFmpeg would fetch the segment as soon as it opened the playlist.
    "/plain": `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n${far}/seg1.ts\n#EXT-X-ENDLIST\n`,
    // A master playlist whose variant is there.
    "/master": `#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=100000,RESOLUTION=${OUTSIDE.width}x${OUTSIDE.height}\n${far}/variant.m3u8\n`,
    // A DASH manifest whose segments are there.
    "/manifest": `<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT1S" minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-live:2011"><BaseURL>${far}/</BaseURL><Period><AdaptationSet mimeType="video/mp2t"><Representation id="v" bandwidth="100000" width="${OUTSIDE.width}" height="${OUTSIDE.height}"><SegmentList duration="1"><SegmentURL media="seg2.ts"/></SegmentList></Representation></AdaptationSet></Period></MPD>\n`,
  };
  origin = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const body = playlists[new URL(req.url).pathname];
      return body ? new Response(body, { headers: { "content-type": "application/vnd.apple.mpegurl" } }) : new Response("not here", { status: 404 });
    },
  });
  base = `http://127.0.0.1:${origin.port}`;
  k = await startTestKernel({ env: { EMBEDDED_WORKER: "true", OUTBOUND_ALLOW_CIDRS: "127.0.0.1/32" } });
}, 120_000);

afterAll(async () => {
  await k?.stop();
  origin?.stop(true);
  forbidden?.stop(true);
  rmSync(outsideDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

/** Uploads through POST /v1/files (raw body, ?filename=) and returns the source_url it gives. */
async function upload(filename: string, body: Uint8Array): Promise<string> {
  const r = await k.fetch(`/v1/files?filename=${encodeURIComponent(filename)}`, { method: "POST", headers: { "content-type": "application/octet-stream" }, body });
  const file = (await r.json()) as { source_url?: string };
  if (r.status !== 201 || !file.source_url) throw new Error(`POST /v1/files → ${r.status}: ${JSON.stringify(file)}`);
  return file.source_url;
}

async function submit(source_url: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url, profiles: ["360p_h264"], outputs: ["mp4"], ...extra }) });
  const job = (await r.json()) as { id?: string };
  if (r.status !== 201 || !job.id) throw new Error(`POST /v1/jobs → ${r.status}: ${JSON.stringify(job)}`);
  return job.id;
}

async function finished(id: string, timeoutMs: number): Promise<Job> {
  let job: Job = {};
  await waitFor(async () => {
    job = (await (await k.fetch(`/v1/jobs/${id}`)).json()) as Job;
    return ["completed", "failed", "cancelled"].includes(job.status);
  }, timeoutMs, `job ${id} to finish`, 100);
  return job;
}

/** Failed at analyze with a permanent WE-JOB-007 whose message matches; one attempt; nothing planned. */
function expectRefusedAtAnalyze(job: Job, message: RegExp): void {
  expect({ status: job.status, code: job.error?.code }).toEqual({ status: "failed", code: "WE-JOB-007" });
  expect(job.error.message).toMatch(message);
  const tasks = job.tasks as Job[];
  expect(tasks.map((t) => t.type)).toEqual(["analyze"]);
  expect((tasks[0]!.attempts as Job[]).map((a) => a.error_class)).toEqual(["permanent"]);
}

/** Nothing FFmpeg could have read from the file outside the storage root is in the job. */
function expectNothingOfOutside(job: Job): void {
  const text = JSON.stringify(job);
  expect(job.source ?? null).toBeNull();
  expect(text).not.toContain(`"width":${OUTSIDE.width}`);
  expect(text).not.toContain('"sample_rate":44100');
}

describe("uploaded files that name other files (item 3)", () => {
  test("an uploaded .m3u8 listing an absolute path outside the storage root: refused at submission (422 WE-JOB-007)", async () => {
    const playlist = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n${outsideTs}\n#EXT-X-ENDLIST\n`;
    const source_url = await upload("evil.m3u8", new TextEncoder().encode(playlist));
    const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url, profiles: ["360p_h264"] }) });
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect({ status: r.status, code: body.error.code }).toEqual({ status: 422, code: "WE-JOB-007" });
    expect(body.error.message).toContain("is an HLS playlist (.m3u8): playlists are not accepted as sources");
  });

  test("the same playlist under a media name (clip.ts): the worker refuses it by its content, the file is never read", async () => {
    const playlist = `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n${outsideTs}\n#EXT-X-ENDLIST\n`;
    const job = await finished(await submit(await upload("clip.ts", new TextEncoder().encode(playlist))), 90_000);
    expectRefusedAtAnalyze(job, /^cannot read the source: the source is an HLS playlist, which is refused: FFmpeg would open the files or URLs it lists/);
    expectNothingOfOutside(job);
  }, 120_000);

  test("the same playlist named .mp4 (FFmpeg recognizes it by its content): refused", async () => {
    const playlist = `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nfile:${outsideTs}\n#EXT-X-ENDLIST\n`;
    const job = await finished(await submit(await upload("holiday.mp4", new TextEncoder().encode(playlist))), 90_000);
    expectRefusedAtAnalyze(job, /the source is an HLS playlist, which is refused/);
    expectNothingOfOutside(job);
  }, 120_000);

  test("an ffconcat script (named .mkv) listing the outside file: refused", async () => {
    const script = `ffconcat version 1.0\nfile ${outsideTs}\nfile ${outsideTs}\n`;
    const job = await finished(await submit(await upload("evil.mkv", new TextEncoder().encode(script))), 90_000);
    expectRefusedAtAnalyze(job, /^cannot read the source: the source is a concat script, which is refused/);
    expectNothingOfOutside(job);
  }, 120_000);
});

describe("http(s) sources that are HLS playlists (item 2; only 127.0.0.1/32 allowed)", () => {
  test("named like one (.m3u8, .mpd): refused at submission, 422 WE-JOB-007, no job written, nothing fetched", async () => {
    for (const [path, what] of [["/media.m3u8", "an HLS playlist (.m3u8)"], ["/manifest.mpd", "a DASH manifest (.mpd)"]] as const) {
      const before = ((await (await k.fetch("/v1/jobs?limit=100")).json()) as { items: unknown[] }).items.length;
      const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: `${base}${path}`, profiles: ["360p_h264"] }) });
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect({ status: r.status, code: body.error.code }).toEqual({ status: 422, code: "WE-JOB-007" });
      expect(body.error.message).toContain(`is ${what}: playlists are not accepted as sources`);
      expect(((await (await k.fetch("/v1/jobs?limit=100")).json()) as { items: unknown[] }).items.length).toBe(before);
    }
    expect(forbiddenHits).toEqual([]);
  });

  // Served without an extension: only the content says what they are, and the worker's FFprobe must stop there.
  const kinds: Array<[string, string]> = [
    ["/media", "an HLS playlist"],
    ["/plain", "an HLS playlist"],
    ["/master", "an HLS playlist"],
    ["/manifest", "a DASH manifest"],
  ];
  for (const [path, what] of kinds) {
    test(`${path} with its entries on 127.0.0.2: refused as ${what}, 127.0.0.2 never asked`, async () => {
      const job = await finished(await submit(`${base}${path}`), 90_000);
      expectRefusedAtAnalyze(job, new RegExp(`^cannot read the source: the source is ${what}, which is refused`));
      expectNothingOfOutside(job);
      expect(forbiddenHits).toEqual([]);
    }, 120_000);
  }
});

describe("a TS of one segment repeated 300 times (item 10)", () => {
  test("fails at once at analyze with WE-JOB-007 naming the repeated timestamps", async () => {
    const seg = join(work, "seg.ts");
    await ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=10", "-t", "0.5", "-c:v", "libx264", "-preset", "ultrafast", "-g", "5", "-f", "mpegts", seg]);
    const bytes = readFileSync(seg);
    const started = Date.now();
    const job = await finished(await submit(await upload("repeated.ts", Buffer.concat(Array.from({ length: 300 }, () => bytes)))), 90_000);
    expectRefusedAtAnalyze(job, /^unsupported source: the video timestamps repeat: the keyframe index lists frame \d+ twice/);
    expect(Date.now() - started).toBeLessThan(60_000);
  }, 120_000);
});

describe("what the whitelists still let through", () => {
  test("a plain uploaded MP4 is transcoded and packaged as before (MP4, HLS, poster and sprite)", async () => {
    const clip = await makeClip(work, "plain", { width: 160, height: 120, rate: "10", duration_s: 1, audio: true, gop: 10, faststart: true });
    const job = await finished(await submit(await upload("plain.mp4", readFileSync(clip)), { outputs: ["mp4", "hls"], thumbnails: { poster: true, sprite: true, interval_s: 1 } }), 240_000);
    expect({ status: job.status, error: job.error }).toEqual({ status: "completed", error: null });
    expect(job.source.video.width).toBe(160);
    const { items } = (await (await k.fetch(`/v1/jobs/${job.id}/outputs`)).json()) as { items: Array<{ kind: string }> };
    expect(items.map((o) => o.kind).sort()).toEqual(["hls", "mp4", "sprite", "thumbnail", "vtt"]);
  }, 300_000);
});
