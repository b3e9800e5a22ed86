/**
 * End-to-end VOD pipeline (issue 5, "Proof") against the COMPILED executables in dist/, on clips generated
 * with `-f lavfi` into a temp dir. Every output is checked by test/helpers/media.ts with the system's
 * ffprobe/ffmpeg and our own parsers — never with the pipeline's own verification.
 *
 * Processes (all started here, all killed in afterAll):
 * - K1  standalone kernel (PGlite, in-process bus, embedded worker, 2 slots), chunks of 2–4 s from 4 s on:
 *       the generated clips — 30 fps with audio (MP4+HLS, 2 renditions, split), 23.976 fps without audio,
 *       an odd, non-16:9 size (643x481), portrait (360x640) and landscape with a 90° rotation tag.
 * - K2  standalone kernel that never splits (SPLIT_MIN_DURATION=60s): the one-chunk reference encode, bad
 *       inputs, request validation and the job lifecycle API (delete/cancel/list/logs).
 * - KD  distributed: kernel on a fresh PostgreSQL database + NATS JetStream (unique BUS_PREFIX), no
 *       embedded worker, and two compiled workers (w1, w2, one slot each) sharing this host's storage-fs.
 *
 * Proves: outputs are frame-exact (frame count = source's), within one frame in duration, audio/video
 * within one AAC frame + 1 ms, MP4 faststart, playable HLS through relative URLs with GOP-aligned variants;
 * the split encode (standalone and across two workers) equals the one-chunk encode in frames and duration
 * with SSIM ≥ 0.99; bad inputs fail at once with WE-JOB-007, no retry and nothing in storage.
 */
