/**
 * Live delivery over S3 (storage-s3 against s3rver, a real S3-compatible server started here): segments,
 * window.json and playlists are objects with no local path, so every read goes through get_file. FFmpeg's
 * HLS muxer pushes by PUT through a tiny HTTP server in front of delivery (the kernel's route is covered by
 * live-delivery.test.ts); the playlists, the discontinuity at a new epoch and the segments are read back.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import * as v from "valibot";
import plugin from "../../plugins/storage-s3/plugin.ts";
import type { S3Storage } from "../../plugins/storage-s3/store.ts";
import { createLogger } from "../../src/core/logger.ts";
import { LiveDelivery } from "../../src/kernel/live/delivery/index.ts";
import { parsePushedFile } from "../../src/kernel/live/delivery/playlist.ts";
import type { StorageCalls } from "../../src/kernel/live/delivery/store.ts";
import type { CallContext } from "../../src/plugin-runtime/pillars.ts";

const BUCKET = "live";
let s3rver: Subprocess<"ignore", "pipe", "pipe"> | undefined;
let s3Data = "";
let scratch = "";
let impl: S3Storage;
let server: ReturnType<typeof Bun.serve> | undefined;

/** Starts s3rver on port 0 and returns the endpoint it printed. */
async function startS3rver(): Promise<string> {
  s3Data = await mkdtemp(join(tmpdir(), "we-live-s3rver-"));
  s3rver = Bun.spawn([resolve(import.meta.dir, "../../node_modules/.bin/s3rver"), "-d", s3Data, "-a", "127.0.0.1", "-p", "0", "-s", "--configure-bucket", BUCKET], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NODE_OPTIONS: "--openssl-legacy-provider" },
  });
  let out = "";
  const reader = s3rver.stdout.getReader();
  const deadline = Date.now() + 20_000;
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
      const match = /listening on ([\d.]+):(\d+)/.exec(out);
      if (match) return `http://${match[1]}:${match[2]}`;
    }
  } finally {
    reader.releaseLock();
  }
  throw new Error(`s3rver did not start: ${out}`);
}

/** The plugin's methods called the way the plugin host would (one call context). */
function storageCalls(storage: S3Storage): StorageCalls {
  const context: CallContext = { signal: new AbortController().signal, progress() {} };
  const methods: Record<string, (params: never, context: CallContext) => Promise<unknown>> = {
    put_file: (params) => storage.put_file(params, context),
    get_file: (params) => storage.get_file(params, context),
    stat: (params) => storage.stat(params),
    delete: (params) => storage.delete(params),
    delete_prefix: (params) => storage.delete_prefix(params),
    local_path: (params) => storage.local_path(params),
  };
  return {
    async call<T>(method: string, params?: unknown): Promise<T> {
      const run = methods[method];
      if (!run) throw new Error(`unexpected storage call ${method}`);
      return (await run(params as never, context)) as T;
    },
  };
}

const SESSION = randomUUID();
const STREAM = "s3-stream";
const RUNG = { name: "240p", width: 320, height: 240, videoKbps: 300 };
let delivery: LiveDelivery;

beforeAll(async () => {
  const endpoint = await startS3rver();
  scratch = await mkdtemp(join(tmpdir(), "we-live-s3-"));
  const config = v.parse(plugin.config, { endpoint, bucket: BUCKET, prefix: `run-${randomUUID()}/`, force_path_style: true, access_key_id: "S3RVER", secret_access_key: "S3RVER" });
  impl = await plugin.create({ config, env: {}, log: { debug() {}, info() {}, warn() {}, error() {} } as never });
  const storage = storageCalls(impl);
  delivery = new LiveDelivery({
    storage: async () => storage,
    directory: { sessionOf: async () => null, playbackOf: async (streamId) => (streamId === STREAM ? { sessionId: SESSION, signed: false, ended: false } : null) },
    secrets: { macMatches: () => false },
    logger: createLogger("test", "silent"),
    tmpDir: join(scratch, "tmp"),
  }, { windowSize: 3, retainExtra: 1 });
  delivery.startSession({ sessionId: SESSION, streamId: STREAM, rungs: [RUNG], audioKbps: 64 });
  // What the kernel's PUT route does, minus the token (live-delivery.test.ts covers the route itself).
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const [, , , session, rung, file] = new URL(request.url).pathname.split("/");
      const pushed = parsePushedFile(file ?? "");
      if (!pushed || !request.body || request.method !== "PUT") return new Response(null, { status: 400 });
      if (pushed.kind === "segment") await delivery.receiveSegment(session!, rung!, file!, request.body);
      else await delivery.receivePlaylist(session!, rung!, pushed.epoch, request.body);
      return new Response(null, { status: 204 });
    },
  });
}, 30_000);

