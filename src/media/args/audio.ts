/** The audio task's ffmpeg: one track, whole, once (AAC priming at every chunk join would click and drift). */
import type { AudioSpec } from "../profile-spec.ts";
import { kbps, seconds } from "./units.ts";

export interface AudioInput {
  input: string;
  audio: AudioSpec;
  output: string;
  /** Which audio track: N of `0:a:N`. Default 0. */
  track?: number;
  /**
   * pts of the source's first video frame: the output's 0. Given, the track keeps its place relative to
   * the video: audio that starts later is preceded by silence, audio before the first frame is cut, so
   * the output (whose video starts at 0) has the source's A/V offset without relying on edit lists that
   * players treat differently.
   */
  start_s?: number;
}

/**
 * AAC goes into an MP4 (.m4a) and Opus into WebM: the containers the final mux copies from. `-ar` is
 * always written for Opus (libopus runs at 48 kHz) and for AAC when the profile fixes a rate (the kernel
 * fixes 48 kHz for sources at rates players handle badly, e.g. 8 or 22.05 kHz). `-ac` downmixes 5.1 to
 * the profile's channels with FFmpeg's standard matrix, and spreads mono over both.
 */
export function audioArgs(spec: AudioInput): string[] {
  const { audio } = spec;
  const args: string[] = [];
  // -copyts: the filter sees the source's own pts, so the video start can be subtracted exactly.
  if (spec.start_s !== undefined) args.push("-copyts");
  args.push("-i", spec.input, "-vn", "-sn", "-dn", "-map", `0:a:${spec.track ?? 0}`);
  if (spec.start_s !== undefined) {
    // Shift to the video's clock, then pad (late audio) or trim (early audio) to start exactly at 0;
    // async=1 also fills timestamp gaps inside the track with silence instead of closing them up.
    const shift = spec.start_s >= 0 ? `-${seconds(spec.start_s)}` : `+${seconds(-spec.start_s)}`;
    args.push("-af", `asetpts=PTS${shift}/TB,aresample=async=1:first_pts=0`);
  }
  args.push("-c:a", audio.codec === "aac" ? "aac" : "libopus", "-b:a", kbps(audio.bitrate_kbps), "-ac", String(audio.channels));
  const rate = audio.codec === "opus" ? 48000 : audio.sample_rate;
  if (rate !== undefined) args.push("-ar", String(rate));
  args.push("-map_metadata", "-1", "-map_chapters", "-1", "-f", audio.codec === "aac" ? "mp4" : "webm", spec.output);
  return args;
}