import { TEST_KERNEL_SECURITY_ENV, withAuth } from "../helpers/auth.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { checkHls, checkMp4, type ClipSpec, makeClip, type SourceFacts, sourceFacts, ssim, probe } from "../helpers/media.ts";
import { cleanupPrefix, natsUrl, uniquePrefix } from "../helpers/nats.ts";
import { binary, freePort, killAllProcs, type Proc, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-pipeline-"));
const clipsDir = join(scratch, "clips");
const dbs: TestDatabase[] = [];
const prefixes: string[] = [];
const servers: Array<{ stop(force?: boolean): unknown }> = [];
const T0 = performance.now();
const since = () => `${((performance.now() - T0) / 1000).toFixed(1)} s`;

// ---- clips ------------------------------------------------------------------------------------------

const CLIPS = {
  /** The main clip: split standalone, split across two workers, and one-chunk on K2. */
  main: { width: 854, height: 480, rate: "30", duration_s: 12, audio: true, gop: 30 },
  ntsc: { width: 854, height: 480, rate: "24000/1001", duration_s: 8, audio: false, gop: 24 },
  /** Odd AND not 16:9 (≈4:3): a letterboxing or 16:9-assuming pipeline cannot pass. */
  odd: { width: 643, height: 481, rate: "25", duration_s: 6, audio: true, gop: 25 },
  portrait: { width: 360, height: 640, rate: "30", duration_s: 6, audio: true, gop: 30 },
  rotated: { width: 640, height: 360, rate: "30", duration_s: 6, audio: true, gop: 30, rotate: 90 },
} satisfies Record<string, ClipSpec>;
type ClipName = keyof typeof CLIPS;
const clipPath: Partial<Record<ClipName, string>> = {};
const facts: Partial<Record<ClipName, SourceFacts>> = {};

// ---- processes --------------------------------------------------------------------------------------

interface Kernel {
  name: string;
  proc: Proc;
  base: string;
  storage: string;
}

let KERNEL = "";
let WORKER = "";

function dir(name: string): string {
  return mkdtempSync(join(scratch, `${name}-`));
}

async function startKernel(name: string, env: Record<string, string>, opts: { embedded: boolean }): Promise<Kernel> {
  const cwd = dir(name);
  const port = await freePort();
  const dataDir = join(cwd, "data");
  const proc = spawnProc([KERNEL], { env: { DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", PLUGIN_DIR: join(cwd, "plugins"), LOG_LEVEL: "info", ...TEST_KERNEL_SECURITY_ENV, ...env }, cwd });
  const base = `http://127.0.0.1:${port}`;
  await proc.waitForHttp200(`${base}/v1/health`, 180_000).catch((e: Error) => {
    throw new Error(`${name}: ${e.message}`);
  });
  const k: Kernel = { name, proc, base, storage: join(dataDir, "storage") };
  if (opts.embedded) await waitWorkers(k, ["embedded"]);
  return k;
}

async function waitWorkers(k: Kernel, ids: string[]): Promise<void> {
  for (const id of ids) {
    await waitFor(
      async () => {
        const r = await fetch(`${k.base}/v1/workers/${id}`, withAuth(undefined));
        return r.status === 200 && ((await r.json()) as { status: string }).status === "healthy";
      },
      30_000,
      `${k.name}: worker ${id} healthy`,
      100,
    );
  }
}

/** Puts a file into a kernel's storage-fs (what POST /v1/files would do) and returns its key. */
function upload(k: Kernel, from: string, key: string): string {
  mkdirSync(join(k.storage, key, ".."), { recursive: true });
  copyFileSync(from, join(k.storage, key));
  return key;
}

/** Storage keys under `prefix` in a kernel's storage-fs. */
function storedKeys(k: Kernel, prefix: string): string[] {
  const root = join(k.storage, prefix);
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true, withFileTypes: true }) as Array<{ isFile(): boolean; name: string; parentPath?: string; path?: string }>)
    .filter((e) => e.isFile())
    .map((e) => relative(k.storage, join(e.parentPath ?? e.path ?? root, e.name)))
    .sort();
}

// ---- API --------------------------------------------------------------------------------------------

interface Attempt {
  attempt: number;
  worker_id: string | null;
  outcome: string | null;
  argv?: string[] | null;
}
interface TaskView {
  id: string;
  type: string;
  seq: number;
  status: string;
  attempts: Attempt[];
}
interface JobView {
  id: string;
  status: string;
  progress: number;
  error: { code: string; message: string; details?: Record<string, unknown> } | null;
  created_at: string;
  finished_at: string | null;
  metadata: Record<string, unknown>;
  tasks: TaskView[];
  timeline: Array<{ at: string; status: string }>;
}
interface OutputView {
  kind: string;
  profile: string | null;
  storage_key: string;
  url: string | null;
  width: number | null;
  height: number | null;
}
interface ErrorBody {
  error: { code: string; message: string; request_id: string };
}

async function call<T>(k: Kernel, path: string, init: RequestInit = {}): Promise<{ status: number; body: T; headers: Headers }> {
  const r = await fetch(`${k.base}${path}`, withAuth(init));
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : null) as T, headers: r.headers };
}