afterAll(async () => {
  server?.stop(true);
  delivery?.close();
  await impl?.close();
  s3rver?.kill();
  await s3rver?.exited;
  await rm(s3Data, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

async function push(epoch: number, seconds: number): Promise<void> {
  const base = `http://127.0.0.1:${server!.port}/internal/live/${SESSION}/${RUNG.name}`;
  const ffmpeg = Bun.spawn(
    [
      ...["ffmpeg", "-v", "error", "-nostdin", "-re", "-f", "lavfi", "-i", `testsrc2=size=320x240:rate=25:duration=${seconds}`, "-f", "lavfi", "-i", `sine=duration=${seconds}`],
      ...["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-b:v", "300k", "-c:a", "aac", "-b:a", "64k"],
      ...["-f", "hls", "-hls_time", "1", "-hls_list_size", "4", "-method", "PUT", "-hls_segment_filename", `${base}/e${epoch}_%d.ts`, `${base}/e${epoch}.m3u8`],
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  expect({ code: await ffmpeg.exited, stderr: (await new Response(ffmpeg.stderr).text()).trim() }).toEqual({ code: 0, stderr: "" });
  // FFmpeg does not wait for the answer to its last PUT.
  const until = Date.now() + 10_000;
  while (delivery.busy() && Date.now() < until) await Bun.sleep(50);
}

const viewer = { token: null, clientIp: "127.0.0.1", userAgent: "test" };
const text = (body: Uint8Array | string) => (typeof body === "string" ? body : new TextDecoder().decode(body));

test("over S3: the window, the master once ready, a discontinuity at the new epoch, segments read back", async () => {
  await push(1, 5);
  expect(delivery.segmentsReady(SESSION)).toBe(true);
  expect(text((await delivery.master(STREAM, viewer)).body)).toContain("240p/index.m3u8");
  // Another kernel on the same storage (it took none of the PUTs) learns readiness from storage.
  const other = new LiveDelivery({ storage: async () => storageCalls(impl), directory: { sessionOf: async () => null, playbackOf: async () => null }, secrets: { macMatches: () => false }, logger: createLogger("test", "silent"), tmpDir: join(scratch, "tmp2") });
  const heard: string[] = [];
  other.onSegmentsReady((sessionId) => heard.push(sessionId));
  expect(other.segmentsReady(SESSION)).toBe(false);
  const until = Date.now() + 10_000;
  while (!other.segmentsReady(SESSION) && Date.now() < until) await Bun.sleep(100);
  expect(other.segmentsReady(SESSION)).toBe(true);
  expect(heard).toEqual([SESSION]);
  expect(other.segmentsReady(randomUUID())).toBe(false);
  await push(2, 3);
  const playlist = text((await delivery.mediaPlaylist(STREAM, RUNG.name, viewer)).body);
  const uris = playlist.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
  expect(uris.length).toBe(3);
  expect(playlist.match(/#EXT-X-DISCONTINUITY\n/g)?.length).toBe(1);
  expect(uris.at(-1)).toMatch(new RegExp(`^${SESSION}_e2_\\d+\\.ts$`));
  const segment = await delivery.segment(STREAM, RUNG.name, uris.at(-1)!, viewer);
  expect(segment.contentType).toBe("video/mp2t");
  // An MPEG-TS segment: packets of 188 bytes starting with the sync byte.
  const bytes = segment.body as Uint8Array;
  expect(bytes.length % 188).toBe(0);
  expect(bytes[0]).toBe(0x47);
  // Old segments left storage (a window of 3, one more kept): the first ones are gone, the retained one is not.
  await expect(impl.stat({ key: `live/${SESSION}/${RUNG.name}/e1_0.ts` })).rejects.toMatchObject({ code: "WE-STO-001" });
  const kept = (await impl.list({ prefix: `live/${SESSION}/${RUNG.name}/` })).items.filter((item) => item.key.endsWith(".ts"));
  expect(kept.length).toBe(4);
  await delivery.endSession(SESSION);
  expect(text((await delivery.mediaPlaylist(STREAM, RUNG.name, viewer)).body).trimEnd().endsWith("#EXT-X-ENDLIST")).toBe(true);
}, 60_000);
