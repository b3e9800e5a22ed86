/**
 * The video chunk task's ffmpeg: one decode of a chunk of the source, every rendition encoded from it
 * (docs/architecture.md §3). Encoder-specific options come from video-encoder.ts.
 */
import { planPicture } from "../filters/picture.ts";
import { burnFilters } from "../subtitles-burn.ts";
import type { VideoTraits } from "../filters/traits.ts";
import { type DeviceRef, inputArgs, runAccelerator, rungChain } from "../hardware/index.ts";
import { cfrFrameCount } from "../planner.ts";
import { frameRateOf, type ProfileSpec } from "../profile-spec.ts";
import { seconds } from "./units.ts";
import { videoEncoderArgs } from "./video-encoder.ts";

export interface ChunkRendition {
  width: number;
  height: number;
  /** FFmpeg encoder name from encoderFor(): libx264, hevc_nvenc, … */
  encoder: string;
  profile: ProfileSpec;
  /** From selectRenditions(): keep every frame_step-th frame (max_fps). Default 1. */
  frame_step?: number;
}

export interface VideoChunkInput {
  input: string;
  /** pts (seconds, absolute as ffprobe prints it) of the source keyframe the chunk starts at. */
  start_pts: number;
  /**
   * Index of that keyframe in the source (the planner always gives it). It places the decimation grid
   * (frame_step > 1; omitted counts as 0 there), and 0 given explicitly means the chunk starts at the
   * source's first frame (chunkSeekArgs).
   */
  start_frame?: number;
  /** The source's container as FFprobe names it (`format_name`, e.g. "flv"): how the chunk seeks (chunkSeekArgs). */
  source_format?: string;
  /** Source frames in the chunk. */
  frames: number;
  /**
   * pts of the source's first frame (the first chunk's start_pts): where a constant-rate rendition's frame
   * grid starts (profile frame_rate, constantRateFilters). Default start_pts (a one-piece encode).
   */
  origin_pts?: number;
  /** The chunk's duration on the source's timestamps (the plan's duration_s): a constant-rate part's frame count. */
  duration_s?: number;
  /** Source frame rate (average). */
  fps: number;
  renditions: readonly ChunkRendition[];
  /** Path of the part of rendition i. */
  output: (i: number) => string;
  part_format: "mp4" | "mpegts";
  /** Render node for VAAPI encoders. Default /dev/dri/renderD128. */
  vaapi_device?: string;
  /**
   * The device the run uses and whether it decodes there (media/hardware/pipeline.ts): decode on the GPU,
   * one decode split to every rung, each rung scaled on the GPU. Decided at planning from the probe.
   */
  hardware?: { device?: DeviceRef; decode?: boolean };
  /** The source picture's field order and colour: deinterlace, tone-map and colour tags (filters/picture.ts). */
  traits?: VideoTraits;
  /** A subtitle track to burn into the picture: an ASS file on the source clock (media/subtitles-burn.ts). */
  burn?: { ass_path: string };
}

/**
 * How far before the keyframe to seek. Seeking to exactly the keyframe's pts is frame-exact for MP4,
 * but for MPEG-TS (B-frames, non-zero start) FFmpeg 5.1 then drops the keyframe itself and the part
 * starts one frame late; any point strictly between the previous frame and the keyframe works for
 * both (verified from 10 µs to 10 ms before). 1 ms is far above ffprobe's 6-decimal rounding and below
 * a frame interval up to 250 fps; a quarter frame bounds it beyond that.
 */
export function seekPreroll(fps: number): number {
  return Math.min(0.001, 0.25 / fps);
}

/**
 * Whether FFmpeg 5.1's demuxer for `format` (FFprobe's format_name) seeks wrongly near the start of a file.
 * FLV without a keyframe index (RTMP recordings, most FLV uploads) with B-frames: a target just before the
 * first keyframe, 0 or even negative lands a GOP or more later (measured: keyframe at pts 0.08, 2 s GOPs,
 * `-ss 0.079` decoded from the keyframe at 6.08 s), losing the first GOP(s). Seeks further in came out
 * frame-exact (150/100/30 frames from the keyframes at 2/4/6 s, also with a non-zero start time). MP4 and
 * MPEG-TS seek exactly there too (test/integration/media-args.test.ts).
 */
export function seeksLateNearStart(format: string | undefined): boolean {
  return (format ?? "").split(",").some((name) => name === "flv" || name === "live_flv");
}

/**
 * Where the chunk's decode starts: `-seek_timestamp 1 -ss (start_pts - preroll)`, except for the first chunk
 * (start_frame 0) of a source whose container seeks late near the start (seeksLateNearStart), which decodes
 * from the file's start — the same first frame, without the seek.
 */
