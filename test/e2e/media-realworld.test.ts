/**
 * Real-world sources (issue 14, first part) end to end through the COMPILED kernel with its embedded worker
 * and FFmpeg, on the corpus of test/fixtures/media-corpus.ts (4 s clips made with `-f lavfi`):
 * - KS splits everything it can (chunks of 1–2 s from 2 s on), K1 never splits (SPLIT_MIN_DURATION=60s):
 *   each case runs on both, and the two outputs must have the same frames, the same timestamps and look
 *   the same (SSIM ≥ 0.99).
 * - Every output is checked with the system's ffprobe, never with the pipeline's own verifier: frame
 *   count and frame timestamps against the source's, video duration on timestamps, each audio track's end
 *   relative to the first video frame against the source's same track, track count, languages, titles and
 *   the default flag; for several tracks the HLS master's alternate audio renditions.
 * - Other containers (WebM, AVI, MOV, FLV, MPEG-TS) are transcoded; audio-only files (MP3, WAV) fail at
 *   once with WE-JOB-007 saying there is no video, not that the container is refused.
 * - The picture (issue 14, second part): an interlaced source comes out progressive (FFmpeg's idet finds
 *   combing in the source and none in the outputs), HDR10 and HLG come out tone-mapped and tagged BT.709,
 *   an anamorphic odd-sized source smaller than the ladder gets one square-pixel even rendition and the
 *   job names the rungs it skipped, a one-frame video is one frame, a codec FFmpeg does not know fails
 *   with WE-JOB-007 naming it.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { launchBrowser } from "../helpers/browser.ts";
import { ssim } from "../helpers/media.ts";
import { call, cleanUpAfterAll, type MediaKernel, startSplitAndOnePiece, upload, waitJobEnded } from "../helpers/media-kernel.ts";
import { runProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";
import { CORPUS, type CorpusName, makeCorpusClip } from "../fixtures/media-corpus.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-media-"));
const corpusDir = join(scratch, "corpus");
const FFPROBE = process.env.FFPROBE_PATH ?? "ffprobe";
/** Samples per frame of the audio codecs in the corpus (PCM: exact). */
const FRAME_SAMPLES: Record<string, number> = { aac: 1024, mp3: 1152, opus: 960 };
/** One frame of `codec` at `rate` (Opus counts at 48 kHz). */
const frameOf = (a: { codec: string; sample_rate: number }) => (FRAME_SAMPLES[a.codec] ?? 0) / (a.codec === "opus" ? 48000 : a.sample_rate);

// ---- kernels ----------------------------------------------------------------------------------------

interface JobView {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  tasks: Array<{ type: string; seq: number; status: string }>;
}
interface OutputView {
  kind: string;
  profile: string | null;
  storage_key: string;
}

