/**
 * Burned-in subtitles (issue 14, job option `burn_subtitles`) end to end through the COMPILED kernel with its
 * embedded worker, split into chunks (KS: chunks of 1–2 s) and in one piece (K1). The source (4 s, 25 fps,
 * a keyframe every second) has an SRT track (eng) whose one cue is two lines of solid blocks from 1.5 s to
 * 2.5 s (across a chunk boundary when split) and an SRT track (fra). Checked with the system's ffmpeg, never
 * with the pipeline's verifier: the bottom quarter of frames inside the cue differs clearly from the same
 * frames of the job without burn-in, frames outside it do not; split vs one-piece SSIM ≥ 0.99; the burned
 * track is not also a soft track (unless keep_soft); a sidecar burns at its own times; bad options are refused.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ssim } from "../helpers/media.ts";
import { call, cleanUpAfterAll, FFMPEG, type MediaJobView, type MediaKernel, outputFiles, startSplitAndOnePiece, subtitleLanguages, upload, waitJobEnded } from "../helpers/media-kernel.ts";
import { runProc } from "../helpers/proc.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-burnin-"));

interface JobView extends MediaJobView {
  source?: { burned_subtitles?: { track: string; burned: boolean; reason?: string } } | null;
}

const post = (k: MediaKernel, body: Record<string, unknown>) =>
  call<JobView & { error: { code: string; message: string } }>(k, "/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ profiles: ["360p_h264"], outputs: ["mp4", "hls"], ...body }) });

/** Runs a job to completion; `master` is "" when it asked for MP4 only. */
async function runJob(k: MediaKernel, body: Record<string, unknown>): Promise<{ job: JobView; mp4: string; master: string }> {
  const created = await post(k, body);
  if (created.status !== 201) throw new Error(`${k.name}: POST /v1/jobs → ${created.status} ${JSON.stringify(created.body)}`);
  const job = await waitJobEnded<JobView>(k, created.body.id);
  if (job.status !== "completed") throw new Error(`${k.name}: job ended ${job.status}: ${JSON.stringify(job.error)}`);
  const files = await outputFiles(k, job.id);
  return { job, mp4: files.mp4!, master: files.master ?? "" };
}

/** The bottom quarter of the frame shown at `t` s, as 8-bit luma (the system's ffmpeg, accurate seek). */
async function bottomBand(file: string, t: number): Promise<Uint8Array> {
  const out = join(scratch, `band-${Math.random().toString(36).slice(2)}.gray`);
  const r = await runProc([FFMPEG, "-v", "error", "-nostdin", "-y", "-ss", String(t), "-i", file, "-frames:v", "1", "-vf", "crop=iw:ih/4:0:ih*3/4,format=gray", "-f", "rawvideo", out], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`frame at ${t} s of ${file}: ${r.stderr}`);
  return readFileSync(out);
}

