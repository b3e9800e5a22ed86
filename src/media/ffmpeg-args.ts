/**
 * FFmpeg argument builders of the VOD pipeline (DESIGN.md §2). Pure: typed inputs → argv, one token per
 * element, WITHOUT the binary and without -hide_banner/-nostdin/-y/-progress (the encoder plugin adds
 * those). The behaviour noted here was checked against Debian's FFmpeg 5.1 on generated sources
 * (test/integration/media-args.test.ts repeats the checks); for NVENC, QSV and VAAPI, which need a GPU,
 * only the option names were checked (`ffmpeg -h encoder=<name>`).
 */
import type { AudioSpec, ProfileSpec, VideoCodec } from "./profiles.ts";

/** Seconds as FFmpeg reads them: fixed-point with at most 6 decimals (µs, like ffprobe), never "1e-7". */
export function seconds(x: number): string {
  const text = String(Number(x.toFixed(6)));
  return text === "-0" ? "0" : text;
}

// ---------------------------------------------------------------------------------------------------
// Video chunk: one decode, every rendition

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
  /** Index of that keyframe; only needed when a rendition decimates (frame_step > 1). Default 0. */
  start_frame?: number;
  /** Source frames in the chunk. */
  frames: number;
  /** Source frame rate (average). */
  fps: number;
  renditions: readonly ChunkRendition[];
  /** Path of the part of rendition i. */
  output: (i: number) => string;
  part_format: "mp4" | "mpegts";
  /** Render node for VAAPI encoders. Default /dev/dri/renderD128. */
  vaapi_device?: string;
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
 * One ffmpeg for every rendition of a chunk (decode once, split + scale):
 * - `-seek_timestamp 1 -ss (start_pts - preroll)`: -ss is normally relative to the file's start_time
 *   (2.8 s for a default MPEG-TS), seek_timestamp makes it the absolute pts the keyframe index holds.
 *   Decoding starts at the keyframe; frames before -ss are dropped by FFmpeg's accurate seek.
 * - `setpts=PTS-STARTPTS` puts the keyframe at t=0, so forced keyframes count from the chunk start
 *   and every part starts at 0.
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
  const families = new Set(renditions.map((r) => hwFamilyOf(r.encoder)).filter((f) => f !== "cpu" && f !== "nvidia"));
  if (families.size > 1) throw new Error(`videoChunkArgs: cannot mix ${[...families].join(" and ")} encoders in one process`);
  const family = [...families][0];

  const args: string[] = [];
  if (family === "vaapi") args.push("-init_hw_device", `vaapi=va:${input.vaapi_device ?? "/dev/dri/renderD128"}`, "-filter_hw_device", "va");
  if (family === "qsv") args.push("-init_hw_device", "qsv=qs", "-filter_hw_device", "qs");
  args.push("-seek_timestamp", "1", "-ss", seconds(input.start_pts - seekPreroll(fps)), "-i", input.input);

  const branches = renditions.map((r, i) => {
    const filters: string[] = [];
    const step = r.frame_step ?? 1;
    // Global grid: source frame (startFrame + n) is kept when divisible by step.
    if (step > 1) filters.push(`select=not(mod(n+${startFrame % step}\\,${step}))`);
    filters.push(`scale=${r.width}:${r.height}`, "setsar=1");
    const upload = hwUploadFilter(hwFamilyOf(r.encoder));
    if (upload) filters.push(upload);
    return { label: `v${i}`, chain: filters.join(",") };
  });
  const graph =
    branches.length === 1
      ? `[0:v]setpts=PTS-STARTPTS,${branches[0]?.chain}[v0]`
      : `[0:v]setpts=PTS-STARTPTS,split=${branches.length}${branches.map((_, i) => `[s${i}]`).join("")};` +
        branches.map((b, i) => `[s${i}]${b.chain}[${b.label}]`).join(";");
  args.push("-filter_complex", graph);

  renditions.forEach((r, i) => {
    const { video } = r.profile;
    if (part_format === "mpegts" && video.codec !== "h264" && video.codec !== "hevc") {
      throw new Error(`videoChunkArgs: ${video.codec} parts cannot be written as MPEG-TS (FFmpeg 5.1); use mp4`);
    }
    const step = r.frame_step ?? 1;
    const outFps = fps / step;
    const K = video.keyframe_interval_s;
    args.push(
      "-map",
      `[v${i}]`,
      "-an",
      "-frames:v",
      String(decimatedFrameCount(startFrame, frames, step)),
      "-fps_mode",
      "passthrough",
      ...videoEncoderArgs(r.encoder, r.profile),
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

type Family = "cpu" | "nvidia" | "qsv" | "vaapi";
function hwFamilyOf(encoder: string): Family {
  if (encoder.endsWith("_nvenc")) return "nvidia";
  if (encoder.endsWith("_qsv")) return "qsv";
  if (encoder.endsWith("_vaapi")) return "vaapi";
  return "cpu";
}

/** QSV and VAAPI encoders take hardware frames; NVENC and software encoders take system memory. */
function hwUploadFilter(family: Family): string | undefined {
  if (family === "qsv") return "format=nv12,hwupload=extra_hw_frames=64";
  if (family === "vaapi") return "format=nv12,hwupload";
  return undefined;
}

const kbps = (n: number) => `${n}k`;

function bitrateArgs(rc: { bitrate_kbps: number; maxrate_kbps?: number; bufsize_kbps?: number }): string[] {
  const args = ["-b:v", kbps(rc.bitrate_kbps)];
  if (rc.maxrate_kbps !== undefined) args.push("-maxrate", kbps(rc.maxrate_kbps));
  if (rc.bufsize_kbps !== undefined) args.push("-bufsize", kbps(rc.bufsize_kbps));
  return args;
}

/** Software presets when the profile names none: the encoders' own middles, written out explicitly. */
const DEFAULT_PRESET: Readonly<Record<VideoCodec, string>> = { h264: "medium", hevc: "medium", vp9: "4", av1: "8" };

/**
 * `-c:v` and everything encoder-specific. Scene-cut keyframes are disabled everywhere, because a
 * keyframe one rendition places on its own breaks GOP alignment across the ladder; forced keyframes
 * are made IDR so every segment and part starts a closed GOP.
 * - libx264: x264-params scenecut=0:open_gop=0, -forced-idr 1 (B-frames left at the preset default).
 * - libx265: x265-params scenecut=0:open-gop=0 and -forced-idr 1 (without it a forced frame is a
 *   non-IDR I frame); log-level=warning keeps its ~20 info lines out of the captured stderr tail.
 * - libvpx-vp9: -deadline good -cpu-used <preset> -row-mt 1; CRF needs -b:v 0 (constant quality);
 *   -keyint_min = -g (added by the caller) leaves no room for automatic keyframes.
 * - libsvtav1: -preset <n>, -svtav1-params scd=0 (scene-change detection off).
 * - NVENC (5.1 names): -preset p4 -tune hq -rc vbr, -cq for constant quality (with -b:v 0),
 *   -no-scenecut 1, -forced-idr 1.
 * - QSV: -preset medium, -global_quality (ICQ) or bitrate, -forced_idr 1, -adaptive_i 0.
 * - VAAPI: -rc_mode CQP -qp, or VBR with bitrate; VAAPI has no scene-cut detection.
 * The profile's `preset` is the software encoder's; hardware encoders use their balanced presets.
 */
export function videoEncoderArgs(encoder: string, profile: ProfileSpec): string[] {
  const { video } = profile;
  const rc = video.rate_control;
  const preset = video.preset ?? DEFAULT_PRESET[video.codec];
  const pixFmt = ["-pix_fmt", video.pixel_format ?? "yuv420p"];
  switch (encoder) {
    case "libx264":
      return [
        "-c:v",
        "libx264",
        "-preset",
        preset,
        ...(rc.mode === "crf" ? ["-crf", String(rc.crf)] : bitrateArgs(rc)),
        "-x264-params",
        "scenecut=0:open_gop=0",
        "-forced-idr",
        "1",
        ...pixFmt,
      ];
    case "libx265":
      return [
        "-c:v",
        "libx265",
        "-preset",
        preset,
        ...(rc.mode === "crf" ? ["-crf", String(rc.crf)] : bitrateArgs(rc)),
        "-x265-params",
        "scenecut=0:open-gop=0:log-level=warning",
        "-forced-idr",
        "1",
        ...pixFmt,
      ];
    case "libvpx-vp9":
      return [
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "good",
        "-cpu-used",
        preset,
        "-row-mt",
        "1",
        ...(rc.mode === "crf" ? ["-crf", String(rc.crf), "-b:v", "0"] : bitrateArgs(rc)),
        ...pixFmt,
      ];
    case "libsvtav1":
      return [
        "-c:v",
        "libsvtav1",
        "-preset",
        preset,
        ...(rc.mode === "crf" ? ["-crf", String(rc.crf)] : bitrateArgs(rc)),
        "-svtav1-params",
        "scd=0",
        ...pixFmt,
      ];
    case "h264_nvenc":
    case "hevc_nvenc":
      return [
        "-c:v",
        encoder,
        "-preset",
        "p4",
        "-tune",
        "hq",
        "-rc",
        "vbr",
        ...(rc.mode === "crf" ? ["-cq", String(rc.crf), "-b:v", "0"] : bitrateArgs(rc)),
        "-no-scenecut",
        "1",
        "-forced-idr",
        "1",
        ...pixFmt,
      ];
    case "h264_qsv":
    case "hevc_qsv":
      return [
        "-c:v",
        encoder,
        "-preset",
        "medium",
        ...(rc.mode === "crf" ? ["-global_quality", String(Math.max(1, Math.round(rc.crf)))] : bitrateArgs(rc)),
        "-forced_idr",
        "1",
        "-adaptive_i",
        "0",
      ];
    case "h264_vaapi":
    case "hevc_vaapi":
      return [
        "-c:v",
        encoder,
        ...(rc.mode === "crf" ? ["-rc_mode", "CQP", "-qp", String(Math.round(rc.crf))] : ["-rc_mode", "VBR", ...bitrateArgs(rc)]),
      ];
    default:
      throw new Error(`no argument builder for encoder ${encoder}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Audio: the whole track once (AAC priming at every chunk join would click and drift)

export interface AudioInput {
  input: string;
  audio: AudioSpec;
  output: string;
  /**
   * The pts of the first video keyframe (chunk 0's start_pts). Given, the audio is cut at the same
   * source instant the video parts start from, so both start at 0 together; needed when the video does
   * not start at the file's start_time (MPEG-TS, edited MP4).
   */
  start_s?: number;
}

/**
 * AAC goes into an MP4 (.m4a) and Opus into WebM: the containers the final mux copies from. `-ar` is
 * always written for Opus (libopus runs at 48 kHz) and for AAC only when the profile fixes a rate.
 */
export function audioArgs(a: AudioInput): string[] {
  const { audio } = a;
  const args: string[] = [];
  if (a.start_s !== undefined) args.push("-seek_timestamp", "1", "-ss", seconds(a.start_s));
  args.push("-i", a.input, "-vn", "-map", "0:a:0");
  args.push("-c:a", audio.codec === "aac" ? "aac" : "libopus", "-b:a", kbps(audio.bitrate_kbps), "-ac", String(audio.channels));
  const rate = audio.codec === "opus" ? 48000 : audio.sample_rate;
  if (rate !== undefined) args.push("-ar", String(rate));
  args.push("-map_metadata", "-1", "-map_chapters", "-1", "-f", audio.codec === "aac" ? "mp4" : "webm", a.output);
  return args;
}

// ---------------------------------------------------------------------------------------------------
// Stitch and package

/**
 * The concat demuxer's list (ffconcat): `file '<path>'` per part, a `'` written as `'\''` (close the
 * quote, escaped quote, reopen). Line breaks cannot be expressed and are refused.
 */
export function concatList(paths: readonly string[]): string {
  if (paths.length === 0) throw new Error("concatList: no parts");
  const lines = ["ffconcat version 1.0"];
  for (const path of paths) {
    if (/[\r\n]/.test(path)) throw new Error(`concatList: a path with a line break cannot be listed: ${JSON.stringify(path)}`);
    lines.push(`file '${path.replaceAll("'", "'\\''")}'`);
  }
  return `${lines.join("\n")}\n`;
}

export interface ConcatMuxInput {
  concat_list: string;
  /** The whole-file audio from audioArgs; absent for video-only outputs. */
  audio?: string;
  output: string;
  container: "mp4" | "webm";
  /** moov before mdat (MP4 only), so playback starts before the download ends. */
  faststart: boolean;
  /** hevc gets the hvc1 sample entry (Apple players refuse hev1). */
  video_codec?: VideoCodec;
}

/**
 * Parts joined by stream copy and muxed with the audio. MP4 parts (with the µs movie timescale of
 * videoChunkArgs) join with perfectly even timestamps; MPEG-TS parts are off by at most one 90 kHz
 * tick per join (23.976 fps); Matroska parts are not usable (1 ms timestamps). `-safe 0` because part
 * paths are absolute.
 */
export function concatMuxArgs(c: ConcatMuxInput): string[] {
  const args = ["-f", "concat", "-safe", "0", "-i", c.concat_list];
  if (c.audio !== undefined) args.push("-i", c.audio);
  args.push("-map", "0:v:0");
  if (c.audio !== undefined) args.push("-map", "1:a:0");
  args.push("-c", "copy");
  if (c.container === "mp4" && c.video_codec === "hevc") args.push("-tag:v", "hvc1");
  if (c.container === "mp4" && c.faststart) args.push("-movflags", "+faststart");
  args.push("-f", c.container, c.output);
  return args;
}

export interface HlsInput {
  /** The muxed MP4 of one rendition. */
  input: string;
  /** Path of the media playlist to write (index.m3u8). */
  out_dir_playlist: string;
  /** Segment path pattern with a %d-style counter, e.g. /out/720p/seg_%05d.ts (or .m4s). */
  segment_pattern: string;
  /** A multiple of the profile's keyframe interval: segments can only be cut on keyframes. */
  segment_seconds: number;
  segment_type: "mpegts" | "fmp4";
  /** fMP4 init segment name, relative to the playlist. Default init.mp4. */
  init_filename?: string;
}

/**
 * Stream-copied VOD HLS of one rendition. The muxer writes segment URIs relative to the playlist, so
 * a directory (or storage prefix) is self-contained. `0:a:0?` keeps video-only sources working.
 */
export function hlsArgs(h: HlsInput): string[] {
  const args = ["-i", h.input, "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-f", "hls"];
  args.push("-hls_time", seconds(h.segment_seconds), "-hls_playlist_type", "vod", "-hls_flags", "independent_segments");
  args.push("-hls_segment_type", h.segment_type);
  if (h.segment_type === "fmp4") args.push("-hls_fmp4_init_filename", h.init_filename ?? "init.mp4");
  args.push("-hls_segment_filename", h.segment_pattern, h.out_dir_playlist);
  return args;
}

// ---------------------------------------------------------------------------------------------------
// Thumbnails

export interface ThumbnailInput {
  /** A square-pixel output (the scale below ignores sample aspect ratio). */
  input: string;
  at_s: number;
  width: number;
  output: string;
}

/** A poster JPEG: input seeking is frame-accurate, the height follows the aspect ratio (even). */
export function thumbnailArgs(t: ThumbnailInput): string[] {
  return [
    "-ss",
    seconds(t.at_s),
    "-i",
    t.input,
    "-map",
    "0:v:0",
    "-frames:v",
    "1",
    "-vf",
    `scale=${t.width}:-2`,
    "-c:v",
    "mjpeg",
    "-q:v",
    "2",
    "-f",
    "image2",
    "-update",
    "1",
    t.output,
  ];
}

export interface SpriteInput {
  input: string;
  interval_s: number;
  columns: number;
  rows: number;
  tile_width: number;
  /** Needed by spriteVtt too, so the caller computes it (e.g. even(tile_width · h / w)). */
  tile_height: number;
  output: string;
}

/** One sprite sheet: a frame every interval_s, scaled, tiled columns×rows (a short video leaves blanks). */
export function spriteArgs(s: SpriteInput): string[] {
  return [
    "-i",
    s.input,
    "-map",
    "0:v:0",
    "-vf",
    `fps=1/${seconds(s.interval_s)},scale=${s.tile_width}:${s.tile_height},setsar=1,tile=${s.columns}x${s.rows}`,
    "-frames:v",
    "1",
    "-c:v",
    "mjpeg",
    "-q:v",
    "3",
    "-f",
    "image2",
    "-update",
    "1",
    s.output,
  ];
}

export interface SpriteVttInput {
  interval_s: number;
  /** Thumbnails in the sheet (normally ceil(duration / interval)). */
  count: number;
  columns: number;
  tile_width: number;
  tile_height: number;
  sprite_url: string;
  duration_s: number;
}

function vttTime(s: number): string {
  const ms = Math.round(s * 1000);
  const hh = Math.floor(ms / 3_600_000);
  const mm = Math.floor((ms % 3_600_000) / 60_000);
  const ss = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(hh)}:${pad(mm)}:${pad(ss)}.${pad(ms % 1000, 3)}`;
}

/** WebVTT seek-preview track: cue i covers [i·interval, (i+1)·interval) ∩ [0, duration] → tile i. */
export function spriteVtt(s: SpriteVttInput): string {
  const lines = ["WEBVTT", ""];
  for (let i = 0; i < s.count; i++) {
    const start = i * s.interval_s;
    if (start >= s.duration_s) break;
    const end = Math.min((i + 1) * s.interval_s, s.duration_s);
    const x = (i % s.columns) * s.tile_width;
    const y = Math.floor(i / s.columns) * s.tile_height;
    lines.push(`${vttTime(start)} --> ${vttTime(end)}`, `${s.sprite_url}#xywh=${x},${y},${s.tile_width},${s.tile_height}`, "");
  }
  return lines.join("\n");
}