export function chunkSeekArgs(startPts: number, startFrame: number | undefined, fps: number, sourceFormat?: string): string[] {
  if (startFrame === 0 && seeksLateNearStart(sourceFormat)) return [];
  return ["-seek_timestamp", "1", "-ss", seconds(startPts - seekPreroll(fps))];
}

/**
 * Output frames of a rendition keeping every `step`-th frame on the GLOBAL frame grid (source frame
 * index divisible by step), so the cadence continues across chunk boundaries.
 */
export function decimatedFrameCount(startFrame: number, frames: number, step: number): number {
  if (step <= 1) return frames;
  const firstKept = Math.ceil(startFrame / step) * step;
  const end = startFrame + frames;
  return firstKept >= end ? 0 : Math.floor((end - 1 - firstKept) / step) + 1;
}

/**
 * A constant-rate rendition (profile frame_rate): the chunk's frames go back to their time since the source's
 * first frame (`setpts=PTS+offset/TB` after the chunk's rebase to 0), `fps` puts them on the global grid of
 * that rate (a frame at time t on slot round(t·rate); several frames on one slot keep the last, an empty
 * slot repeats the frame before), and `setpts=PTS-STARTPTS` starts the part at 0 again. A chunk decodes past
 * its end, so its last slots are filled as in a one-piece encode and `-frames:v` (cfrFrameCount) stops
 * the part exactly where the next one starts. At the source's end FFmpeg 5.1's fps filter stops at the
 * last frame's own slot without filling it (measured: 99 of 100 frames for a 4 s 24/30 fps mix at 25 fps),
 * so `tpad` first repeats the last frame for one second; the extra slots lie past the count and are cut.
 */
export function constantRateFilters(rate: string, offsetS: number): string[] {
  return [`setpts=PTS+${seconds(offsetS)}/TB`, "tpad=stop_mode=clone:stop_duration=1", `fps=${rate}:round=near`, "setpts=PTS-STARTPTS"];
}

/** Output frames of rendition `r` in the chunk: decimated (max_fps), on a constant-rate grid (frame_rate) or the source's. */
export function chunkRenditionFrames(input: Pick<VideoChunkInput, "start_frame" | "frames" | "start_pts" | "origin_pts" | "duration_s">, rendition: ChunkRendition): number {
  const rate = frameRateOf(rendition.profile.video.frame_rate);
  if (rate) {
    if (!(input.duration_s !== undefined && input.duration_s > 0)) throw new Error("videoChunkArgs: a frame_rate rendition needs the chunk's duration_s");
    return cfrFrameCount(input.start_pts - (input.origin_pts ?? input.start_pts), input.duration_s, rate.fps);
  }
  return decimatedFrameCount(input.start_frame ?? 0, input.frames, rendition.frame_step ?? 1);
}

/**
 * One ffmpeg for every rendition of a chunk (decode once, split + scale):
 * - `-seek_timestamp 1 -ss (start_pts - preroll)`: -ss is normally relative to the file's start_time
 *   (2.8 s for a default MPEG-TS), seek_timestamp makes it the absolute pts the keyframe index holds.
 *   Decoding starts at the keyframe; frames before -ss are dropped by FFmpeg's accurate seek. The first
 *   chunk of an FLV does not seek (chunkSeekArgs: FLV seeks near the start land a GOP late).
 * - `setpts=PTS-STARTPTS` puts the keyframe at t=0, so forced keyframes count from the chunk start
 *   and every part starts at 0. Deinterlacing and HDR tone mapping follow it (filters/picture.ts), once
 *   for all renditions where they can; neither changes the frame count.
 * - per output: `-frames:v N` stops at the chunk's frame count; `-fps_mode passthrough` keeps source
 *   timestamps (the MP4 muxer's default is cfr, which may duplicate or drop frames).
 * - `-force_key_frames expr:gte(t,n_forced*K)` + `-g ceil(fps·K)`: keyframes every K s from the chunk
 *   start, identical in every rendition; -g is only a bound that never fires before a forced
 *   keyframe (forced keyframes are at most ceil(fps·K) frames apart; round() could fall one frame short
 *   and add a second keyframe). Scene-cut keyframes are off in every encoder (see videoEncoderArgs).
 * - MP4 parts: `-movie_timescale 1000000`. The concat demuxer offsets each part by its duration as
 *   read from the movie header, whose default timescale 1000 rounds 100 frames at 23.976 fps
 *   (4.170833 s) to 4.171 s: every join then shifts the following frames by 4 ticks. At 1 µs the
 *   error is below half a tick of any track timebase, and joins come out exact. (The track timescale
 *   is left alone: 90000 cannot represent 1001/24000 s frames and gave uneven frame durations.)
 */
