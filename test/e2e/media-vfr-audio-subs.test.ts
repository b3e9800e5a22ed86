/**
 * The corpus combination "variable frame rate + two audio tracks + subtitles" (issue 14, `vfr_audio_subs` in
 * test/fixtures/media-corpus.ts: 2 s at 24 fps then 1.5 s at 30 fps, eng + spa AAC tracks, eng + spa
 * mov_text tracks, MP4) end to end through the COMPILED kernel with its embedded worker, split into chunks
 * (KS: chunks of 1–2 s) and in one piece (K1). Checked with the system's ffprobe/ffmpeg and by reading the
 * playlists, never with the pipeline's verifier: every output frame at its source frame's time (MP4 and the
 * HLS variant), the video's duration within one frame and each audio track's end within one audio frame of
 * the source's same stream, both audio tracks with their languages (MP4 tracks; HLS `TYPE=AUDIO`), both
 * subtitle tracks with their languages and cues (MP4 `mov_text`; HLS `TYPE=SUBTITLES`), split vs one-piece
 * SSIM ≥ 0.99.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ssim } from "../helpers/media.ts";
import { call, cleanUpAfterAll, FFPROBE, FFMPEG, type MediaJobView, type MediaKernel, outputFiles, startSplitAndOnePiece, upload, waitJobEnded } from "../helpers/media-kernel.ts";
import { runProc } from "../helpers/proc.ts";
import { makeCorpusClip } from "../fixtures/media-corpus.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-vfr-subs-"));


interface Done {
  job: MediaJobView;
  mp4: string;
  master: string;
}

async function runJob(k: MediaKernel, clip: string): Promise<Done> {
  const key = upload(k, clip);
  const created = await call<MediaJobView>(k, "/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: key, profiles: ["360p_h264"], outputs: ["mp4", "hls"] }) });
  if (created.status !== 201) throw new Error(`${k.name}: POST /v1/jobs → ${created.status} ${JSON.stringify(created.body)}`);
  const job = await waitJobEnded<MediaJobView>(k, created.body.id);
  if (job.status !== "completed") throw new Error(`${k.name}: job ended ${job.status}: ${JSON.stringify(job.error)}`);
  const files = await outputFiles(k, job.id);
  return { job, mp4: files.mp4!, master: files.master! };
}

async function ffprobeJson(args: string[]): Promise<Record<string, unknown>> {
  const r = await runProc([FFPROBE, "-v", "error", "-of", "json", ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ffprobe ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

interface Facts {
  /** Video frame pts relative to the first frame, presentation order. */
  pts: number[];
  /** Last pts + last interval − first pts. */
  duration_s: number;
  maxInterval: number;
  /** Audio tracks: where each ends relative to the first video frame, and its frame length. */
  audio: Array<{ language: string; default: boolean; end_s: number; frame_s: number }>;
  subtitles: Array<{ codec: string; language: string }>;
}

/** What ffprobe says about a file's streams (MP4 only: stream durations are stated). */
async function facts(path: string): Promise<Facts> {
  const packets = (await ffprobeJson(["-select_streams", "v:0", "-show_entries", "packet=pts_time", path])).packets as Array<{ pts_time?: string }>;
  const abs = packets.map((p) => Number(p.pts_time)).filter(Number.isFinite).sort((a, b) => a - b);
  const start = abs[0]!;
  const intervals = abs.slice(1).map((x, i) => x - abs[i]!);
  const streams = (await ffprobeJson(["-show_streams", path])).streams as Array<Record<string, unknown>>;
  const tags = (s: Record<string, unknown>) => (s.tags ?? {}) as Record<string, string>;
  return {
    pts: abs.map((x) => x - start),
    duration_s: abs.at(-1)! + (intervals.at(-1) ?? 0) - start,
    maxInterval: Math.max(...intervals, 0),
    audio: streams
      .filter((s) => s.codec_type === "audio")
      .map((s) => ({
        language: tags(s).language ?? "und",
        default: (s.disposition as Record<string, number>).default === 1,
        end_s: Number(s.start_time) + Number(s.duration) - start,
        // AAC: 1024 samples a frame.
        frame_s: 1024 / Number(s.sample_rate),
      })),
    subtitles: streams.filter((s) => s.codec_type === "subtitle").map((s) => ({ codec: String(s.codec_name), language: tags(s).language ?? "und" })),
  };
}

