/**
 * HLS from storage-s3, played by hls.js in headless Chromium against a real S3-compatible server (s3rver,
 * with a CORS rule like the one a bucket serving players needs). An HLS tree made by FFmpeg (master playlist,
 * a rendition playlist, fMP4 init segment and media segments) is stored through the plugin; its playback link
 * comes from the plugin's read_url, as the kernel asks for it (the master's key, the tree as scope_prefix).
 *
 * - Presigned (private bucket): every URI in the master and rendition playlists is an absolute URL with its
 *   own signature and the requested expiry, and the player fetches nothing from S3 without one. s3rver does
 *   not enforce signatures, so the "would be refused without" part is asserted on what the player requested.
 * - public_base_url (CDN / public-read bucket): plain URLs, the relative URIs resolve under the base.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { Subprocess } from "bun";
import * as v from "valibot";
import plugin from "../../plugins/storage-s3/plugin.ts";
import type { S3Storage } from "../../plugins/storage-s3/store.ts";
import type { PluginLog } from "../../src/plugin-runtime/sdk.ts";
import { launchBrowser } from "../helpers/browser.ts";
import { FFMPEG } from "../helpers/cluster.ts";
import { ROOT } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const BUCKET = "webencode-hls";
const quiet: PluginLog = { debug() {}, info() {}, warn() {}, error() {} };
const SESSION_S = 6 * 3600;

const scratch = mkdtempSync(join(tmpdir(), "we-hls-s3-"));
let s3rver: Subprocess<"ignore", "pipe", "pipe"> | undefined;
let endpoint = "";
let page: ReturnType<typeof Bun.serve> | undefined;
const tree = join(scratch, "tree");

async function startS3rver(): Promise<void> {
  const cors = join(scratch, "cors.xml");
  writeFileSync(cors, `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedHeader>*</AllowedHeader></CORSRule></CORSConfiguration>`);
  s3rver = Bun.spawn([join(ROOT, "node_modules/.bin/s3rver"), "-d", join(scratch, "s3"), "-a", "127.0.0.1", "-p", "0", "-s", "--configure-bucket", BUCKET, cors], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NODE_OPTIONS: "--openssl-legacy-provider" },
  });
  const reader = s3rver.stdout.getReader();
  const decoder = new TextDecoder();
  let out = "";
  const deadline = Date.now() + 20_000;
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += decoder.decode(value, { stream: true });
      const m = /listening on ([\d.]+):(\d+)/.exec(out);
      if (m) {
        endpoint = `http://${m[1]}:${m[2]}`;
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
  throw new Error(`s3rver did not start: ${out}`);
}

/** A 4 s HLS tree (fMP4, 1 s segments): master.m3u8 → v0/index.m3u8 → v0/init.mp4 + v0/seg_NNN.m4s. */
async function makeTree(): Promise<string[]> {
  const p = Bun.spawn(
    [
      FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
      "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4",
      "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4",
      "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k",
      "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
      "-master_pl_name", "master.m3u8", "-var_stream_map", "v:0,a:0",
      "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", join(tree, "v%v", "seg_%03d.m4s"), join(tree, "v%v", "index.m3u8"),
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  const err = await new Response(p.stderr).text();
  if ((await p.exited) !== 0) throw new Error(`ffmpeg: ${err}`);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(relative(tree, path));
    }
  };
  walk(tree);
  return files;
}

async function makeS3(overrides: Record<string, unknown> = {}): Promise<S3Storage> {
  const config = v.parse(plugin.config, { endpoint, bucket: BUCKET, prefix: `run-${randomUUID()}/`, force_path_style: true, access_key_id: "S3RVER", secret_access_key: "S3RVER", ...overrides });
  return plugin.create({ config, env: {}, log: quiet });
}

/** Stores the tree under `<job>/hls/` through the plugin; returns the master's key and the scope. */
async function storeTree(storage: S3Storage, files: string[]): Promise<{ master: string; scope: string }> {
  const scope = `jobs/${randomUUID()}/hls/`;
  for (const file of files) await storage.put_file({ key: `${scope}${file}`, path: join(tree, file) }, { signal: AbortSignal.timeout(30_000) } as never);
  return { master: `${scope}master.m3u8`, scope };
}

const uriLines = (text: string) => text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
const mapUris = (text: string) => [...text.matchAll(/URI="([^"]*)"/g)].map((m) => m[1]!);

