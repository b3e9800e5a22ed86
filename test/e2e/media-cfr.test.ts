/**
 * Constant frame rate (issue 14, profile `frame_rate`) end to end through the COMPILED kernel with its embedded
 * worker: the variable-rate corpus clip (2 s at 24 fps, 2 s at 30 fps, passthrough timestamps) into a custom
 * profile with `frame_rate: 25`, once split into chunks (KS: chunks of 1–2 s) and once in one piece (K1).
 * Checked with the system's ffprobe, not the pipeline's verifier: every frame 40 ms after the one before in
 * the MP4 and in the HLS rendition, round(duration × 25) frames, the split output the same frames at the same
 * times as the one-piece one, SSIM ≥ 0.99.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ssim } from "../helpers/media.ts";
import { call, cleanUpAfterAll, FFPROBE, type MediaJobView, type MediaKernel, outputFiles, startSplitAndOnePiece, upload, waitJobEnded } from "../helpers/media-kernel.ts";
import { runProc } from "../helpers/proc.ts";
import { makeCorpusClip } from "../fixtures/media-corpus.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-cfr-"));


const PROFILE = {
  id: "cfr25_h264",
  name: "H.264 240p at a constant 25 fps",
  container: "mp4",
  video: { codec: "h264", encoder: "software", hardware_fallback: "cpu", height: 240, rate_control: { mode: "crf", crf: 28 }, preset: "ultrafast", keyframe_interval_s: 1, frame_rate: 25 },
  audio: { codec: "aac", bitrate_kbps: 64, channels: 2 },
};

/** Creates the profile, uploads the clip, runs the job to its end; the MP4's and the HLS master's paths. */
async function runCfrJob(k: MediaKernel, clip: string): Promise<{ job: MediaJobView; mp4: string; master: string }> {
  const created = await call(k, "/v1/profiles", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(PROFILE) });
  expect(created.status).toBe(201);
  const key = upload(k, clip);
  const submitted = await call<MediaJobView>(k, "/v1/jobs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ source_url: key, profiles: [PROFILE.id], outputs: ["mp4", "hls"] }),
  });
  expect(submitted.status).toBe(201);
  const job = await waitJobEnded<MediaJobView>(k, submitted.body.id);
  if (job.status !== "completed") throw new Error(`${k.name}: job ended ${job.status}: ${JSON.stringify(job.error)}`);
  const { mp4, master: hls, all: outputs } = await outputFiles(k, job.id);
  if (!mp4 || !hls) throw new Error(`${k.name}: outputs ${JSON.stringify(outputs)}`);
  return { job, mp4, master: hls };
}

/** Video packet pts in presentation order, relative to the first (ffprobe reads HLS playlists too). */
async function videoPts(path: string): Promise<number[]> {
  const r = await runProc([FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0", path], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ffprobe ${path}: ${r.stderr}`);
  const abs = r.stdout.split("\n").map((line) => Number.parseFloat(line)).filter(Number.isFinite).sort((a, b) => a - b);
  return abs.map((t) => t - abs[0]!);
}

/** Every step between consecutive frames that is not 40 ms (±0.1 ms), as "i: step". */
const off25 = (pts: readonly number[]) =>
  pts.slice(1).flatMap((t, i) => (Math.abs(t - pts[i]! - 0.04) > 0.0001 ? [`${i + 1}: ${(t - pts[i]!).toFixed(6)}`] : []));

let KS: MediaKernel;
let K1: MediaKernel;
let clip: string;
let sourceDuration: number;

beforeAll(async () => {
  const kernels = startSplitAndOnePiece(scratch);
  clip = await makeCorpusClip(join(scratch, "corpus"), "vfr");
  // The source's duration on its timestamps: last pts + last interval − first pts.
  const pts = await videoPts(clip);
  sourceDuration = pts.at(-1)! + (pts.at(-1)! - pts.at(-2)!);
  [KS, K1] = await kernels;
}, 420_000);

cleanUpAfterAll(scratch);

describe("frame_rate: a variable-rate source into a constant 25 fps profile", () => {
  test("split and one piece: every frame 40 ms apart, round(duration × 25) frames, same frames and picture", async () => {
    const [split, whole] = await Promise.all([runCfrJob(KS, clip), runCfrJob(K1, clip)]);
    expect(split.job.tasks.filter((t) => t.type === "video").length).toBeGreaterThan(1);
    expect(whole.job.tasks.filter((t) => t.type === "video").length).toBe(1);
    const expectedFrames = Math.round(sourceDuration * 25);
    expect(expectedFrames).toBe(100);
    for (const done of [split, whole]) {
      const mp4 = await videoPts(done.mp4);
      expect(mp4.length).toBe(expectedFrames);
      expect(off25(mp4)).toEqual([]);
      const variant = readFileSync(done.master, "utf8").split("\n").find((line) => line.endsWith(".m3u8"));
      expect(variant).toBeDefined();
      const hls = await videoPts(join(dirname(done.master), variant!));
      expect(hls.length).toBe(expectedFrames);
      expect(off25(hls)).toEqual([]);
    }
    expect(await ssim(split.mp4, whole.mp4)).toBeGreaterThanOrEqual(0.99);
  }, 300_000);
});
