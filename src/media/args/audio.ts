/** The audio task's ffmpeg: the whole track once (AAC priming at every chunk join would click and drift). */
import type { AudioSpec } from "../profile-spec.ts";
import { kbps, seconds } from "./units.ts";

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