export function videoChunkArgs(input: VideoChunkInput): string[] {
  const { renditions, frames, fps, part_format } = input;
  if (renditions.length === 0) throw new Error("videoChunkArgs: no renditions");
  if (!(Number.isInteger(frames) && frames > 0)) throw new Error(`videoChunkArgs: frames must be a positive integer (got ${frames})`);
  if (!(fps > 0)) throw new Error(`videoChunkArgs: fps must be positive (got ${fps})`);
  const startFrame = input.start_frame ?? 0;
  let run: ReturnType<typeof runAccelerator>;
  try {
    run = runAccelerator(renditions.map((r) => r.encoder));
  } catch (e) {
    throw new Error(`videoChunkArgs: ${(e as Error).message}`);
  }
  const device: DeviceRef = input.hardware?.device ?? (run.id === "vaapi" && input.vaapi_device ? { path: input.vaapi_device } : {});
  const picture = planPicture(input.traits, renditions.map((r) => r.profile.video.pixel_format));
  // Frames stay on the GPU only when no CPU filter (deinterlace, tone mapping) has to touch them.
  const hwDecode =
    input.hardware?.decode === true && run.id !== "cpu" && picture.shared.length === 0 && input.burn === undefined && picture.perRendition.every((f) => f.length === 0) &&
    renditions.every((r) => r.profile.video.frame_rate === undefined);

  const args: string[] = inputArgs(run, device, hwDecode);
  args.push(...chunkSeekArgs(input.start_pts, input.start_frame, fps, input.source_format), "-i", input.input);

  const branches = renditions.map((r, i) => {
    const filters: string[] = [...(picture.perRendition[i] ?? [])];
    const rate = frameRateOf(r.profile.video.frame_rate);
    if (rate) filters.push(...constantRateFilters(rate.text, input.start_pts - (input.origin_pts ?? input.start_pts)));
    const step = r.frame_step ?? 1;
    // Global grid: source frame (startFrame + n) is kept when divisible by step.
    if (step > 1) filters.push(`select=not(mod(n+${startFrame % step}\\,${step}))`);
    return { label: `v${i}`, chain: rungChain(run, { width: r.width, height: r.height, before: filters, encoder: r.encoder }, hwDecode) };
  });
  // Burned subtitles go on the picture after deinterlacing/tone mapping, once for every rendition.
  const burn = input.burn ? burnFilters(input.burn.ass_path, input.start_pts) : [];
  const head = ["setpts=PTS-STARTPTS", ...picture.shared, ...burn].join(",");
  const graph =
    branches.length === 1
      ? `[0:v]${head},${branches[0]?.chain}[v0]`
      : `[0:v]${head},split=${branches.length}${branches.map((_, i) => `[s${i}]`).join("")};` +
        branches.map((b, i) => `[s${i}]${b.chain}[${b.label}]`).join(";");
  args.push("-filter_complex", graph);

  renditions.forEach((r, i) => {
    const { video } = r.profile;
    if (part_format === "mpegts" && video.codec !== "h264" && video.codec !== "hevc") {
      throw new Error(`videoChunkArgs: ${video.codec} parts cannot be written as MPEG-TS (FFmpeg 5.1); use mp4`);
    }
    const step = r.frame_step ?? 1;
    const outFps = frameRateOf(video.frame_rate)?.fps ?? fps / step;
    const K = video.keyframe_interval_s;
    args.push(
      "-map",
      `[v${i}]`,
      "-an",
      "-frames:v",
      String(chunkRenditionFrames(input, r)),
      "-fps_mode",
      "passthrough",
      ...videoEncoderArgs(r.encoder, r.profile, device, hwDecode),
      ...(picture.colorArgs[i] ?? []),
      "-force_key_frames",
      `expr:gte(t,n_forced*${K})`,
      "-g",
      String(Math.ceil(outFps * K - 1e-6)),
    );
    if (isVp9(r.encoder)) args.push("-keyint_min", String(Math.ceil(outFps * K - 1e-6)));
    if (video.codec === "hevc" && part_format === "mp4") args.push("-tag:v", "hvc1");
    args.push("-map_metadata", "-1", "-map_chapters", "-1");
    if (part_format === "mp4") args.push("-movie_timescale", "1000000");
    args.push("-f", part_format, input.output(i));
  });
  return args;
}

const isVp9 = (encoder: string) => encoder === "libvpx-vp9";