/** Mean absolute luma difference of the bottom band at `t` between two outputs. */
async function bandDiff(a: string, b: string, t: number): Promise<number> {
  const [x, y] = await Promise.all([bottomBand(a, t), bottomBand(b, t)]);
  expect(x.length).toBe(y.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.abs(x[i]! - y[i]!);
  return sum / x.length;
}

const BLOCKS = "█".repeat(14);
/** Times (s) in the middle of 25 fps frames: inside the eng cue (1.5–2.5 s) and outside it. */
const INSIDE = [1.62, 1.98, 2.02, 2.38];
const OUTSIDE = [0.5, 1.3, 2.7, 3.5];

let KS: MediaKernel;
let K1: MediaKernel;
let clip = "";
let sidecar = "";

beforeAll(async () => {
  const kernels = startSplitAndOnePiece(scratch);
  const eng = join(scratch, "eng.srt");
  writeFileSync(eng, `1\n00:00:01,500 --> 00:00:02,500\n${BLOCKS}\n${BLOCKS}\n`);
  const fra = join(scratch, "fra.srt");
  writeFileSync(fra, "1\n00:00:00,200 --> 00:00:00,900\nBonjour\n");
  clip = join(scratch, "burn-source.mkv");
  const made = await runProc(
    [
      FFMPEG, "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4", "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
      "-f", "srt", "-i", eng, "-f", "srt", "-i", fra, "-map", "0:v", "-map", "1:a", "-map", "2:s", "-map", "3:s",
      "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-c:a", "aac", "-c:s", "srt",
      "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fra", clip,
    ],
    { timeoutMs: 120_000 },
  );
  if (made.code !== 0) throw new Error(`clip: ${made.stderr}`);
  sidecar = join(scratch, "side.srt");
  writeFileSync(sidecar, `1\n00:00:00,400 --> 00:00:01,000\n${BLOCKS}\n${BLOCKS}\n`);
  [KS, K1] = await kernels;
}, 420_000);

cleanUpAfterAll(scratch);

describe("burn_subtitles", () => {
  let plain: { job: JobView; mp4: string; master: string };
  let split: { job: JobView; mp4: string; master: string };

  test("a source SRT track burned in, split into chunks and in one piece: the cue's frames change, the others do not; split = one piece", async () => {
    let whole: { job: JobView; mp4: string; master: string } | undefined;
    const onePiece = runJob(K1, { source_url: upload(K1, clip), outputs: ["mp4"], burn_subtitles: { track: 0 } }).then((r) => (whole = r));
    plain = await runJob(KS, { source_url: upload(KS, clip), outputs: ["mp4"] });
    split = await runJob(KS, { source_url: upload(KS, clip), burn_subtitles: { track: 0 } });
    await onePiece;
    expect(split.job.tasks.filter((t) => t.type === "video").length).toBeGreaterThan(1);
    expect(whole!.job.tasks.filter((t) => t.type === "video").length).toBe(1);
    // The job says which track it burned.
    expect(split.job.source?.burned_subtitles).toEqual({ track: "track 0 (eng, subrip)", burned: true });
    expect(plain.job.source?.burned_subtitles).toBeUndefined();

    const inside = await Promise.all(INSIDE.map((t) => bandDiff(split.mp4, plain.mp4, t)));
    const outside = await Promise.all(OUTSIDE.map((t) => bandDiff(split.mp4, plain.mp4, t)));
    for (const d of inside) expect(d).toBeGreaterThan(8);
    for (const d of outside) expect(d).toBeLessThan(2);
    for (const t of INSIDE) expect(await bandDiff(whole!.mp4, plain.mp4, t)).toBeGreaterThan(8);
    expect(await ssim(split.mp4, whole!.mp4)).toBeGreaterThanOrEqual(0.99);

    // The burned track is not also offered as a soft track; the other one is.
    expect(await subtitleLanguages(plain.mp4)).toEqual(["mov_text:eng", "mov_text:fra"]);
    expect(await subtitleLanguages(split.mp4)).toEqual(["mov_text:fra"]);
    const media = readFileSync(split.master, "utf8").split("\n").filter((l) => l.startsWith("#EXT-X-MEDIA:TYPE=SUBTITLES"));
    expect(media.map((l) => /LANGUAGE="([^"]+)"/.exec(l)?.[1])).toEqual(["fr"]);
  }, 600_000);

  test("a sidecar burned at its own times with keep_soft: every track stays a soft track too", async () => {
    const done = await runJob(KS, {
      source_url: upload(KS, clip),
      outputs: ["mp4"],
      subtitles: [{ source_url: upload(KS, sidecar), language: "deu", name: "Deutsch" }],
      burn_subtitles: { language: "deu", keep_soft: true },
    });
    expect(done.job.tasks.filter((t) => t.type === "video").length).toBeGreaterThan(1);
    for (const t of [0.5, 0.9]) expect(await bandDiff(done.mp4, plain.mp4, t)).toBeGreaterThan(8);
    // The source's own eng cue is not burned in this job.
    for (const t of [0.2, 1.3, 1.62, 2.38]) expect(await bandDiff(done.mp4, plain.mp4, t)).toBeLessThan(2);
    expect(await subtitleLanguages(done.mp4)).toEqual(["mov_text:eng", "mov_text:fra", "mov_text:deu"]);
  }, 300_000);

  test("bad options: 400 WE-JOB-001 at submission; a track the source lacks fails at planning with WE-JOB-007", async () => {
    const source_url = upload(KS, clip);
    for (const burn_subtitles of [{ track: 0, language: "eng" }, {}, { track: -1 }, { language: "english!" }]) {
      const r = await post(KS, { source_url, burn_subtitles });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("WE-JOB-001");
    }
    const noSidecar = await post(KS, { source_url, burn_subtitles: { sidecar: 0 } });
    expect(noSidecar.status).toBe(400);
    expect(noSidecar.body.error.code).toBe("WE-JOB-001");
    expect(noSidecar.body.error.message).toBe('burn_subtitles.sidecar is 0, but the job lists 0 sidecar subtitle file(s) under "subtitles" (sidecar 0 is the first)');

    const created = await post(KS, { source_url, burn_subtitles: { track: 2 } });
    expect(created.status).toBe(201);
    const job = await waitJobEnded<JobView>(KS, created.body.id);
    expect(job.status).toBe("failed");
    expect(job.error?.code).toBe("WE-JOB-007");
    expect(job.error?.message).toBe("burn_subtitles names subtitle track 2, which the source does not have (its subtitle tracks: track 0 (eng, subrip), track 1 (fra, subrip))");
    expect(job.tasks.map((t) => t.type)).toEqual(["analyze"]);
  }, 300_000);
});