/** Puts the clip into the kernel's storage (what an upload does) and submits a job for it. */
async function submit(k: MediaKernel, clip: string, body: Record<string, unknown> = {}): Promise<string> {
  const key = upload(k, clip);
  const r = await call<JobView>(k, "/v1/jobs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ source_url: key, profiles: ["360p_h264"], outputs: ["mp4", "hls"], ...body }),
  });
  if (r.status !== 201) throw new Error(`${k.name}: POST /v1/jobs → ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

interface Done {
  job: JobView;
  mp4: string;
  /** "" when the job asked for MP4 only. */
  hlsMaster: string;
}

async function runJob(k: MediaKernel, clip: string, body: Record<string, unknown> = {}): Promise<Done> {
  const job = await waitJobEnded<JobView>(k, await submit(k, clip, body));
  if (job.status !== "completed") throw new Error(`${k.name}: job ended ${job.status}: ${JSON.stringify(job.error)}`);
  const outputs = (await call<{ items: OutputView[] }>(k, `/v1/jobs/${job.id}/outputs`)).body.items;
  const mp4 = outputs.find((o) => o.kind === "mp4");
  const hls = outputs.find((o) => o.kind === "hls");
  const wantHls = ((body.outputs as string[] | undefined) ?? ["hls"]).includes("hls");
  if (!mp4 || (wantHls && !hls)) throw new Error(`${k.name}: outputs ${JSON.stringify(outputs)}`);
  return { job, mp4: join(k.storage, mp4.storage_key), hlsMaster: hls ? join(k.storage, hls.storage_key) : "" };
}

const videoTaskCount = (j: JobView) => j.tasks.filter((t) => t.type === "video").length;
const audioTaskCount = (j: JobView) => j.tasks.filter((t) => t.type === "audio").length;

// ---- independent ffprobe facts ----------------------------------------------------------------------

interface AudioFacts {
  start_s: number;
  /** Where it ends relative to the first video frame. */
  end_s: number | null;
  language: string;
  title: string | null;
  default: boolean;
  channels: number;
  sample_rate: number;
  codec: string;
}
interface Facts {
  /** Video frame pts relative to the first frame, presentation order. */
  pts: number[];
  start_s: number;
  /** Last pts + last interval − first pts. */
  duration_s: number;
  maxInterval: number;
  audio: AudioFacts[];
}

async function ffprobeJson(args: string[]): Promise<Record<string, unknown>> {
  const r = await runProc([FFPROBE, "-v", "error", "-of", "json", ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ffprobe ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

async function facts(path: string): Promise<Facts> {
  const packets = (await ffprobeJson(["-select_streams", "v:0", "-show_entries", "packet=pts_time", path])).packets as Array<{ pts_time?: string }>;
  const abs = packets.map((p) => Number(p.pts_time)).filter(Number.isFinite).sort((a, b) => a - b);
  const start = abs[0]!;
  const intervals = abs.slice(1).map((x, i) => x - abs[i]!);
  const duration = abs.at(-1)! + (intervals.at(-1) ?? 0) - start;
  const streams = (await ffprobeJson(["-show_streams", path])).streams as Array<Record<string, unknown>>;
  const audio = streams
    .filter((s) => s.codec_type === "audio")
    .map((s) => {
      const tags = (s.tags ?? {}) as Record<string, string>;
      const astart = Number(s.start_time ?? 0);
      // Matroska: a DURATION tag that is the stream's end time; MP4: a stream duration.
      const tagEnd = /^(\d+):(\d+):([\d.]+)$/.exec(tags.DURATION ?? "");
      const end = s.duration !== undefined ? astart + Number(s.duration) : tagEnd ? Number(tagEnd[1]) * 3600 + Number(tagEnd[2]) * 60 + Number(tagEnd[3]) : null;
      return {
        start_s: astart - start,
        end_s: end === null ? null : end - start,
        language: tags.language ?? "und",
        // MP4 names a track in its handler (hdlr) name; FFmpeg's default one is no title.
        title: tags.title ?? (tags.handler_name && tags.handler_name !== "SoundHandler" ? tags.handler_name : null),
        default: (s.disposition as Record<string, number>).default === 1,
        channels: Number(s.channels),
        sample_rate: Number(s.sample_rate),
        codec: String(s.codec_name),
      };
    });
  return { pts: abs.map((x) => x - start), start_s: start, duration_s: duration, maxInterval: Math.max(...intervals, 0), audio };
}

/** Every output frame at the source frame's time (relative to the first frame), within 1 ms. */
function timingProblems(out: Facts, src: Facts): string[] {
  const problems: string[] = [];
  if (out.pts.length !== src.pts.length) problems.push(`output has ${out.pts.length} frames, source ${src.pts.length}`);
  const bad = out.pts.findIndex((t, i) => Math.abs(t - (src.pts[i] ?? Number.NaN)) > 0.001);
  if (bad >= 0) problems.push(`frame ${bad} at ${out.pts[bad]} s, source frame at ${src.pts[bad]} s`);
  if (Math.abs(out.duration_s - src.duration_s) > src.maxInterval + 1e-6) problems.push(`video lasts ${out.duration_s} s, source ${src.duration_s} s`);
  return problems;
}

/**
 * Each source track ends where it ended relative to the first video frame, within one frame of the output
 * codec (its padded last frame) + one frame of the source's (containers state ends to a frame) + 1 ms; and
 * starts with the video (late source audio is padded with silence).
 */
function audioProblems(out: Facts, src: Facts): string[] {
  const problems: string[] = [];
  if (out.audio.length !== src.audio.length) problems.push(`output has ${out.audio.length} audio tracks, source ${src.audio.length}`);
  out.audio.forEach((a, i) => {
    const s = src.audio[i];
    const want = s?.end_s ?? null;
    const slack = frameOf(a) + (s ? frameOf(s) : 0) + 0.001;
    if (want !== null && (a.end_s === null || Math.abs(a.end_s - want) > slack)) problems.push(`audio ${i} ends at ${a.end_s} s, source's at ${want} s (allowed ${slack} s)`);
    if (Math.abs(a.start_s) > 0.001) problems.push(`audio ${i} starts at ${a.start_s} s (late source audio is padded with silence to start with the video)`);
  });
  return problems;
}

