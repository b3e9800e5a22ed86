/**
 * The pure media functions driven against the real Debian FFmpeg 5.1: clips are generated with
 * `-f lavfi` into a temp dir, keyframe-indexed with ffprobe, planned, encoded chunk by chunk with the
 * built argv, stitched, and checked with ffprobe independently of the pipeline's own verification.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  audioArgs,
  concatList,
  concatMuxArgs,
  hlsArgs,
  spriteArgs,
  thumbnailArgs,
  videoChunkArgs,
  type ChunkRendition,
} from "../../src/media/ffmpeg-args.ts";
import { codecString, masterPlaylist, parseMediaPlaylist, segmentBitrates, type ProbeStreamInfo } from "../../src/media/hls.ts";
import { type Chunk, type Keyframe, planChunks } from "../../src/media/planner.ts";
import { encoderFor, parseProfile, type ProfileSpec } from "../../src/media/profiles.ts";
import { selectRenditions } from "../../src/media/renditions.ts";
import { keyframesAligned, sourceAudioFrameSeconds, verifyOutput } from "../../src/media/verify.ts";

const FFMPEG = process.env.FFMPEG_PATH ?? "ffmpeg";
const FFPROBE = process.env.FFPROBE_PATH ?? "ffprobe";
const NO_HW = { nvidia: false, qsv: false, vaapi: false };

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "webencode-media-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function run(bin: string, args: string[]): Promise<string> {
  const proc = Bun.spawn([bin, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${bin} exited ${code}\nargv: ${JSON.stringify(args)}\n${stderr.split("\n").slice(-30).join("\n")}`);
  return stdout;
}

/** The encoder plugin's fixed prefix; the builders leave it out on purpose. */
const ffmpeg = (args: string[]) => run(FFMPEG, ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", ...args]);

interface ProbedStream extends ProbeStreamInfo {
  codec_type: string;
  duration?: string;
  nb_read_frames?: string;
  start_time?: string;
  sample_rate?: string;
  side_data_list?: { rotation?: number }[];
  tags?: Record<string, string>;
}

/** Stream duration; Matroska/WebM keep it only as a DURATION tag ("00:00:04.000000000"). */
function durationOf(s: ProbedStream): number {
  if (s.duration !== undefined) return Number(s.duration);
  const m = s.tags?.DURATION?.match(/^(\d+):(\d+):([\d.]+)$/);
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : Number.NaN;
}

async function probeStreams(path: string, extra: string[] = []): Promise<ProbedStream[]> {
  const out = await run(FFPROBE, ["-v", "error", ...extra, "-show_streams", "-of", "json", path]);
  return (JSON.parse(out) as { streams: ProbedStream[] }).streams;
}

async function streamOf(path: string, type: "video" | "audio", extra: string[] = []): Promise<ProbedStream | undefined> {
  return (await probeStreams(path, extra)).find((s) => s.codec_type === type);
}

/** Keyframe index from packet flags (no decoding), as the analyze task builds it. */
async function keyframeIndex(path: string): Promise<{ keyframes: Keyframe[]; total_frames: number }> {
  const out = await run(FFPROBE, ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", path]);
  // MPEG-TS adds empty lines and trailing fields (side data); packets are in decode order.
  const packets = out
    .split("\n")
    .map((line) => line.split(","))
    .filter((f) => f[0] !== undefined && f[0] !== "" && f[0] !== "N/A")
    .map((f) => ({ pts: Number(f[0]), key: (f[1] ?? "").includes("K") }))
    .sort((a, b) => a.pts - b.pts);
  const keyframes = packets.flatMap((p, frame) => (p.key ? [{ pts: p.pts, frame }] : []));
  return { keyframes, total_frames: packets.length };
}

async function keyframeTimes(path: string): Promise<number[]> {
  return (await keyframeIndex(path)).keyframes.map((k) => k.pts);
}

interface Measured {
  frames: number;
  video_duration_s: number;
  audio_duration_s?: number;
  audio_sample_rate?: number;
  width: number;
  height: number;
  rotation?: number;
}

async function measure(path: string): Promise<Measured> {
  const streams = await probeStreams(path, ["-count_frames"]);
  const video = streams.find((s) => s.codec_type === "video");
  const audio = streams.find((s) => s.codec_type === "audio");
  if (!video) throw new Error(`${path} has no video`);
  return {
    frames: Number(video.nb_read_frames),
    video_duration_s: durationOf(video),
    ...(audio ? { audio_duration_s: durationOf(audio), audio_sample_rate: Number(audio.sample_rate) } : {}),
    width: video.width ?? 0,
    height: video.height ?? 0,
    ...(video.side_data_list?.[0]?.rotation !== undefined ? { rotation: video.side_data_list[0].rotation } : {}),
  };
}

function h264Profile(height: number, preset = "ultrafast"): ProfileSpec {
  return parseProfile({
    id: `t${height}`,
    name: `test ${height}p`,
    container: "mp4",
    video: { codec: "h264", encoder: "auto", hardware_fallback: "cpu", height, rate_control: { mode: "crf", crf: 26 }, preset },
    audio: { codec: "aac", bitrate_kbps: 96, channels: 2, sample_rate: 48000 },
  });
}

function chunkRenditions(profiles: ProfileSpec[], source: { width: number; height: number; rotation: number; fps: number }): ChunkRendition[] {
  return selectRenditions(profiles, source).map((r) => {
    const choice = encoderFor(r.profile, NO_HW);
    if ("error" in choice) throw new Error(choice.error);
    return { width: r.width, height: r.height, encoder: choice.encoder, profile: r.profile, frame_step: r.frame_step };
  });
}

/** Encode every chunk (in parallel, like several workers), then concat + mux audio per rendition. */
async function encodeJob(opts: {
  name: string;
  source: string;
  chunks: Chunk[];
  fps: number;
  renditions: ChunkRendition[];
  part_format: "mp4" | "mpegts";
  audio?: string;
  container?: "mp4" | "webm";
}): Promise<string[]> {
  const { name, renditions, part_format } = opts;
  const part = (seq: number, i: number) => join(dir, `${name}-c${seq}-r${i}.${part_format === "mp4" ? "mp4" : "ts"}`);
  await Promise.all(
    opts.chunks.map((chunk) =>
      ffmpeg(
        videoChunkArgs({
          input: opts.source,
          start_pts: chunk.start_pts,
          start_frame: chunk.start_frame,
          frames: chunk.frames,
          fps: opts.fps,
          renditions,
          output: (i) => part(chunk.seq, i),
          part_format,
        }),
      ),
    ),
  );
  const container = opts.container ?? "mp4";
  return Promise.all(
    renditions.map(async (r, i) => {
      const list = join(dir, `${name}-r${i}.ffconcat`);
      await writeFile(list, concatList(opts.chunks.map((c) => part(c.seq, i))));
      const output = join(dir, `${name}-r${i}.${container}`);
      await ffmpeg(
        concatMuxArgs({
          concat_list: list,
          ...(opts.audio ? { audio: opts.audio } : {}),
          output,
          container,
          faststart: true,
          video_codec: r.profile.video.codec,
        }),
      );
      return output;
    }),
  );
}

describe("30 fps, 12 s, 2 s GOPs: three chunks, two renditions", () => {
  const source = () => join(dir, "a.mp4");
  const FPS = 30;
  // veryfast has B-frames (ultrafast has none): parts then start with negative DTS and an edit list.
  const profiles = [h264Profile(360, "veryfast"), h264Profile(240, "veryfast")];
  let chunks: Chunk[];
  let outputs: string[];
  let single: string[];
  let audio: string;

  beforeAll(async () => {
    await ffmpeg([
      ...["-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=12", "-f", "lavfi", "-i", "sine=f=440:r=48000:d=12"],
      ...["-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", source()],
    ]);
    const index = await keyframeIndex(source());
    chunks = planChunks(
      { duration_s: 12, fps: FPS, ...index, free_slots: 3 },
      { min_chunk_s: 2, max_chunk_s: 60, min_split_duration_s: 4 },
    );
    const renditions = chunkRenditions(profiles, { width: 640, height: 360, rotation: 0, fps: FPS });
    audio = join(dir, "a-audio.m4a");
    const aac = profiles[0]?.audio;
    if (!aac) throw new Error("profile without audio");
    await ffmpeg(audioArgs({ input: source(), audio: aac, output: audio, start_s: chunks[0]?.start_pts ?? 0 }));
    [outputs, single] = await Promise.all([
      encodeJob({ name: "a3", source: source(), chunks, fps: FPS, renditions, part_format: "mp4", audio }),
      encodeJob({
        name: "a1",
        source: source(),
        chunks: planChunks({ duration_s: 12, fps: FPS, ...index, free_slots: 1 }),
        fps: FPS,
        renditions,
        part_format: "mp4",
        audio,
      }),
    ]);
  }, 90_000);

  test("the plan splits on the source keyframes into three 4 s chunks", () => {
    expect(chunks).toEqual([
      { seq: 0, start_pts: 0, start_frame: 0, frames: 120, duration_s: 4 },
      { seq: 1, start_pts: 4, start_frame: 120, frames: 120, duration_s: 4 },
      { seq: 2, start_pts: 8, start_frame: 240, frames: 120, duration_s: 4 },
    ]);
  });

  test("every output has exactly 360 frames, the source's duration and in-sync audio", async () => {
    for (const path of [...outputs, ...single]) {
      const m = await measure(path);
      expect(m.frames).toBe(360);
      expect(Math.abs(m.video_duration_s - 12)).toBeLessThanOrEqual(1 / FPS);
      expect(m.audio_duration_s).toBeDefined();
      const verdict = verifyOutput({
        source: { duration_s: 12, frames: 360, fps: FPS, audio_duration_s: 12 },
        output: { video_duration_s: m.video_duration_s, frames: m.frames, audio_duration_s: m.audio_duration_s, audio_sample_rate: m.audio_sample_rate },
      });
      expect(verdict).toEqual({ ok: true, problems: [] });
      expect(Math.abs((m.audio_duration_s ?? 0) - m.video_duration_s)).toBeLessThanOrEqual(1024 / 48000 + 0.001);
    }
    expect([(await measure(outputs[0] as string)).width, (await measure(outputs[1] as string)).width]).toEqual([640, 426]);
  });

  test("keyframes every 2 s in both renditions, identical to the one-chunk encode", async () => {
    const times = await Promise.all([...outputs, ...single].map(keyframeTimes));
    for (const t of times) expect(t).toEqual([0, 2, 4, 6, 8, 10]);
    expect(keyframesAligned(times, 0.001)).toEqual({ ok: true, problems: [] });
  });

  test("frame timestamps are perfectly even across the joins", async () => {
    const out = await run(FFPROBE, ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=duration", "-of", "csv=p=0", outputs[0] as string]);
    const durations = new Set(out.split("\n").filter((l) => l !== ""));
    expect([...durations]).toEqual(["512"]); // 1/30 s in the 1/15360 timebase
  });

  test("the split encode matches the one-chunk encode (SSIM ≥ 0.99)", async () => {
    const proc = Bun.spawn([FFMPEG, "-hide_banner", "-nostdin", "-i", outputs[0] as string, "-i", single[0] as string, "-lavfi", "ssim", "-f", "null", "-"], {
      stderr: "pipe",
      stdout: "ignore",
    });
    const stderr = await new Response(proc.stderr).text();
    expect(await proc.exited).toBe(0);
    const all = Number(stderr.match(/All:([\d.]+)/)?.[1]);
    expect(all).toBeGreaterThanOrEqual(0.99);
  });

  test("HLS (MPEG-TS and fMP4) segments add up to the duration; master playlist from measured values", async () => {
    const variants = [];
    for (const [i, path] of outputs.entries()) {
      for (const type of ["mpegts", "fmp4"] as const) {
        const sub = join(dir, `hls-${type}-${i}`);
        await Bun.write(join(sub, ".keep"), "");
        const playlist = join(sub, "index.m3u8");
        await ffmpeg(
          hlsArgs({
            input: path,
            out_dir_playlist: playlist,
            segment_pattern: join(sub, type === "fmp4" ? "seg_%03d.m4s" : "seg_%03d.ts"),
            segment_seconds: 4,
            segment_type: type,
          }),
        );
        const parsed = parseMediaPlaylist(await Bun.file(playlist).text());
        expect(parsed.ended).toBe(true);
        expect(parsed.target_duration).toBe(4);
        expect(parsed.segments.map((s) => s.uri)).toEqual(type === "fmp4" ? ["seg_000.m4s", "seg_001.m4s", "seg_002.m4s"] : ["seg_000.ts", "seg_001.ts", "seg_002.ts"]);
        expect(parsed.init_uri).toBe(type === "fmp4" ? "init.mp4" : null);
        const total = parsed.segments.reduce((sum, s) => sum + s.duration, 0);
        expect(Math.abs(total - 12)).toBeLessThanOrEqual(1 / FPS);
        if (type === "mpegts") {
          const sized = await Promise.all(parsed.segments.map(async (s) => ({ duration: s.duration, bytes: (await stat(join(sub, s.uri))).size })));
          const rates = segmentBitrates(sized, parsed.target_duration);
          expect(rates.peak).toBeGreaterThanOrEqual(rates.average);
          const video = await streamOf(path, "video", ["-show_data"]);
          const audioStream = await streamOf(path, "audio");
          if (!video || !audioStream) throw new Error("missing stream");
          variants.push({
            uri: `${i}/index.m3u8`,
            bandwidth: rates.peak,
            average_bandwidth: rates.average,
            width: video.width ?? 0,
            height: video.height ?? 0,
            codecs: `${codecString(video)},${codecString(audioStream)}`,
            frame_rate: 30,
          });
        }
      }
      expect((await readdir(join(dir, `hls-fmp4-${i}`))).sort()).toEqual([".keep", "index.m3u8", "init.mp4", "seg_000.m4s", "seg_001.m4s", "seg_002.m4s"]);
    }
    const text = masterPlaylist(variants);
    const lines = text.trimEnd().split("\n");
    expect(lines.slice(0, 3)).toEqual(["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]);
    // Lowest bandwidth first: the 240p rung.
    expect(lines[4]).toBe("1/index.m3u8");
    expect(lines[3]).toMatch(/^#EXT-X-STREAM-INF:BANDWIDTH=\d+,AVERAGE-BANDWIDTH=\d+,RESOLUTION=426x240,CODECS="avc1\.640015,mp4a\.40\.2",FRAME-RATE=30\.000$/);
    expect(lines[5]).toMatch(/RESOLUTION=640x360,CODECS="avc1\.64001e,mp4a\.40\.2"/);
  });

  test("codecString from the avcC bytes equals the one rebuilt from profile name and level", async () => {
    for (const path of outputs) {
      const withData = await streamOf(path, "video", ["-show_data"]);
      if (!withData) throw new Error("no video");
      const { extradata: _ignored, ...named } = withData;
      expect(codecString(named)).toBe(codecString(withData));
    }
  });

  test("poster and sprite sheet", async () => {
    const poster = join(dir, "poster.jpg");
    await ffmpeg(thumbnailArgs({ input: outputs[0] as string, at_s: 6, width: 320, output: poster }));
    const sprite = join(dir, "sprite.jpg");
    await ffmpeg(spriteArgs({ input: outputs[0] as string, interval_s: 2, columns: 4, rows: 2, tile_width: 160, tile_height: 90, output: sprite }));
    const [p, s] = await Promise.all([streamOf(poster, "video"), streamOf(sprite, "video")]);
    expect([p?.codec_name, p?.width, p?.height]).toEqual(["mjpeg", 320, 180]);
    // 6 thumbnails (12 s / 2 s) on a 4×2 sheet: the sheet keeps its full size, two tiles blank.
    expect([s?.codec_name, s?.width, s?.height]).toEqual(["mjpeg", 640, 180]);
  });
});

describe("23.976 fps MPEG-TS source (B-frames, start_time 1.4 s, pts not on µs): MPEG-TS parts", () => {
  const FPS = 24000 / 1001;
  let outputs: string[];
  let chunks: Chunk[];
  let total = 0;
  let sourceVideo: ProbedStream | undefined;
  let sourceAudio: ProbedStream | undefined;

  beforeAll(async () => {
    const source = join(dir, "b.ts");
    await ffmpeg([
      ...["-f", "lavfi", "-i", "testsrc2=s=480x270:r=24000/1001:d=10", "-f", "lavfi", "-i", "sine=f=300:r=44100:d=10"],
      ...["-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "50", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts", source],
    ]);
    const index = await keyframeIndex(source);
    total = index.total_frames;
    [sourceVideo, sourceAudio] = await Promise.all([streamOf(source, "video"), streamOf(source, "audio")]);
    chunks = planChunks({ duration_s: Number(sourceVideo?.duration), fps: FPS, ...index, free_slots: 2 }, { min_chunk_s: 2, max_chunk_s: 60, min_split_duration_s: 4 });
    const renditions = chunkRenditions([h264Profile(270, "veryfast"), h264Profile(144, "veryfast")], { width: 480, height: 270, rotation: 0, fps: FPS });
    const audio = join(dir, "b-audio.m4a");
    await ffmpeg(
      audioArgs({ input: source, audio: { codec: "aac", bitrate_kbps: 96, channels: 2, sample_rate: 48000 }, output: audio, start_s: chunks[0]?.start_pts ?? 0 }),
    );
    outputs = await encodeJob({ name: "b", source, chunks, fps: FPS, renditions, part_format: "mpegts", audio });
  }, 60_000);

  test("the source is what the case is about", () => {
    expect(total).toBe(240);
    expect(Number(sourceVideo?.start_time ?? Number.NaN)).toBeGreaterThan(1);
    // Half of 10.01 s is 5.005 s; the nearest keyframe is frame 100 at +4.171 s (frame 150 is +6.256 s).
    expect(chunks.map((c) => [c.start_frame, c.frames])).toEqual([
      [0, 100],
      [100, 140],
    ]);
  });

  test("240 frames, duration within a frame, audio in sync, aligned keyframes", async () => {
    const times: number[][] = [];
    for (const path of outputs) {
      const m = await measure(path);
      const verdict = verifyOutput({
        source: {
          duration_s: Number(sourceVideo?.duration),
          frames: total,
          fps: FPS,
          // The source's audio starts before its video: where it ends on the video's clock, to one AAC frame.
          audio_tracks: [
            {
              label: "audio",
              end_s: Number(sourceAudio?.start_time) + Number(sourceAudio?.duration) - Number(sourceVideo?.start_time),
              frame_s: sourceAudioFrameSeconds("aac", Number(sourceAudio?.sample_rate)),
            },
          ],
        },
        output: { video_duration_s: m.video_duration_s, frames: m.frames, audio_duration_s: m.audio_duration_s, audio_sample_rate: m.audio_sample_rate },
      });
      expect(verdict).toEqual({ ok: true, problems: [] });
      expect(m.frames).toBe(240);
      times.push(await keyframeTimes(path));
    }
    expect(keyframesAligned(times, 0.0001)).toEqual({ ok: true, problems: [] });
    // Forced every 2 s from each chunk start: chunk 0 (frames 0–99) at 0, 2.002, 4.004; chunk 1
    // starts at frame 100 = 4.171 s, then 6.173 and 8.175.
    expect(times[0]?.map((t) => Math.round(t * 1000))).toEqual([0, 2002, 4004, 4171, 6173, 8175]);
  });
  test("a chunk's first frame is the source keyframe it starts at, not the frame after it", async () => {
    // The 270p rendition has the source's size, so its first frame can be compared without scaling.
    const part = join(dir, "b-c1-r0.ts");
    const psnr = async (n: number) => {
      const graph = `[0:v]trim=end_frame=1,setpts=PTS-STARTPTS[p];[1:v]select=eq(n\\,${n}),setpts=PTS-STARTPTS[r];[p][r]psnr`;
      const proc = Bun.spawn([FFMPEG, "-hide_banner", "-nostdin", "-i", part, "-i", join(dir, "b.ts"), "-lavfi", graph, "-f", "null", "-"], {
        stdout: "ignore",
        stderr: "pipe",
      });
      const stderr = await new Response(proc.stderr).text();
      expect(await proc.exited).toBe(0);
      return Number(stderr.match(/average:([\d.]+|inf)/)?.[1]?.replace("inf", "100"));
    };
    const [before, at, after] = await Promise.all([psnr(99), psnr(100), psnr(101)]);
    expect(at).toBeGreaterThan(35);
    expect(at).toBeGreaterThan(before + 5);
    expect(at).toBeGreaterThan(after + 5);
  });
});

describe("portrait source (640x360 with a 90° display matrix)", () => {
  let outputs: string[];

  beforeAll(async () => {
    const raw = join(dir, "c-raw.mp4");
    const source = join(dir, "c.mp4");
    await ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", raw]);
    // FFmpeg 5.1 writes the rotate tag as a display matrix only when stream copying.
    await ffmpeg(["-i", raw, "-c", "copy", "-metadata:s:v:0", "rotate=90", source]);
    const video = await streamOf(source, "video");
    const rotation = video?.side_data_list?.[0]?.rotation ?? 0;
    expect(Math.abs(rotation)).toBe(90);
    const renditions = chunkRenditions([h264Profile(360), h264Profile(240)], { width: 640, height: 360, rotation, fps: 30 });
    expect(renditions.map((r) => [r.width, r.height])).toEqual([
      [360, 640],
      [240, 426],
    ]);
    const index = await keyframeIndex(source);
    const chunks = planChunks({ duration_s: 4, fps: 30, ...index, free_slots: 2 }, { min_chunk_s: 1, max_chunk_s: 60, min_split_duration_s: 2 });
    expect(chunks.length).toBe(2);
    outputs = await encodeJob({ name: "c", source, chunks, fps: 30, renditions, part_format: "mp4" });
  }, 60_000);

  test("outputs are upright portrait pictures without a display matrix, 120 frames, no audio", async () => {
    const measured = await Promise.all(outputs.map(measure));
    expect(measured.map((m) => [m.width, m.height, m.frames, m.rotation, m.audio_duration_s])).toEqual([
      [360, 640, 120, undefined, undefined],
      [240, 426, 120, undefined, undefined],
    ]);
  });
});

describe("HEVC, VP9 and AV1 encoders: argv accepted, forced keyframes, codec strings", () => {
  const cases = [
    { codec: "hevc", container: "mp4", audio: "aac", preset: "ultrafast", crf: 30, tag: /^hvc1\.1\.6\.L\d+\.90$/ },
    { codec: "vp9", container: "webm", audio: "opus", preset: "8", crf: 45, tag: /^vp09\.00\.\d\d\.08$/ },
    { codec: "av1", container: "mp4", audio: "aac", preset: "12", crf: 45, tag: /^av01\.0\.\d\dM\.08$/ },
  ] as const;
  let source = "";

  beforeAll(async () => {
    source = join(dir, "d.mp4");
    await ffmpeg([
      ...["-f", "lavfi", "-i", "testsrc2=s=320x180:r=30:d=4", "-f", "lavfi", "-i", "sine=f=500:r=48000:d=4"],
      ...["-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac", source],
    ]);
  }, 30_000);

  for (const c of cases) {
    test(`${c.codec}: two chunks joined into ${c.container}`, async () => {
      const profile = parseProfile({
        id: `t_${c.codec}`,
        name: c.codec,
        container: c.container,
        video: { codec: c.codec, encoder: "auto", hardware_fallback: "cpu", height: 144, rate_control: { mode: "crf", crf: c.crf }, preset: c.preset },
        audio: { codec: c.audio, bitrate_kbps: 64, channels: 2 },
      });
      const index = await keyframeIndex(source);
      const chunks = planChunks({ duration_s: 4, fps: 30, ...index, free_slots: 2 }, { min_chunk_s: 1, max_chunk_s: 60, min_split_duration_s: 2 });
      expect(chunks.map((ch) => ch.frames)).toEqual([60, 60]);
      const renditions = chunkRenditions([profile], { width: 320, height: 180, rotation: 0, fps: 30 });
      const audio = join(dir, `d-${c.codec}.${c.audio === "aac" ? "m4a" : "webm"}`);
      await ffmpeg(audioArgs({ input: source, audio: profile.audio as NonNullable<ProfileSpec["audio"]>, output: audio }));
      const [output] = await encodeJob({ name: `d-${c.codec}`, source, chunks, fps: 30, renditions, part_format: "mp4", audio, container: c.container });
      const m = await measure(output as string);
      expect([m.width, m.height, m.frames]).toEqual([256, 144, 120]);
      expect(await keyframeTimes(output as string)).toEqual([0, 2]);
      const verdict = verifyOutput({
        source: { duration_s: 4, frames: 120, fps: 30, audio_duration_s: 4 },
        output: { ...m, audio_codec: c.audio },
      });
      expect(verdict).toEqual({ ok: true, problems: [] });
      const video = await streamOf(output as string, "video", ["-show_data"]);
      expect(codecString(video as ProbeStreamInfo)).toMatch(c.tag);
    });
  }
});
