/** Stitch and package: the parts of a rendition joined and muxed with its audio, then cut into HLS. */
import type { VideoCodec } from "../profile-spec.ts";
import { seconds } from "./units.ts";

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