/** Video packet pts relative to the first, presentation order, of any input ffprobe reads (an HLS media playlist too). */
async function videoPts(path: string): Promise<number[]> {
  const r = await runProc([FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", path], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ffprobe ${path}: ${r.stderr}`);
  const abs = r.stdout.split("\n").map((line) => Number.parseFloat(line)).filter(Number.isFinite).sort((a, b) => a - b);
  return abs.map((t) => t - abs[0]!);
}

/** Frames at the source's times (within 1 ms), the same count; "" when they are. */
function timingProblem(out: readonly number[], src: readonly number[]): string {
  if (out.length !== src.length) return `output has ${out.length} frames, source ${src.length}`;
  const bad = out.findIndex((t, i) => Math.abs(t - src[i]!) > 0.001);
  return bad < 0 ? "" : `frame ${bad} at ${out[bad]} s, source frame at ${src[bad]} s`;
}

async function subtitleText(path: string, n: number): Promise<string> {
  const r = await runProc([FFMPEG, "-v", "error", "-nostdin", "-i", path, "-map", `0:s:${n}`, "-f", "srt", "-"], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ffmpeg subtitles of ${path}: ${r.stderr}`);
  return r.stdout;
}

let KS: MediaKernel;
let K1: MediaKernel;
let clip = "";
let src: Facts;

beforeAll(async () => {
  const kernels = startSplitAndOnePiece(scratch);
  clip = await makeCorpusClip(join(scratch, "corpus"), "vfr_audio_subs");
  src = await facts(clip);
  [KS, K1] = await kernels;
}, 420_000);

cleanUpAfterAll(scratch);

describe("variable frame rate + two audio tracks + subtitles", () => {
  test("the source: 48 frames at 24 fps then 45 at 30 fps, two audio and two subtitle tracks", () => {
    expect(src.pts.length).toBe(93);
    expect(src.pts[30]! - src.pts[29]!).toBeCloseTo(1 / 24, 4);
    expect(src.pts[80]! - src.pts[79]!).toBeCloseTo(1 / 30, 4);
    expect(src.duration_s).toBeCloseTo(3.5, 4);
    expect(src.audio.map((a) => [a.language, a.default])).toEqual([["eng", false], ["spa", true]]);
    expect(src.subtitles).toEqual([{ codec: "mov_text", language: "eng" }, { codec: "mov_text", language: "spa" }]);
  });

  test("split and one piece: frames, per-stream durations, audio and subtitle tracks with languages, MP4 and HLS; split = one piece", async () => {
    const [split, whole] = await Promise.all([runJob(KS, clip), runJob(K1, clip)]);
    expect(split.job.tasks.filter((t) => t.type === "video").length).toBeGreaterThan(1);
    expect(whole.job.tasks.filter((t) => t.type === "video").length).toBe(1);
    for (const done of [split, whole]) {
      const out = await facts(done.mp4);
      // Video: the source's frames at the source's times; its duration within one (the longest) frame.
      expect(timingProblem(out.pts, src.pts)).toBe("");
      expect(Math.abs(out.duration_s - src.duration_s)).toBeLessThanOrEqual(src.maxInterval + 1e-6);
      // Audio: both tracks, languages and default kept, each ending where the source's same track ends
      // within one audio frame of the output plus one of the source (containers state ends to a frame) + 1 ms.
      expect(out.audio.map((a) => [a.language, a.default])).toEqual([["eng", false], ["spa", true]]);
      out.audio.forEach((a, i) => {
        const s = src.audio[i]!;
        expect({ track: i, off: Math.abs(a.end_s - s.end_s) <= a.frame_s + s.frame_s + 0.001 ? 0 : a.end_s - s.end_s }).toEqual({ track: i, off: 0 });
      });
      // Subtitles: both tracks as mov_text with their languages and cues at the source's times.
      expect(out.subtitles).toEqual([{ codec: "mov_text", language: "eng" }, { codec: "mov_text", language: "spa" }]);
      for (const n of [0, 1]) {
        const text = await subtitleText(done.mp4, n);
        expect(text).toContain("00:00:00,500 --> 00:00:01,500\nOne");
        expect(text).toContain("00:00:02,200 --> 00:00:03,000\nTwo");
      }
      // HLS: alternate audio and subtitle renditions with languages; every variant names both groups and
      // has the source's frames at the source's times.
      const master = readFileSync(done.master, "utf8").split("\n");
      const language = (type: string) => master.filter((l) => l.startsWith(`#EXT-X-MEDIA:TYPE=${type}`)).map((l) => /LANGUAGE="([^"]+)"/.exec(l)?.[1]);
      expect(language("AUDIO")).toEqual(["en", "es"]);
      expect(language("SUBTITLES")).toEqual(["en", "es"]);
      const variants = master.filter((l) => l.startsWith("#EXT-X-STREAM-INF:"));
      expect(variants.length).toBeGreaterThan(0);
      for (const v of variants) {
        expect(v).toContain('AUDIO="audio0"');
        expect(v).toContain('SUBTITLES="subs"');
      }
      const variant = master[master.indexOf(variants[0]!) + 1]!;
      expect(timingProblem(await videoPts(join(dirname(done.master), variant)), src.pts)).toBe("");
    }
    expect(await ssim(split.mp4, whole.mp4)).toBeGreaterThanOrEqual(0.99);
  }, 420_000);
});