function post<T>(k: Kernel, path: string, body: unknown, headers: Record<string, string> = {}) {
  return call<T>(k, path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
}

async function submit(k: Kernel, body: Record<string, unknown>): Promise<string> {
  const r = await post<JobView & ErrorBody>(k, "/v1/jobs", body);
  if (r.status !== 201) throw new Error(`${k.name}: POST /v1/jobs ${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

const getJob = async (k: Kernel, id: string) => (await call<JobView>(k, `/v1/jobs/${id}`)).body;
const TERMINAL = ["completed", "failed", "cancelled"];

async function waitEnded(k: Kernel, id: string, timeoutMs: number): Promise<JobView> {
  let job: JobView | undefined;
  await waitFor(
    async () => {
      job = await getJob(k, id);
      return TERMINAL.includes(job.status);
    },
    timeoutMs,
    `${k.name}: job ${id} to end (last: ${job?.status} ${job?.progress}%)`,
    100,
  );
  return job!;
}

async function waitCompleted(k: Kernel, id: string, timeoutMs = 240_000): Promise<JobView> {
  const job = await waitEnded(k, id, timeoutMs);
  if (job.status !== "completed") {
    const failed = job.tasks.flatMap((t) => t.attempts.filter((a) => a.outcome !== "completed").map((a) => ({ task: t.type, seq: t.seq, ...a })));
    throw new Error(`${k.name}: job ${id} ended ${job.status}: ${JSON.stringify(job.error)}\n${JSON.stringify(failed, null, 1).slice(0, 4000)}`);
  }
  return job;
}

const outputsOf = async (k: Kernel, id: string) => (await call<{ items: OutputView[] }>(k, `/v1/jobs/${id}/outputs`)).body.items;
const videoTasks = (j: JobView) => j.tasks.filter((t) => t.type === "video");
const seconds = (j: JobView) => (Date.parse(j.finished_at ?? "") - Date.parse(j.created_at)) / 1000;

// ---- the checks every completed job gets ------------------------------------------------------------

interface Expect {
  clip: ClipName;
  /** profile id → [width, height] of its output. */
  sizes: Record<string, [number, number]>;
  hls: boolean;
  thumbnails?: boolean;
  minVideoTasks?: number;
}

interface Checked {
  job: JobView;
  outputs: OutputView[];
  mp4: Record<string, string>;
}

async function checkCompletedJob(k: Kernel, id: string, e: Expect): Promise<Checked> {
  const src = facts[e.clip]!;
  const job = await waitCompleted(k, id);
  expect(job.progress).toBe(100);
  expect(job.error).toBeNull();
  const statuses = job.timeline.map((t) => t.status);
  expect(statuses[0]).toBe("queued");
  expect(statuses.at(-1)).toBe("completed");
  expect(statuses.indexOf("processing")).toBeGreaterThan(0);
  expect(statuses.indexOf("packaging")).toBeGreaterThan(statuses.indexOf("processing"));
  // Tasks: one analyze, N video chunks, audio only when the source has audio, one package; all done.
  expect(job.tasks.every((t) => t.status === "completed")).toBe(true);
  expect(job.tasks.filter((t) => t.type === "analyze")).toHaveLength(1);
  expect(job.tasks.filter((t) => t.type === "package")).toHaveLength(1);
  expect(job.tasks.filter((t) => t.type === "audio")).toHaveLength(src.has_audio ? 1 : 0);
  expect(videoTasks(job).length).toBeGreaterThanOrEqual(e.minVideoTasks ?? 1);

  const outputs = await outputsOf(k, id);
  const mp4: Record<string, string> = {};
  for (const o of outputs) {
    expect(o.storage_key.startsWith(`jobs/${id}/`)).toBe(true);
    expect(existsSync(join(k.storage, o.storage_key))).toBe(true);
    expect(o.url).toStartWith(k.base);
  }
  // Intermediate parts are gone; only outputs remain under jobs/<id>/.
  const stored = storedKeys(k, `jobs/${id}`);
  expect(stored.filter((key) => key.startsWith(`jobs/${id}/parts/`))).toEqual([]);
  expect(stored.length).toBeGreaterThan(0);

  const mp4s = outputs.filter((o) => o.kind === "mp4");
  expect(mp4s.map((o) => o.profile).sort()).toEqual(Object.keys(e.sizes).sort());
  for (const o of mp4s) {
    const { problems, info } = await checkMp4(o.url!, src);
    expect({ profile: o.profile, problems }).toEqual({ profile: o.profile, problems: [] });
    expect([info.video!.width, info.video!.height]).toEqual(e.sizes[o.profile!]!);
    expect([o.width, o.height]).toEqual(e.sizes[o.profile!]!);
    mp4[o.profile!] = o.url!;
  }

  const hls = outputs.filter((o) => o.kind === "hls");
  expect(hls).toHaveLength(e.hls ? 1 : 0);
  if (e.hls) {
    const report = await checkHls(hls[0]!.url!, src, { expectVariants: Object.keys(e.sizes).length });
    expect(report.problems).toEqual([]);
    const resolutions = report.variants.map((v) => v.attrs.RESOLUTION).sort();
    expect(resolutions).toEqual(Object.values(e.sizes).map(([w, h]) => `${w}x${h}`).sort());
    console.log(`[e2e] ${k.name}/${e.clip}: HLS segments [${report.variants[0]!.extinf.join(", ")}] s, keyframes [${report.variants[0]!.keyframes.map((t) => t.toFixed(3)).join(", ")}]`);
  }
  if (e.thumbnails) {
    const poster = outputs.find((o) => o.kind === "thumbnail");
    expect(poster).toBeDefined();
    const bytes = new Uint8Array(await (await fetch(poster!.url!)).arrayBuffer());
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]); // JPEG
  }
  console.log(`[e2e] ${k.name}/${e.clip}: completed in ${seconds(job).toFixed(1)} s, ${videoTasks(job).length} video task(s), outputs ${mp4s.map((o) => `${o.profile}=${o.width}x${o.height}`).join(" ")} (at ${since()})`);
  return { job, outputs, mp4 };
}

// ---- setup and teardown -----------------------------------------------------------------------------

let K1: Kernel;
let K2: Kernel;
let KD: Kernel;
const SPLIT = { CHUNK_MIN_DURATION: "2s", CHUNK_MAX_DURATION: "4s", SPLIT_MIN_DURATION: "4s" };

async function startDistributed(): Promise<Kernel> {
  const db = await createTestDatabase();
  dbs.push(db);
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  const k = await startKernel("kd", { DATABASE_URL: db.url, NATS_URL: natsUrl(), BUS_PREFIX: prefix, EMBEDDED_WORKER: "false", ...SPLIT }, { embedded: false });
  for (const id of ["w1", "w2"]) {
    const cwd = dir(id);
    // No DATA_DIR and no storage root: the workers get storage-fs's settings from the kernel over the bus.
    spawnProc([WORKER], { env: { NATS_URL: natsUrl(), BUS_PREFIX: prefix, WORKER_ID: id, WORKER_CONCURRENCY: "1", HEARTBEAT_INTERVAL: "1s", WORK_DIR: join(cwd, "work"), PLUGIN_DIR: join(cwd, "plugins"), LOG_LEVEL: "info", WORKER_METRICS_PORT: "0", OUTBOUND_ALLOW_CIDRS: "127.0.0.0/8,::1/128" }, cwd });
  }
  await waitWorkers(k, ["w1", "w2"]);
  return k;
}

beforeAll(async () => {
  KERNEL = binary("webencode-kernel");
  WORKER = binary("webencode-worker");
  const kernels = Promise.all([
    startKernel("k1", { ...SPLIT, WORKER_CONCURRENCY: "2" }, { embedded: true }),
    startKernel("k2", { SPLIT_MIN_DURATION: "60s", WORKER_CONCURRENCY: "2" }, { embedded: true }),
    startDistributed(),
  ]);
  await Promise.all(
    (Object.keys(CLIPS) as ClipName[]).map(async (name) => {
      clipPath[name] = await makeClip(clipsDir, name, CLIPS[name]);
      facts[name] = await sourceFacts(clipPath[name]!);
    }),
  );
  [K1, K2, KD] = await kernels;
  console.log(`[e2e] clips generated and 3 kernels + 2 workers up at ${since()}`);
}, 120_000);

afterAll(async () => {
  await killAllProcs();
  for (const s of servers) s.stop(true);
  for (const d of dbs) await d.drop().catch(() => {});
  for (const p of prefixes) await cleanupPrefix(natsUrl(), p).catch(() => {});
  rmSync(scratch, { recursive: true, force: true });
  console.log(`[e2e] pipeline.test.ts total ${since()}`);
}, 60_000);

test("the generated sources are what the cases need", () => {
  expect(facts.main).toMatchObject({ frames: 360, fps: 30, has_audio: true, display_width: 854, display_height: 480 });
  expect(facts.ntsc!.frames).toBe(192);
  expect(facts.ntsc!.fps).toBeCloseTo(24000 / 1001, 9);
  expect(facts.ntsc!.has_audio).toBe(false);
  expect(facts.odd).toMatchObject({ frames: 150, display_width: 643, display_height: 481 });
  expect(facts.portrait).toMatchObject({ frames: 180, display_width: 360, display_height: 640 });
  // The rotation tag took: a 640x360 picture that displays as 360x640.
  expect(facts.rotated).toMatchObject({ frames: 180, display_width: 360, display_height: 640 });
});

// ---- bad inputs and request validation (K2, while nothing else runs) -----------------------------

describe("bad inputs fail at once with WE-JOB-007, no retry, nothing in storage", () => {
  const hits: string[] = [];
  let notFoundUrl = "";

  beforeAll(() => {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        hits.push(new URL(req.url).pathname);
        return new Response("not here", { status: 404 });
      },
    });
    servers.push(server);
    notFoundUrl = `http://127.0.0.1:${server.port}/videos/missing.mp4`;
    const bytes = readFileSync(clipPath.main!);
    writeFileSync(join(scratch, "half.mp4"), bytes.subarray(0, Math.floor(bytes.length / 2)));
    writeFileSync(join(scratch, "text.mp4"), "This is not a video, just text with a .mp4 name.\n".repeat(20));
    writeFileSync(join(scratch, "empty.mp4"), "");
  });

  test("each bad source: failed within seconds, FFprobe's reason, one analyze attempt, no other task, no jobs/<id>/", async () => {
    // A faststart MP4 cut in half keeps its index: FFprobe reads it "fine", so only the packet count betrays it.
    const faststartHalf = join(scratch, "half-faststart.mp4");
    await makeClip(scratch, "fs", { ...CLIPS.portrait, faststart: true });
    const fs = readFileSync(join(scratch, "fs.mp4"));
    writeFileSync(faststartHalf, fs.subarray(0, Math.floor(fs.length / 2)));
    const cases = [
      { name: "404 URL", source: notFoundUrl, reason: /404/ },
      { name: "first half of an MP4 (moov at the end)", source: upload(K2, join(scratch, "half.mp4"), "uploads/half.mp4"), reason: /moov atom not found/ },
      { name: "first half of a faststart MP4", source: upload(K2, faststartHalf, "uploads/half-faststart.mp4"), reason: /truncated/ },
      { name: "text renamed .mp4", source: upload(K2, join(scratch, "text.mp4"), "uploads/text.mp4"), reason: /Invalid data found when processing input/ },
      { name: "zero-byte file", source: upload(K2, join(scratch, "empty.mp4"), "uploads/empty.mp4"), reason: /Invalid data found when processing input|moov atom not found/ },
    ];
    const ids = await Promise.all(cases.map((c) => submit(K2, { source_url: c.source, profiles: ["360p_h264"], outputs: ["mp4", "hls"] })));
    const jobs = await Promise.all(ids.map((id) => waitEnded(K2, id, 30_000)));
    for (const [i, job] of jobs.entries()) {
      const c = cases[i]!;
      const summary = { name: c.name, status: job.status, code: job.error?.code, message: job.error?.message };
      console.log(`[e2e] bad input "${c.name}": ${job.status} after ${seconds(job).toFixed(2)} s — ${job.error?.code}: ${job.error?.message}`);
      expect(summary).toMatchObject({ status: "failed", code: "WE-JOB-007" });
      expect(job.error!.message).toMatch(c.reason);
      expect(seconds(job)).toBeLessThan(30); // "no retry" is asserted below; this only bounds it
      // No retry: the analyze task ran exactly once, and nothing was planned after it.
      expect(job.tasks.map((t) => [t.type, t.status, t.attempts.length])).toEqual([["analyze", "failed", 1]]);
      expect(storedKeys(K2, `jobs/${job.id}`)).toEqual([]);
      expect(existsSync(join(K2.storage, "jobs", job.id))).toBe(false);
    }
    // The worker really asked the (loopback) server, once: no policy refusal, no retry. (Should an outbound
    // policy ever refuse loopback sources, serve this from a non-loopback address or allow it for tests.)
    expect(hits.filter((p) => p === "/videos/missing.mp4").length).toBeGreaterThanOrEqual(1);
    expect(hits.length).toBeLessThanOrEqual(2); // ffprobe's two runs at most (streams, keyframe index)
  }, 60_000);

  test("unknown profile → 400 WE-JOB-003; file:// and ftp:// → 400 WE-JOB-002; no job is created", async () => {
    const before = (await call<{ items: JobView[] }>(K2, "/v1/jobs?limit=200")).body.items.length;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ source_url: "uploads/text.mp4", profiles: ["999p_h264"] }, "WE-JOB-003"],
      [{ source_url: "uploads/text.mp4", profiles: ["360p_h264", "nope"] }, "WE-JOB-003"],
      [{ source_url: "file:///etc/passwd", profiles: ["360p_h264"] }, "WE-JOB-002"],
      [{ source_url: "ftp://example.com/video.mp4", profiles: ["360p_h264"] }, "WE-JOB-002"],
    ];
    for (const [body, code] of cases) {
      const r = await post<ErrorBody>(K2, "/v1/jobs", body);
      expect({ body, status: r.status, code: r.body.error?.code }).toEqual({ body, status: 400, code });
      expect(r.body.error.message.length).toBeGreaterThan(0);
      expect(r.body.error.request_id).toBeTruthy();
    }
    expect((await call<{ items: JobView[] }>(K2, "/v1/jobs?limit=200")).body.items.length).toBe(before);
  });

  test("Idempotency-Key: a repeat returns the same job (200, idempotent-replayed: true); one job exists", async () => {
    const marker = crypto.randomUUID();
    const body = { source_url: "uploads/empty.mp4", profiles: ["360p_h264"], metadata: { marker } };
    const key = `e2e-${marker}`;
    const first = await post<JobView>(K2, "/v1/jobs", body, { "idempotency-key": key });
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const again = await post<JobView>(K2, "/v1/jobs", body, { "idempotency-key": key });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.id).toBe(first.body.id);
    const all = (await call<{ items: JobView[] }>(K2, "/v1/jobs?limit=200")).body.items;
    expect(all.filter((j) => j.metadata?.marker === marker).map((j) => j.id)).toEqual([first.body.id]);
    await waitEnded(K2, first.body.id, 30_000);
  }, 60_000);
});