// ---- setup ------------------------------------------------------------------------------------------

let KS: MediaKernel;
let K1: MediaKernel;
const clips: Partial<Record<CorpusName, string>> = {};
const src: Partial<Record<CorpusName, Facts>> = {};

beforeAll(async () => {
  const kernels = startSplitAndOnePiece(scratch);
  for (const name of Object.keys(CORPUS) as CorpusName[]) {
    clips[name] = await makeCorpusClip(corpusDir, name);
    if (!name.startsWith("audio_") && name !== "unknown_codec") src[name] = await facts(clips[name]!);
  }
  [KS, K1] = await kernels;
}, 420_000);

cleanUpAfterAll(scratch);

/** Runs a clip split (KS) and in one piece (K1), checks what both have in common, returns both. */
async function bothWays(name: CorpusName, body: Record<string, unknown> = {}): Promise<{ split: Done; whole: Done; fs: Facts; fw: Facts }> {
  const [split, whole] = await Promise.all([runJob(KS, clips[name]!, body), runJob(K1, clips[name]!, body)]);
  expect(videoTaskCount(split.job)).toBeGreaterThan(1);
  expect(videoTaskCount(whole.job)).toBe(1);
  const [fs, fw] = await Promise.all([facts(split.mp4), facts(whole.mp4)]);
  // Split and one-piece: the same frames at the same times, the same picture.
  expect(timingProblems(fs, fw)).toEqual([]);
  expect(await ssim(split.mp4, whole.mp4)).toBeGreaterThanOrEqual(0.99);
  return { split, whole, fs, fw };
}

// ---- cases ------------------------------------------------------------------------------------------

describe("variable frame rate", () => {
  test("the corpus clip is variable-rate: 48 frames at 24 fps then 60 at 30 fps over 4 s", () => {
    const f = src.vfr!;
    expect(f.pts.length).toBe(108);
    expect(f.duration_s).toBeCloseTo(4, 5);
    expect(f.pts[47]! - f.pts[46]!).toBeCloseTo(1 / 24, 5);
    expect(f.pts[100]! - f.pts[99]!).toBeCloseTo(1 / 30, 5);
  });

  test("split and one-piece keep every frame at its source time; the duration is the timestamps' (4 s, not frames ÷ average rate)", async () => {
    const { fs, fw } = await bothWays("vfr");
    for (const out of [fs, fw]) {
      expect(timingProblems(out, src.vfr!)).toEqual([]);
      expect(audioProblems(out, src.vfr!)).toEqual([]);
    }
  }, 300_000);
});

describe("audio and video of different lengths and start times", () => {
  test("audio starting 0.3 s late and ending 0.2 s after the video keeps both offsets", async () => {
    const f = src.late_audio!;
    expect(f.audio[0]!.start_s).toBeGreaterThan(0.25);
    expect(f.audio[0]!.end_s!).toBeGreaterThan(f.duration_s + 0.15);
    const { fs, fw } = await bothWays("late_audio");
    for (const out of [fs, fw]) {
      expect(timingProblems(out, f)).toEqual([]);
      expect(audioProblems(out, f)).toEqual([]);
    }
  }, 300_000);

  test("an MP4 without edit lists (video starting at its B-frame delay) keeps the audio that plays with the video", async () => {
    const f = src.no_editlist!;
    expect(f.start_s).toBeGreaterThan(0.05);
    expect(f.audio[0]!.start_s).toBeLessThan(-0.05);
    const { fs, fw } = await bothWays("no_editlist");
    for (const out of [fs, fw]) {
      expect(timingProblems(out, f)).toEqual([]);
      expect(audioProblems(out, f)).toEqual([]);
    }
  }, 300_000);

  test("Matroska with audio 40 ms longer than its video and a late-starting video completes with that difference", async () => {
    const f = src.mkv_long_audio!;
    expect(f.audio[0]!.end_s! - f.duration_s).toBeGreaterThan(0.03);
    const { fs, fw } = await bothWays("mkv_long_audio");
    for (const out of [fs, fw]) {
      expect(timingProblems(out, f)).toEqual([]);
      // Audio before the first video frame is cut: the output track starts at 0 and ends where the source's did.
      expect(audioProblems(out, f)).toEqual([]);
    }
  }, 300_000);
});

