/** Stitch and package: the parts of a rendition joined and muxed with its audio, then cut into HLS. */
import type { VideoCodec } from "../profile-spec.ts";
import { seconds } from "./units.ts";

/**
 * The concat demuxer's list (ffconcat): `file '<path>'` per part, a `'` written as `'\''` (close the
 * quote, escaped quote, reopen). Line breaks cannot be expressed and are refused.
 */
export function concatList(paths: readonly string[], durations?: readonly number[]): string {
  if (paths.length === 0) throw new Error("concatList: no parts");
  const lines = ["ffconcat version 1.0"];
  for (const [i, path] of paths.entries()) {
    if (/[\r\n]/.test(path)) throw new Error(`concatList: a path with a line break cannot be listed: ${JSON.stringify(path)}`);
    lines.push(`file '${path.replaceAll("'", "'\\''")}'`);
    // The next part starts this long after this one: a part of a variable-rate source ends with a frame
    // whose stored duration is 1/r_frame_rate (measured: 1/120 s for a 24/30 fps mix), not the time to the
    // next keyframe, and every join would pull the rest of the video earlier by the difference.
    const d = durations?.[i];
    if (d !== undefined) lines.push(`duration ${seconds(d)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** An encoded audio track (audioArgs' output) and how the output labels it. */
export interface MuxAudio {
  path: string;
  /** ISO 639-2 ("und": unknown). */
  language: string;
  title: string | null;
  default: boolean;
}

/** A converted subtitle track and how the output labels it. */
export interface MuxSubtitle {
  path: string;
  /** ISO 639-2 ("und": unknown). */
  language: string;
  name: string;
  default: boolean;
}

export interface ConcatMuxInput {
  concat_list: string;
  /** The whole-file audio from audioArgs; absent for video-only outputs. */
  audio?: string;
  /** Several tracks, in output order (replaces `audio`): each keeps its language, title and default flag. */
  audio_tracks?: readonly MuxAudio[];
  /** WebVTT files (media/subtitles.ts), in output order: mov_text in MP4, WebVTT in WebM. */
  subtitles?: readonly MuxSubtitle[];
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
export function concatMuxArgs(input: ConcatMuxInput): string[] {
  const args = ["-f", "concat", "-safe", "0", "-i", input.concat_list];
  const tracks = input.audio_tracks ?? (input.audio === undefined ? [] : [{ path: input.audio }]);
  for (const t of tracks) args.push("-i", t.path);
  args.push("-map", "0:v:0");
  tracks.forEach((_, i) => args.push("-map", `${i + 1}:a:0`));
  const subtitles = input.subtitles ?? [];
  // Named with -f: the converted files are ours, and WebVTT is not a source format (media/input-policy.ts).
  for (const s of subtitles) args.splice(args.indexOf("-map"), 0, "-f", "webvtt", "-i", s.path);
  subtitles.forEach((_, i) => args.push("-map", `${tracks.length + 1 + i}:s:0`));
  args.push("-c", "copy");
  if (subtitles.length > 0) args.push("-c:s", input.container === "mp4" ? "mov_text" : "webvtt");
  subtitles.forEach((s, i) => {
    args.push(`-metadata:s:s:${i}`, `language=${s.language}`);
    args.push(`-metadata:s:s:${i}`, `${input.container === "mp4" ? "handler_name" : "title"}=${s.name}`);
    args.push(`-disposition:s:${i}`, s.default ? "default" : "0");
  });
  (input.audio_tracks ?? []).forEach((t, i) => {
    args.push(`-metadata:s:a:${i}`, `language=${t.language}`);
    // MP4 keeps no per-track title: the handler name (hdlr) is what players list; Matroska/WebM has title.
    if (t.title !== null) args.push(`-metadata:s:a:${i}`, `${input.container === "mp4" ? "handler_name" : "title"}=${t.title}`);
    args.push(`-disposition:a:${i}`, t.default ? "default" : "0");
  });
  if (input.container === "mp4" && input.video_codec === "hevc") args.push("-tag:v", "hvc1");
  if (input.container === "mp4" && input.faststart) args.push("-movflags", "+faststart");
  args.push("-f", input.container, input.output);
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
  /**
   * What goes into the segments. Default: the video and its first audio track if any (muxed). "video":
   * video only (the audio plays from alternate renditions); "audio": the input's first audio track only.
   */
  streams?: "muxed" | "video" | "audio";
}

/**
 * Stream-copied VOD HLS of one rendition. The muxer writes segment URIs relative to the playlist, so
 * a directory (or storage prefix) is self-contained. `0:a:0?` keeps video-only sources working.
 */
export function hlsArgs(spec: HlsInput): string[] {
  const maps = { muxed: ["-map", "0:v:0", "-map", "0:a:0?"], video: ["-map", "0:v:0"], audio: ["-map", "0:a:0"] }[spec.streams ?? "muxed"];
  const args = ["-i", spec.input, ...maps, "-c", "copy", "-f", "hls"];
  args.push("-hls_time", seconds(spec.segment_seconds), "-hls_playlist_type", "vod", "-hls_flags", "independent_segments");
  args.push("-hls_segment_type", spec.segment_type);
  if (spec.segment_type === "fmp4") args.push("-hls_fmp4_init_filename", spec.init_filename ?? "init.mp4");
  args.push("-hls_segment_filename", spec.segment_pattern, spec.out_dir_playlist);
  return args;
}