/** Plays `url` with hls.js in Chromium (page served from another origin: CORS as in production); returns every URL it fetched. */
async function play(url: string): Promise<{ requested: string[]; currentTime: number }> {
  const browser = await launchBrowser();
  const requested: string[] = [];
  try {
    await browser.send("Network.enable");
    browser.on("Network.requestWillBeSent", (p: { request: { url: string } }) => requested.push(p.request.url));
    await browser.send("Runtime.enable");
    await browser.send("Page.navigate", { url: `http://127.0.0.1:${page!.port}/?src=${encodeURIComponent(url)}` });
    await waitFor(
      async () => (await browser.evaluate<number>(`(() => { if (window.playerError) throw new Error(window.playerError); const v = document.querySelector("video"); return v ? v.currentTime : 0; })()`)) > 1.5,
      60_000,
      "the video to play past 1.5 s",
      100,
    );
    const currentTime = await browser.evaluate<number>(`document.querySelector("video").currentTime`);
    return { requested, currentTime };
  } finally {
    await browser.close();
  }
}

let files: string[] = [];

beforeAll(async () => {
  await startS3rver();
  files = await makeTree();
  const hlsJs = await Bun.file(join(ROOT, "node_modules/hls.js/dist/hls.min.js")).text();
  const html = `<!doctype html><html><body><video muted playsinline width="320" height="240"></video><script src="/hls.js"></script><script>
    const video = document.querySelector("video");
    const hls = new Hls();
    hls.on(Hls.Events.ERROR, (_e, data) => { if (data.fatal) window.playerError = data.type + ": " + data.details; });
    hls.loadSource(new URLSearchParams(location.search).get("src"));
    hls.attachMedia(video);
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch((e) => { window.playerError = String(e); }));
  </script></body></html>`;
  page = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) =>
      new URL(request.url).pathname === "/hls.js"
        ? new Response(hlsJs, { headers: { "content-type": "text/javascript" } })
        : new Response(html, { headers: { "content-type": "text/html" } }),
  });
}, 60_000);

afterAll(async () => {
  page?.stop(true);
  if (s3rver) {
    s3rver.kill();
    await s3rver.exited;
  }
  rmSync(scratch, { recursive: true, force: true });
});

test("presigned (private bucket): every playlist reference is signed with the session's expiry, and hls.js plays it from S3", async () => {
  expect(files).toContain("master.m3u8");
  expect(files.some((f) => f.endsWith(".m4s"))).toBe(true);
  const storage = await makeS3();
  try {
    const { master, scope } = await storeTree(storage, files);
    const { url, expires_at } = await storage.read_url({ key: master, expires_in: SESSION_S, scope_prefix: scope });
    expect(Date.parse(expires_at) - Date.now()).toBeGreaterThan((SESSION_S - 60) * 1000);

    const signed = (u: string) => u.startsWith(`${endpoint}/`) && /[?&]X-Amz-Signature=[0-9a-f]{64}/.test(u) && new URL(u).searchParams.get("X-Amz-Expires") === String(SESSION_S);
    expect(signed(url)).toBe(true);
    const masterText = await (await fetch(url)).text();
    const renditions = [...uriLines(masterText), ...mapUris(masterText)];
    expect(renditions.length).toBeGreaterThan(0);
    expect(renditions.filter((u) => !signed(u))).toEqual([]);
    for (const rendition of renditions) {
      const text = await (await fetch(rendition)).text();
      const references = [...uriLines(text), ...mapUris(text)];
      expect(references.length).toBeGreaterThanOrEqual(5); // init + 4 one-second segments
      expect(references.filter((u) => !signed(u))).toEqual([]);
      // Each reference is the object it replaced: the segment bytes as stored.
      const first = references.find((u) => u.includes(".m4s"))!;
      const key = decodeURIComponent(new URL(first).pathname).split(`/${BUCKET}/`)[1]!;
      expect((await fetch(first)).status).toBe(200);
      expect(key.endsWith(".m4s")).toBe(true);
    }

    const { requested, currentTime } = await play(url);
    expect(currentTime).toBeGreaterThan(1.5);
    const fromS3 = requested.filter((u) => u.startsWith(endpoint));
    expect(fromS3.some((u) => u.includes(".m4s"))).toBe(true);
    expect(fromS3.filter((u) => !signed(u))).toEqual([]);
  } finally {
    await storage.close();
  }
}, 120_000);

test("public_base_url (CDN / public-read bucket): plain links under the base, relative URIs resolve, hls.js plays it", async () => {
  const storage = await makeS3({ public_base_url: `${endpoint}/${BUCKET}` });
  try {
    const { master, scope } = await storeTree(storage, files);
    const { url } = await storage.read_url({ key: master, expires_in: SESSION_S, scope_prefix: scope });
    expect(url).toStartWith(`${endpoint}/${BUCKET}/run-`);
    expect(url).toEndWith(`/${master}`);
    expect(url).not.toContain("X-Amz-");
    const { requested, currentTime } = await play(url);
    expect(currentTime).toBeGreaterThan(1.5);
    expect(requested.filter((u) => u.startsWith(endpoint) && u.includes(".m4s")).length).toBeGreaterThan(0);
  } finally {
    await storage.close();
  }
}, 120_000);
