/**
 * An uploaded FLV with B-frames (x264's default, OBS's "high" profile; no keyframe index, as FFmpeg's FLV
 * muxer and RTMP recordings write it) split into chunks by the VOD pipeline: every part has exactly its
 * planned frame count and starts at its own source keyframe. FFmpeg 5.1's FLV demuxer seeks a GOP or more
 * late near the file's start, so an FLV's first chunk must not seek (chunkSeekArgs); the later ones seek as usual.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chunkSeekArgs, videoChunkArgs } from "../../src/media/args/video-chunk.ts";
import { type Chunk, type Keyframe, planChunks } from "../../src/media/planner.ts";
import { encoderFor, parseProfile } from "../../src/media/profiles.ts";

const FFMPEG = process.env.FFMPEG_PATH ?? "ffmpeg";
const FFPROBE = process.env.FFPROBE_PATH ?? "ffprobe";
const FPS = 25;

let dir = "";
let source = "";
let chunks: Chunk[] = [];
let total = 0;
/** FFprobe's format_name of the source, as the analyze task reports it. */
let format = "";

async function run(bin: string, args: string[]): Promise<string> {
  const proc = Bun.spawn([bin, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${bin} exited ${code}\nargv: ${JSON.stringify(args)}\n${stderr.split("\n").slice(-20).join("\n")}`);
  return stdout;
}
const ffmpeg = (args: string[]) => run(FFMPEG, ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", ...args]);

/** Keyframe index from packet flags, in presentation order, as the analyze task builds it. */
async function keyframeIndex(path: string): Promise<{ keyframes: Keyframe[]; total_frames: number; pts: number[] }> {
  const out = await run(FFPROBE, ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", path]);
  const packets = out
    .split("\n")
    .map((line) => line.split(","))
    .filter((f) => f[0] !== undefined && f[0] !== "" && f[0] !== "N/A")
    .map((f) => ({ pts: Number(f[0]), key: (f[1] ?? "").includes("K") }))
    .sort((a, b) => a.pts - b.pts);
  return { keyframes: packets.flatMap((p, frame) => (p.key ? [{ pts: p.pts, frame }] : [])), total_frames: packets.length, pts: packets.map((p) => p.pts) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "webencode-flv-chunks-"));
  source = join(dir, "upload.flv");
  // 4 s, a keyframe every second, 3 B-frames: the first keyframe's pts is its composition offset (0.08 s).
  await ffmpeg([
    ...["-f", "lavfi", "-i", `testsrc2=s=320x240:r=${FPS}:d=4`, "-f", "lavfi", "-i", "sine=f=440:r=44100:d=4"],
    ...["-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", String(FPS), "-keyint_min", String(FPS), "-sc_threshold", "0", "-pix_fmt", "yuv420p"],
    ...["-c:a", "aac", "-f", "flv", source],
  ]);
  const index = await keyframeIndex(source);
  total = index.total_frames;
  format = (await run(FFPROBE, ["-v", "error", "-show_entries", "format=format_name", "-of", "csv=p=0", source])).trim();
  chunks = planChunks({ duration_s: 4, fps: FPS, keyframes: index.keyframes, total_frames: total, free_slots: 4 }, { min_chunk_s: 1, max_chunk_s: 60, min_split_duration_s: 2 });
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("the source is what the case is about: B-frames (first pts > 0), four 1 s chunks", async () => {
  const index = await keyframeIndex(source);
  expect(index.keyframes[0]?.pts).toBeGreaterThan(0);
  expect(total).toBe(100);
  expect(format).toBe("flv");
  expect(chunks.map((c) => [c.start_frame, c.frames])).toEqual([
    [0, 25],
    [25, 25],
    [50, 25],
    [75, 25],
  ]);
  expect(chunkSeekArgs(chunks[0]!.start_pts, 0, FPS, "flv")).toEqual([]);
  expect(chunkSeekArgs(chunks[1]!.start_pts, 25, FPS, "flv")).toEqual(["-seek_timestamp", "1", "-ss", (chunks[1]!.start_pts - 0.001).toFixed(3)]);
  // Other containers seek there exactly: their first chunk keeps the seek.
  expect(chunkSeekArgs(chunks[0]!.start_pts, 0, FPS, "mov,mp4,m4a,3gp,3g2,mj2")).toEqual(["-seek_timestamp", "1", "-ss", (chunks[0]!.start_pts - 0.001).toFixed(3)]);
});

test("every part has exactly its frames and starts at its own source keyframe (frame-exact)", async () => {
  const profile = parseProfile({
    id: "flv-test",
    name: "flv test",
    container: "mp4",
    video: { codec: "h264", encoder: "auto", hardware_fallback: "cpu", height: 240, rate_control: { mode: "crf", crf: 18 }, preset: "ultrafast" },
    audio: { codec: "aac", bitrate_kbps: 96, channels: 2, sample_rate: 48000 },
  });
  const choice = encoderFor(profile, { nvidia: false, qsv: false, vaapi: false });
  if ("error" in choice) throw new Error(choice.error);
  const part = (seq: number) => join(dir, `part-${seq}.mp4`);
  await Promise.all(
    chunks.map((chunk) =>
      ffmpeg(
        videoChunkArgs({
          input: source,
          start_pts: chunk.start_pts,
          start_frame: chunk.start_frame,
          source_format: format,
          frames: chunk.frames,
          fps: FPS,
          renditions: [{ width: 320, height: 240, encoder: choice.encoder, profile }],
          output: () => part(chunk.seq),
          part_format: "mp4",
        }),
      ),
    ),
  );
  for (const chunk of chunks) {
    const counted = await run(FFPROBE, ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", part(chunk.seq)]);
    expect({ seq: chunk.seq, frames: Number(counted.trim()) }).toEqual({ seq: chunk.seq, frames: chunk.frames });
    // The part's first picture is the source frame the chunk starts at: same size, so PSNR compares
    // directly; a part that starts a frame (or a GOP) off scores far lower.
    const graph = `[0:v]trim=end_frame=1,setpts=PTS-STARTPTS[p];[1:v]select=eq(n\\,${chunk.start_frame}),setpts=PTS-STARTPTS[r];[p][r]psnr`;
    const proc = Bun.spawn([FFMPEG, "-hide_banner", "-nostdin", "-i", part(chunk.seq), "-i", source, "-lavfi", graph, "-f", "null", "-"], { stdout: "ignore", stderr: "pipe" });
    const stderr = await new Response(proc.stderr).text();
    expect(await proc.exited).toBe(0);
    const psnr = Number(stderr.match(/average:([\d.]+|inf)/)?.[1]?.replace("inf", "100"));
    expect({ seq: chunk.seq, firstFrameMatches: psnr > 35 }).toEqual({ seq: chunk.seq, firstFrameMatches: true });
  }
}, 60_000);