// ---- the generated clips, standalone and distributed -----------------------------------------------

describe("pipeline on generated clips (independent ffprobe checks)", () => {
  const ids: Record<string, string> = {};
  const checked: Record<string, Checked> = {};
  const LADDER = ["480p_h264", "360p_h264"];
  const both = { "480p_h264": [854, 480], "360p_h264": [640, 360] } as Record<string, [number, number]>;

  beforeAll(async () => {
    for (const k of [K1, K2, KD]) upload(k, clipPath.main!, "uploads/main.mp4");
    for (const name of ["ntsc", "odd", "portrait", "rotated"] as const) upload(K1, clipPath[name]!, `uploads/${name}.mp4`);
    const main = { source_url: "uploads/main.mp4", profiles: LADDER, outputs: ["mp4", "hls"], thumbnails: true };
    // Everything at once: the kernels share the two cores, and the jobs queue on each.
    [ids.k1main, ids.k2main, ids.kdmain, ids.ntsc, ids.odd, ids.portrait, ids.rotated] = await Promise.all([
      submit(K1, main),
      submit(K2, main),
      submit(KD, main),
      submit(K1, { source_url: "uploads/ntsc.mp4", profiles: LADDER, outputs: ["mp4", "hls"] }),
      submit(K1, { source_url: "uploads/odd.mp4", profiles: LADDER, outputs: ["mp4", "hls"] }),
      submit(K1, { source_url: "uploads/portrait.mp4", profiles: LADDER, outputs: ["mp4", "hls"] }),
      submit(K1, { source_url: "uploads/rotated.mp4", profiles: ["360p_h264"], outputs: ["mp4", "hls"] }),
    ]);
    console.log(`[e2e] 7 media jobs submitted at ${since()}`);
  }, 60_000);

  describe("standalone (K1: PGlite, in-process bus, embedded worker)", () => {
    test("30 fps with audio, 854x480 → 480p+360p MP4 and HLS, split into ≥2 chunks, poster", async () => {
      checked.k1main = await checkCompletedJob(K1, ids.k1main!, { clip: "main", sizes: both, hls: true, thumbnails: true, minVideoTasks: 2 });
    }, 300_000);

    test("23.976 fps without audio → outputs without an audio stream, frame-exact at 24000/1001", async () => {
      const c = await checkCompletedJob(K1, ids.ntsc!, { clip: "ntsc", sizes: both, hls: true, minVideoTasks: 2 });
      for (const url of Object.values(c.mp4)) {
        const info = await probe(url);
        expect(info.audio).toBeNull();
        expect(info.video!.fps).toBeCloseTo(24000 / 1001, 6);
      }
    }, 300_000);

    test("odd 4:3-ish source 643x481 (4:4:4) → 642x480 and 482x360: even, aspect kept, no borders", async () => {
      await checkCompletedJob(K1, ids.odd!, { clip: "odd", sizes: { "480p_h264": [642, 480], "360p_h264": [482, 360] }, hls: true });
    }, 300_000);

    test("portrait 360x640 → 360x640 (the profile height is the short side); 480p skipped", async () => {
      await checkCompletedJob(K1, ids.portrait!, { clip: "portrait", sizes: { "360p_h264": [360, 640] }, hls: true });
    }, 300_000);

    test("landscape 640x360 with a 90° rotation tag → upright 360x640 output without rotation metadata", async () => {
      const c = await checkCompletedJob(K1, ids.rotated!, { clip: "rotated", sizes: { "360p_h264": [360, 640] }, hls: true });
      // Turned the right way: FFmpeg's CLI shows the source as its display matrix says (autorotate), and the
      // output must look like that picture (a wrong turn or a stretch scores far below this).
      const s = await ssim(clipPath.rotated!, c.mp4["360p_h264"]!);
      console.log(`[e2e] SSIM rotated output vs the source as displayed: ${s}`);
      expect(s).toBeGreaterThanOrEqual(0.95);
    }, 300_000);
  });

  describe("split vs one chunk", () => {
    test("K2 (SPLIT_MIN_DURATION=60s) encodes the same clip as one chunk; outputs pass the same checks", async () => {
      checked.k2main = await checkCompletedJob(K2, ids.k2main!, { clip: "main", sizes: both, hls: true, thumbnails: true });
      expect(videoTasks(checked.k2main.job)).toHaveLength(1);
    }, 300_000);

    test("split (K1) and one-chunk (K2) outputs: same frames and duration, SSIM ≥ 0.99 per rendition", async () => {
      expect(videoTasks(checked.k1main!.job).length).toBeGreaterThanOrEqual(2);
      for (const profile of LADDER) {
        const [a, b] = [checked.k1main!.mp4[profile]!, checked.k2main!.mp4[profile]!];
        const [pa, pb] = await Promise.all([probe(a), probe(b)]);
        expect(pa.video!.frames).toBe(pb.video!.frames);
        expect(Math.abs(pa.video!.duration_s - pb.video!.duration_s)).toBeLessThanOrEqual(0.001);
        const s = await ssim(a, b);
        console.log(`[e2e] SSIM split(K1, ${videoTasks(checked.k1main!.job).length} chunks) vs one chunk, ${profile}: ${s}`);
        expect(s).toBeGreaterThanOrEqual(0.99);
      }
    }, 300_000);
  });

  describe("distributed (KD: PostgreSQL + NATS JetStream, two compiled workers)", () => {
    test("the job is split, its video tasks ran on both w1 and w2, outputs pass the same checks", async () => {
      checked.kdmain = await checkCompletedJob(KD, ids.kdmain!, { clip: "main", sizes: both, hls: true, thumbnails: true, minVideoTasks: 2 });
      const byWorker = videoTasks(checked.kdmain.job).map((t) => t.attempts.find((a) => a.outcome === "completed")?.worker_id);
      console.log(`[e2e] distributed video tasks by worker: ${byWorker.join(", ")}`);
      expect(new Set(byWorker)).toEqual(new Set(["w1", "w2"]));
      const all = checked.kdmain.job.tasks.flatMap((t) => t.attempts.map((a) => a.worker_id));
      expect(all.every((w) => w === "w1" || w === "w2")).toBe(true);
    }, 300_000);

    test("split across two workers vs one chunk: same frames and duration, SSIM ≥ 0.99 per rendition", async () => {
      for (const profile of LADDER) {
        const [a, b] = [checked.kdmain!.mp4[profile]!, checked.k2main!.mp4[profile]!];
        const [pa, pb] = await Promise.all([probe(a), probe(b)]);
        expect(pa.video!.frames).toBe(pb.video!.frames);
        expect(Math.abs(pa.video!.duration_s - pb.video!.duration_s)).toBeLessThanOrEqual(0.001);
        const s = await ssim(a, b);
        console.log(`[e2e] SSIM two workers vs one chunk, ${profile}: ${s}`);
        expect(s).toBeGreaterThanOrEqual(0.99);
      }
    }, 300_000);
  });

  // ---- job lifecycle API (K2) ---------------------------------------------------------------------

  describe("job lifecycle API", () => {
    test("list by status, logs with every attempt, cancel of a completed job → 409 WE-JOB-006", async () => {
      const id = ids.k2main!;
      const listed = (await call<{ items: JobView[] }>(K2, "/v1/jobs?status=completed&limit=200")).body.items;
      expect(listed.map((j) => j.id)).toContain(id);
      expect(listed.every((j) => j.status === "completed")).toBe(true);
      expect((await call<{ items: JobView[] }>(K2, "/v1/jobs?status=failed&limit=200")).body.items.map((j) => j.id)).not.toContain(id);

      const logs = (await call<{ attempts: Array<Attempt & { task_type: string; argv: string[] | null }> }>(K2, `/v1/jobs/${id}/logs`)).body;
      expect(logs.attempts.map((a) => a.task_type).sort()).toEqual(["analyze", "audio", "package", "video"]);
      for (const a of logs.attempts) {
        expect(a).toMatchObject({ attempt: 1, worker_id: "embedded", outcome: "completed" });
        expect("argv" in a).toBe(true);
      }

      const cancel = await post<ErrorBody>(K2, `/v1/jobs/${id}/cancel`, {});
      expect(cancel.status).toBe(409);
      expect(cancel.body.error.code).toBe("WE-JOB-006");
    });

    test("DELETE while running → 409 WE-JOB-010; cancelled, then deleted → 204", async () => {
      const id = await submit(K2, { source_url: "uploads/main.mp4", profiles: LADDER, outputs: ["mp4", "hls"] });
      await waitFor(async () => ["processing", "packaging"].includes((await getJob(K2, id)).status), 60_000, "the job to be processing", 50);
      const del = await call<ErrorBody>(K2, `/v1/jobs/${id}`, { method: "DELETE" });
      expect(del.status).toBe(409);
      expect(del.body.error.code).toBe("WE-JOB-010");
      const cancel = await post<JobView>(K2, `/v1/jobs/${id}/cancel`, {});
      expect(cancel.status).toBe(200);
      expect(cancel.body.status).toBe("cancelled");
      // A cancelled job keeps only its parts (a retry resumes from them, docs/operations.md); DELETE removes them too.
      await waitFor(() => storedKeys(K2, `jobs/${id}`).every((key) => key.startsWith(`jobs/${id}/parts/`)), 15_000, "the cancelled job's outputs to be removed", 50);
      expect((await call(K2, `/v1/jobs/${id}`, { method: "DELETE" })).status).toBe(204);
      expect(storedKeys(K2, `jobs/${id}`)).toEqual([]);
    }, 90_000);

    test("DELETE a completed job → 204, its outputs are gone from storage and its links stop working", async () => {
      const id = ids.k2main!;
      const outputs = await outputsOf(K2, id);
      expect(storedKeys(K2, `jobs/${id}`).length).toBeGreaterThan(0);
      const del = await call(K2, `/v1/jobs/${id}`, { method: "DELETE" });
      expect(del.status).toBe(204);
      expect(storedKeys(K2, `jobs/${id}`)).toEqual([]);
      const gone = await call<ErrorBody>(K2, `/v1/jobs/${id}`);
      expect(gone.status).toBe(404);
      expect(gone.body.error.code).toBe("WE-JOB-004");
      const mp4 = outputs.find((o) => o.kind === "mp4")!;
      expect((await fetch(mp4.url!)).status).toBe(404);
    });
  });
});
