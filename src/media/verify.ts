/**
 * The checks an output must pass before a job completes (issue 5, "package"). Pure: the worker probes
 * the output with ffprobe and hands the numbers here; every failed rule yields a message with the
 * numbers, which become the WE-JOB-008 error of the job.
 */
import { seconds } from "./args/units.ts";

export interface VerifySource {
  /** Video stream duration, seconds. */
  duration_s: number;
  /** Video frame count (for the rendition's frame rate: divide for decimated renditions first). */
  frames: number;
  fps: number;
  /** Audio stream duration when the source has audio; undefined when it has none. */
  audio_duration_s?: number;
}

export interface VerifyOutput {
  video_duration_s: number;
  frames: number;
  audio_duration_s?: number;
  audio_sample_rate?: number;
  /** Decides the audio frame size; default aac. */
  audio_codec?: "aac" | "opus";
}

export interface VerifyResult {
  ok: boolean;
  problems: string[];
}

/** Slack for ffprobe's 6-decimal output and binary fractions. */
const EPS = 1e-6;
/**
 * Container rounding on top of one audio frame: an MP4 movie header keeps durations in ms and an
 * edit list can trim by a fraction of a frame, so the two tracks' ends can differ by up to 1 ms more.
 */
const CONTAINER_SLACK_S = 0.001;

// Numbers in messages read as ffprobe prints them and the argv writes them: at most 6 decimals.
const fmt = seconds;

/** Samples per frame: AAC-LC 1024 at the stream's rate; Opus as FFmpeg's libopus writes it, 20 ms. */
export function audioFrameSeconds(codec: "aac" | "opus", sampleRate: number | undefined): number {
  return codec === "opus" ? 960 / 48000 : 1024 / (sampleRate ?? 48000);
}

/**
 * - video: |output − source duration| ≤ one frame (1/fps).
 * - frames: output count = source count, exactly (the pipeline is frame-exact by construction).
 * - audio (when the source has audio, the output must have it too): |audio − video| of the output
 *   ≤ one audio frame (1024/rate for AAC, 960/48000 for Opus) + 1 ms of container rounding. Encoding
 *   the whole track once leaves exactly that much: the last, padded AAC frame (40.008 s of audio for
 *   40.000 s of video). A source whose audio is itself longer or shorter than its video is reproduced,
 *   not "fixed", so the output difference may instead match the SOURCE's audio−video difference within
 *   the same allowance. (Audio is cut at the first video frame, so a source whose audio merely STARTS
 *   earlier comes out in the first form: measured 10.008 s of audio for 10.010 s of video from an
 *   MPEG-TS source whose audio stream is 21 ms longer than its video.)
 */
export function verifyOutput(input: { source: VerifySource; output: VerifyOutput }): VerifyResult {
  const { source, output } = input;
  const problems: string[] = [];
  const frame = 1 / source.fps;

  const drift = Math.abs(output.video_duration_s - source.duration_s);
  if (!(drift <= frame + EPS)) {
    problems.push(
      `video duration ${fmt(output.video_duration_s)} s differs from the source's ${fmt(source.duration_s)} s by ${fmt(drift)} s (allowed: one frame, ${fmt(frame)} s)`,
    );
  }
  if (output.frames !== source.frames) {
    problems.push(`video has ${output.frames} frames, the source has ${source.frames} (difference ${output.frames - source.frames})`);
  }

  if (source.audio_duration_s !== undefined && output.audio_duration_s === undefined) {
    problems.push(`audio is missing: the source has ${fmt(source.audio_duration_s)} s of audio`);
  }
  if (output.audio_duration_s !== undefined) {
    const codec = output.audio_codec ?? "aac";
    const allowed = audioFrameSeconds(codec, output.audio_sample_rate) + CONTAINER_SLACK_S;
    const sourceGap = source.audio_duration_s === undefined ? 0 : source.audio_duration_s - source.duration_s;
    const gap = output.audio_duration_s - output.video_duration_s;
    const deviation = Math.min(Math.abs(gap), Math.abs(gap - sourceGap));
    if (!(deviation <= allowed + EPS)) {
      problems.push(
        `audio duration ${fmt(output.audio_duration_s)} s vs video ${fmt(output.video_duration_s)} s: difference ${fmt(gap)} s` +
          (sourceGap === 0 ? "" : ` (source: ${fmt(sourceGap)} s)`) +
          ` exceeds one ${codec} frame + ${CONTAINER_SLACK_S * 1000} ms (${fmt(allowed)} s)`,
      );
    }
  }
  return { ok: problems.length === 0, problems };
}

/**
 * HLS variants switch cleanly only when every variant has keyframes at the same times. Each variant's
 * list is compared with variant 0; the first mismatch of each variant is reported with its times.
 */
export function keyframesAligned(variants: readonly (readonly number[])[], tolerance_s: number): VerifyResult {
  const problems: string[] = [];
  const reference = variants[0];
  if (reference === undefined) return { ok: true, problems };
  variants.forEach((times, v) => {
    if (v === 0) return;
    const n = Math.max(times.length, reference.length);
    for (let i = 0; i < n; i++) {
      const a = reference[i];
      const b = times[i];
      if (a === undefined || b === undefined) {
        problems.push(
          `variant ${v} has ${times.length} keyframes, variant 0 has ${reference.length} (first unmatched: ${fmt((a ?? b) as number)} s in variant ${a === undefined ? v : 0})`,
        );
        return;
      }
      if (Math.abs(a - b) > tolerance_s + EPS) {
        problems.push(`variant ${v} keyframe ${i} is at ${fmt(b)} s, variant 0 has it at ${fmt(a)} s (tolerance ${fmt(tolerance_s)} s)`);
        return;
      }
    }
  });
  return { ok: problems.length === 0, problems };
}