describe("several audio tracks", () => {
  let split: Done;
  let whole: Done;
  let fs: Facts;
  test("MP4 carries all four, with languages, titles and the source's default; each track is encoded once", async () => {
    ({ split, whole, fs } = await bothWays("multi_audio"));
    const f = src.multi_audio!;
    for (const out of [fs, await facts(whole.mp4)]) {
      expect(out.audio.map((a) => [a.language, a.title, a.default])).toEqual([
        ["eng", "English", false],
        ["fra", "Français", true],
        ["deu", "Kommentar", false],
        ["ita", "Italiano", false],
      ]);
      // The built-in profile is stereo at 48 kHz: 5.1 downmixed, mono spread, 8/22.05/44.1 kHz resampled.
      expect(out.audio.map((a) => [a.channels, a.sample_rate])).toEqual([[2, 48000], [2, 48000], [2, 48000], [2, 48000]]);
      expect(audioProblems(out, f)).toEqual([]);
    }
    // One audio task per track for the whole job, however many chunks.
    expect([audioTaskCount(split.job), audioTaskCount(whole.job)]).toEqual([4, 4]);
  }, 300_000);

  test("HLS offers them as alternate audio renditions of one group, the video variants without audio", async () => {
    const master = readFileSync(split.hlsMaster, "utf8");
    const media = master.split("\n").filter((l) => l.startsWith("#EXT-X-MEDIA:"));
    expect(media).toHaveLength(4);
    const attrs = media.map((l) => Object.fromEntries([...l.matchAll(/([A-Z-]+)=("[^"]*"|[^,]*)/g)].map((m) => [m[1], m[2]!.replace(/^"|"$/g, "")])));
    expect(attrs.map((a) => [a.TYPE, a["GROUP-ID"], a.LANGUAGE, a.NAME, a.DEFAULT])).toEqual([
      ["AUDIO", "audio0", "en", "English", "NO"],
      ["AUDIO", "audio0", "fr", "Français", "YES"],
      ["AUDIO", "audio0", "de", "Kommentar", "NO"],
      ["AUDIO", "audio0", "it", "Italiano", "NO"],
    ]);
    const inf = master.split("\n").find((l) => l.startsWith("#EXT-X-STREAM-INF:"))!;
    expect(inf).toContain('AUDIO="audio0"');
    expect(inf).toMatch(/CODECS="avc1\.[0-9a-f]+,mp4a\.40\.2"/);
    const root = dirname(split.hlsMaster);
    // Each audio playlist's segments hold that track only; the variant's hold video only.
    for (const a of attrs) {
      const playlist = join(root, a.URI!);
      expect(existsSync(playlist)).toBe(true);
      const seg = readFileSync(playlist, "utf8").split("\n").find((l) => l.endsWith(".ts"))!;
      const streams = (await ffprobeJson(["-show_streams", join(dirname(playlist), seg)])).streams as Array<{ codec_type: string }>;
      expect(streams.map((s) => s.codec_type)).toEqual(["audio"]);
    }
    const variant = join(root, master.split("\n")[master.split("\n").indexOf(inf) + 1]!);
    const vseg = readFileSync(variant, "utf8").split("\n").find((l) => l.endsWith(".ts"))!;
    const vstreams = (await ffprobeJson(["-show_streams", join(dirname(variant), vseg)])).streams as Array<{ codec_type: string }>;
    expect(vstreams.map((s) => s.codec_type)).toEqual(["video"]);
  });

  test("hls.js in headless Chromium plays the HLS output, lists the four audio tracks and switches to another", async () => {
    const root = dirname(split.hlsMaster);
    const page = `<!doctype html><video id="v" muted playsinline></video><script src="/hls.min.js"></script>`;
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(request) {
        const path = decodeURIComponent(new URL(request.url).pathname);
        if (path === "/") return new Response(page, { headers: { "content-type": "text/html" } });
        if (path === "/hls.min.js") return new Response(Bun.file(join(import.meta.dir, "../../node_modules/hls.js/dist/hls.min.js")));
        const file = join(root, path.replace(/^\/media\//, ""));
        if (!path.startsWith("/media/") || path.includes("..") || !existsSync(file)) return new Response("not found", { status: 404 });
        return new Response(Bun.file(file));
      },
    });
    const browser = await launchBrowser();
    try {
      await browser.send("Page.navigate", { url: `http://127.0.0.1:${server.port}/` });
      await waitFor(() => browser.evaluate<boolean>("typeof Hls === 'function' && Hls.isSupported()").catch(() => false), 30_000, "hls.js loaded and supported", 100);
      // Plays the master, then switches to the third track once playback has started; reports what it saw.
      const seen = await browser.evaluate<{ tracks: Array<{ name: string; lang: string; default: boolean }>; switched: number; timeAfterSwitch: number; error: string | null }>(`new Promise((resolve) => {
        const video = document.getElementById("v");
        const hls = new Hls();
        const result = { tracks: [], switched: -1, timeAfterSwitch: 0, error: null };
        const done = () => resolve({ ...result, tracks: hls.audioTracks.map((t) => ({ name: t.name, lang: t.lang, default: t.default })) });
        const stop = setTimeout(() => { result.error = result.error ?? "timed out at " + video.currentTime; done(); }, 60000);
        hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) { result.error = data.type + ": " + data.details; clearTimeout(stop); done(); } });
        hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
        hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, (_, data) => {
          if (data.id !== 2) return;
          result.switched = data.id;
          const at = video.currentTime;
          const check = setInterval(() => { if (video.currentTime > at + 0.3) { clearInterval(check); clearTimeout(stop); result.timeAfterSwitch = video.currentTime; done(); } }, 50);
        });
        video.addEventListener("timeupdate", function once() {
          if (video.currentTime < 0.3) return;
          video.removeEventListener("timeupdate", once);
          hls.audioTrack = 2;
        });
        hls.loadSource("/media/${basename(split.hlsMaster)}");
        hls.attachMedia(video);
      })`);
      expect(seen.error).toBeNull();
      expect(seen.tracks).toEqual([
        { name: "English", lang: "en", default: false },
        { name: "Français", lang: "fr", default: true },
        { name: "Kommentar", lang: "de", default: false },
        { name: "Italiano", lang: "it", default: false },
      ]);
      expect(seen.switched).toBe(2);
      expect(seen.timeAfterSwitch).toBeGreaterThan(0.6);
    } finally {
      await browser.close();
      server.stop(true);
    }
  }, 120_000);

  test("audio_tracks selects tracks by language or index; a track the source lacks fails the job naming what it has", async () => {
    const picked = await runJob(KS, clips.multi_audio!, { audio_tracks: ["deu", 3], outputs: ["mp4"] });
    const f = await facts(picked.mp4);
    // The source's default (fra) is not selected: the first selected track becomes the default.
    expect(f.audio.map((a) => [a.language, a.default])).toEqual([
      ["deu", true],
      ["ita", false],
    ]);
    expect(audioTaskCount(picked.job)).toBe(2);
    const malformed = await call<{ error: { code: string; message: string } }>(KS, "/v1/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ source_url: "uploads/multi-audio.mkv", profiles: ["360p_h264"], audio_tracks: [-1] }),
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe("WE-JOB-001");
    expect(malformed.body.error.message).toContain("audio_tracks");
    const bad = await waitJobEnded<JobView>(KS, await submit(KS, clips.multi_audio!, { audio_tracks: ["jpn"] }));
    expect(bad.status).toBe("failed");
    expect(bad.error?.code).toBe("WE-JOB-007");
    expect(bad.error?.message).toContain('audio_tracks names "jpn", which the source does not have');
    expect(bad.error?.message).toContain('1 (fra, "Français")');
  }, 300_000);
});

describe("containers", () => {
  for (const name of ["webm", "avi", "mov", "flv", "mpegts"] as const) {
    test(`${CORPUS[name].what}: transcoded frame for frame, split into chunks`, async () => {
      const done = await runJob(KS, clips[name]!);
      expect(videoTaskCount(done.job)).toBeGreaterThan(1);
      const out = await facts(done.mp4);
      expect(timingProblems(out, src[name]!)).toEqual([]);
      expect(audioProblems(out, src[name]!)).toEqual([]);
    }, 300_000);
  }

  for (const name of ["audio_mp3", "audio_wav"] as const) {
    test(`${CORPUS[name].what}: refused at analysis with WE-JOB-007 (no video), not as an unknown container`, async () => {
      const job = await waitJobEnded<JobView>(KS, await submit(KS, clips[name]!));
      expect(job.status).toBe("failed");
      expect(job.error?.code).toBe("WE-JOB-007");
      expect(job.error?.message).toContain("audio but no video stream");
      expect(job.error?.message).not.toContain("not accepted");
      expect(job.tasks.map((t) => t.type)).toEqual(["analyze"]);
    }, 120_000);
  }
});

// ---- the picture: interlaced, HDR, geometry, edge cases (issue 14, second part) ---------------------

interface PictureFacts {
  width: number;
  height: number;
  sar: string;
  pix_fmt: string;
  field_order: string;
  color: [string, string, string, string];
  frames: number;
}

/** The first video stream's picture as ffprobe states it (frames counted from packets). */
async function picture(path: string): Promise<PictureFacts> {
  const s = ((await ffprobeJson(["-select_streams", "v:0", "-count_packets", "-show_streams", path])).streams as Array<Record<string, string | number>>)[0]!;
  const said = (x: unknown) => (x === undefined ? "unknown" : String(x));
  return {
    width: Number(s.width),
    height: Number(s.height),
    sar: said(s.sample_aspect_ratio),
    pix_fmt: said(s.pix_fmt),
    field_order: said(s.field_order),
    color: [said(s.color_primaries), said(s.color_transfer), said(s.color_space), said(s.color_range)],
    frames: Number(s.nb_read_packets),
  };
}

/** FFmpeg's idet over the whole video: frames it judges interlaced (top or bottom first) and progressive. */
async function combing(path: string): Promise<{ interlaced: number; progressive: number }> {
  const r = await runProc(["ffmpeg", "-hide_banner", "-nostdin", "-i", path, "-an", "-vf", "idet", "-f", "null", "-"], { timeoutMs: 120_000 });
  const m = /Multi frame detection: TFF:\s*(\d+) BFF:\s*(\d+) Progressive:\s*(\d+)/.exec(r.stderr);
  if (r.code !== 0 || !m) throw new Error(`idet on ${path} failed: ${r.stderr.slice(-1500)}`);
  return { interlaced: Number(m[1]) + Number(m[2]), progressive: Number(m[3]) };
}

/** The first segment of the first variant of an HLS master. */
function firstSegment(master: string): string {
  const lines = readFileSync(master, "utf8").split("\n");
  const variant = join(dirname(master), lines[lines.findIndex((l) => l.startsWith("#EXT-X-STREAM-INF:")) + 1]!);
  const segment = readFileSync(variant, "utf8").split("\n").find((l) => l.endsWith(".ts") || l.endsWith(".m4s"))!;
  return join(dirname(variant), segment);
}

const BT709: PictureFacts["color"] = ["bt709", "bt709", "bt709", "tv"];

describe("the picture", () => {
  test("interlaced 25i (tt) with 5.1: deinterlaced one frame per frame, progressive, 5.1 downmixed; split = one piece", async () => {
    const f = src.interlaced_51!;
    expect((await picture(clips.interlaced_51!)).field_order).toBe("tt");
    const source = await combing(clips.interlaced_51!);
    expect(source.interlaced).toBeGreaterThan(source.progressive);
    const { split, whole, fs, fw } = await bothWays("interlaced_51");
    for (const [done, out] of [[split, fs], [whole, fw]] as const) {
      expect(timingProblems(out, f)).toEqual([]);
      expect(audioProblems(out, f)).toEqual([]);
      expect(out.audio.map((a) => a.channels)).toEqual([2]);
      const p = await picture(done.mp4);
      expect(p.frames).toBe(f.pts.length);
      expect(p.field_order).toBe("progressive");
      const combed = await combing(done.mp4);
      expect(combed.interlaced).toBeLessThan(combed.progressive / 4);
      expect((await picture(firstSegment(done.hlsMaster))).field_order).toBe("progressive");
    }
  }, 300_000);

  test("HDR10 (HEVC 10-bit PQ) → H.264 8-bit tone-mapped and tagged BT.709 in MP4 and HLS; split = one piece", async () => {
    const p = await picture(clips.hdr_pq!);
    expect([p.pix_fmt, ...p.color]).toEqual(["yuv420p10le", "bt2020", "smpte2084", "bt2020nc", "tv"]);
    const { split, whole, fs, fw } = await bothWays("hdr_pq");
    for (const [done, out] of [[split, fs], [whole, fw]] as const) {
      expect(timingProblems(out, src.hdr_pq!)).toEqual([]);
      expect(audioProblems(out, src.hdr_pq!)).toEqual([]);
      const mp4 = await picture(done.mp4);
      expect([mp4.pix_fmt, ...mp4.color]).toEqual(["yuv420p", ...BT709]);
      expect((await picture(firstSegment(done.hlsMaster))).color).toEqual(BT709);
    }
    // The job's source says what the picture was.
    const job = (await call<{ source: { video: { traits: Record<string, unknown> } } }>(KS, `/v1/jobs/${split.job.id}`)).body;
    expect(job.source.video.traits).toMatchObject({ color_transfer: "smpte2084", color_primaries: "bt2020", bit_depth: 10 });
  }, 300_000);

  test("HDR10 into a custom 10-bit HEVC profile: kept HDR (10-bit, BT.2020, PQ tags) in MP4 and HLS, split into chunks", async () => {
    const profile = {
      id: "hevc10_hdr",
      name: "HEVC Main 10 HDR",
      container: "mp4",
      video: { codec: "hevc", encoder: "software", hardware_fallback: "cpu", height: 240, rate_control: { mode: "crf", crf: 30 }, preset: "ultrafast", keyframe_interval_s: 2, pixel_format: "yuv420p10le" },
      audio: { codec: "aac", bitrate_kbps: 96, channels: 2 },
    };
    const created = await call(KS, "/v1/profiles", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(profile) });
    expect(created.status).toBe(201);
    const done = await runJob(KS, clips.hdr_pq!, { profiles: ["hevc10_hdr"] });
    expect(videoTaskCount(done.job)).toBeGreaterThan(1);
    expect(timingProblems(await facts(done.mp4), src.hdr_pq!)).toEqual([]);
    for (const file of [done.mp4, firstSegment(done.hlsMaster)]) {
      const p = await picture(file);
      expect([p.pix_fmt, ...p.color]).toEqual(["yuv420p10le", "bt2020", "smpte2084", "bt2020nc", "tv"]);
    }
    expect(readFileSync(done.hlsMaster, "utf8")).toMatch(/CODECS="hvc1\.2\./);
  }, 300_000);

  test("HLG (HEVC 10-bit, arib-std-b67, no audio) → tone-mapped BT.709, split into chunks", async () => {
    const done = await runJob(KS, clips.hdr_hlg!);
    expect(videoTaskCount(done.job)).toBeGreaterThan(1);
    const out = await facts(done.mp4);
    expect(timingProblems(out, src.hdr_hlg!)).toEqual([]);
    expect(out.audio).toEqual([]);
    expect((await picture(done.mp4)).color).toEqual(BT709);
  }, 300_000);

  test("321x241 with 4:3 pixels asked for the 1080p ladder: one square-pixel rendition at 426x240, the skipped rungs named in the job", async () => {
    const p = await picture(clips.anamorphic_odd!);
    expect([p.width, p.height, p.sar]).toEqual([321, 241, "4:3"]);
    const done = await runJob(KS, clips.anamorphic_odd!, { profiles: ["hls_h264_ladder"], outputs: ["mp4"] });
    const outputs = (await call<{ items: OutputView[] }>(KS, `/v1/jobs/${done.job.id}/outputs`)).body.items.filter((o) => o.kind === "mp4");
    expect(outputs.map((o) => o.profile)).toEqual(["360p_h264"]);
    const out = await picture(done.mp4);
    expect([out.width, out.height]).toEqual([426, 240]);
    expect(["1:1", "unknown"]).toContain(out.sar);
    expect(out.frames).toBe(src.anamorphic_odd!.pts.length);
    const job = (await call<{ source: { renditions: unknown[]; skipped_profiles: Array<{ profile: string; reason: string }> } }>(KS, `/v1/jobs/${done.job.id}`)).body;
    expect(job.source.renditions).toEqual([{ profile: "360p_h264", width: 426, height: 240 }]);
    expect(job.source.skipped_profiles.map((s) => s.profile)).toEqual(["1080p_h264", "720p_h264", "480p_h264"]);
    expect(job.source.skipped_profiles[0]!.reason).toBe("1080p is larger than the source (241p): profiles are not scaled up");
  }, 300_000);

  test("variable frame rate with two audio tracks: every frame at its source time, both tracks in MP4 and as HLS alternate audio; split = one piece", async () => {
    const f = src.vfr_two_audio!;
    expect(f.pts[23]! - f.pts[22]!).toBeCloseTo(1 / 24, 2);
    expect(f.pts.at(-1)! - f.pts.at(-2)!).toBeCloseTo(1 / 30, 2);
    const { split, whole, fs, fw } = await bothWays("vfr_two_audio");
    for (const [done, out] of [[split, fs], [whole, fw]] as const) {
      expect(timingProblems(out, f)).toEqual([]);
      expect(audioProblems(out, f)).toEqual([]);
      expect(out.audio.map((a) => [a.language, a.title, a.default])).toEqual([
        ["eng", "English", false],
        ["spa", "Español", true],
      ]);
      const media = readFileSync(done.hlsMaster, "utf8").split("\n").filter((l) => l.startsWith("#EXT-X-MEDIA:TYPE=AUDIO"));
      expect(media.map((l) => /LANGUAGE="([^"]+)"/.exec(l)?.[1])).toEqual(["en", "es"]);
    }
  }, 300_000);

  test("a MOV with a timecode track: transcoded split, the timecode (data) track left out", async () => {
    const streams = (await ffprobeJson(["-show_streams", clips.mov_timecode!])).streams as Array<{ codec_type: string; codec_tag_string: string }>;
    expect(streams.map((s) => s.codec_type)).toEqual(["video", "audio", "data"]);
    const done = await runJob(KS, clips.mov_timecode!, { outputs: ["mp4"] });
    expect(videoTaskCount(done.job)).toBeGreaterThan(1);
    const out = await facts(done.mp4);
    expect(timingProblems(out, src.mov_timecode!)).toEqual([]);
    expect(audioProblems(out, src.mov_timecode!)).toEqual([]);
    const outStreams = (await ffprobeJson(["-show_streams", done.mp4])).streams as Array<{ codec_type: string }>;
    expect(outStreams.map((s) => s.codec_type)).toEqual(["video", "audio"]);
    const job = (await call<{ source: { ignored_streams: unknown[] } }>(KS, `/v1/jobs/${done.job.id}`)).body;
    expect(job.source.ignored_streams).toEqual([{ index: 2, type: "data", codec: "tmcd", language: "eng", reason: "timecode and data tracks are not carried" }]);
  }, 300_000);

  test("text subtitle tracks in the source (SRT, ASS): transcoded split, carried as mov_text (test/e2e/media-subtitles.test.ts checks them)", async () => {
    const streams = (await ffprobeJson(["-show_streams", clips.subtitled!])).streams as Array<{ codec_type: string; codec_name: string }>;
    expect(streams.map((s) => s.codec_name)).toEqual(["h264", "aac", "subrip", "ass"]);
    const done = await runJob(KS, clips.subtitled!);
    expect(videoTaskCount(done.job)).toBeGreaterThan(1);
    const out = await facts(done.mp4);
    expect(timingProblems(out, src.subtitled!)).toEqual([]);
    expect(audioProblems(out, src.subtitled!)).toEqual([]);
    const outStreams = (await ffprobeJson(["-show_streams", done.mp4])).streams as Array<{ codec_type: string }>;
    expect(outStreams.map((s) => s.codec_type)).toEqual(["video", "audio", "subtitle", "subtitle"]);
    // Nothing is left out.
    const job = (await call<{ source: { ignored_streams?: unknown[] } }>(KS, `/v1/jobs/${done.job.id}`)).body;
    expect(job.source.ignored_streams).toBeUndefined();
  }, 300_000);

  test("a one-frame video gives a one-frame MP4 and HLS, on both kernels", async () => {
    for (const k of [KS, K1]) {
      const done = await runJob(k, clips.one_frame!);
      expect((await picture(done.mp4)).frames).toBe(1);
      expect((await picture(firstSegment(done.hlsMaster))).frames).toBe(1);
    }
  }, 300_000);

  test("a codec FFmpeg does not know fails at analysis with WE-JOB-007 naming it", async () => {
    const job = await waitJobEnded<JobView>(KS, await submit(KS, clips.unknown_codec!));
    expect(job.status).toBe("failed");
    expect(job.error?.code).toBe("WE-JOB-007");
    expect(job.error?.message).toContain('the video codec "wenc" is not supported');
    expect(job.tasks.map((t) => t.type)).toEqual(["analyze"]);
  }, 120_000);
});
