/**
 * The checks an output must pass before a job completes (issue 5, "package"). Pure: the worker probes
 * the output with ffprobe and hands the numbers here; every failed rule yields a message with the
 * numbers, which become the WE-JOB-008 error of the job.
 */
import { seconds } from "./args/units.ts";

export interface VerifySource {
  /** Video stream duration on its timestamps, seconds. */
  duration_s: number;
  /** Video frame count (for the rendition's frame rate: divide for decimated renditions first). */
  frames: number;
  fps: number;
  /** What `frames` counts, for messages: "the source has" (default) or a constant-rate grid's description. */
  frames_reference?: string;
  /** Longest interval between two source frames: "one frame" for a variable-rate source. Default 1/fps. */
  max_interval_s?: number;
  /**
   * The audio tracks the output must carry, in output order: a name for messages and where the track
   * ends, in seconds after the source's first video frame (null when the source does not say).
   */
  audio_tracks?: ReadonlyArray<{ label: string; end_s: number | null; frame_s?: number }>;
  /** One track starting with the video: shorthand for audio_tracks [{ label: "audio", end_s }]. */
  audio_duration_s?: number;
}

export interface OutputAudio {
  duration_s: number;
  /** First sample's pts in the output (the video starts at 0). Default 0. */
  start_s?: number;
  sample_rate?: number;
  /** Decides the audio frame size; default aac. */
  codec?: "aac" | "opus";
}

export interface VerifyOutput {
  video_duration_s: number;
  frames: number;
  /** The output's audio streams in order. */
  audio_tracks?: readonly OutputAudio[];
  /** One audio stream: shorthand for audio_tracks. */
  audio_duration_s?: number;
  audio_sample_rate?: number;
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
 * edit list can trim by a fraction of a frame, so a track's end can differ by up to 1 ms more.
 */
const CONTAINER_SLACK_S = 0.001;

// Numbers in messages read as ffprobe prints them and the argv writes them: at most 6 decimals.
const fmt = seconds;
const signed = (x: number) => `${x >= 0 ? "+" : "-"}${fmt(Math.abs(x))}`;

/**
 * How exactly a source track's container states where it ends: to one frame of its codec. A decoder
 * always returns whole frames (the last one padded), while containers declare the end as the last
 * packet's start (MPEG-TS: one AAC frame short, measured) or the trimmed sample count (Matroska: up to one
 * frame short); 0 for PCM and unknown codecs.
 */
export function sourceAudioFrameSeconds(codec: string, sampleRate: number): number {
  const samples: Record<string, number> = { aac: 1024, mp3: 1152, mp2: 1152, ac3: 1536, eac3: 1536, opus: 960, vorbis: 2048 };
  const n = samples[codec];
  if (n === undefined || !(sampleRate > 0)) return 0;
  return codec === "opus" ? n / 48000 : n / sampleRate;
}

/** Samples per frame: AAC-LC 1024 at the stream's rate; Opus as FFmpeg's libopus writes it, 20 ms. */
export function audioFrameSeconds(codec: "aac" | "opus", sampleRate: number | undefined): number {
  return codec === "opus" ? 960 / 48000 : 1024 / (sampleRate ?? 48000);
}

/**
 * Each output stream is compared with the SAME stream of the source, never with another stream of the
 * output (audio that runs 40 ms past the video in the source does so in the output too):
 * - video: |output − source duration| ≤ one frame (1/fps; the longest frame interval of a variable-rate
 *   source), both measured on timestamps.
 * - frames: output count = source count, exactly (the pipeline is frame-exact by construction).
 * - audio track i: it must exist, and where it ends (its start + duration, on the output's clock whose 0
 *   is the first video frame) must be where the source's track i ends relative to the source's first
 *   video frame, within one audio frame (1024/rate for AAC, 960/48000 for Opus: the last, padded frame
 *   of a re-encode), plus one frame of the source's codec when given (how exactly its container states
 *   the end, sourceAudioFrameSeconds), + 1 ms of container rounding. Audio that starts late, ends early or runs long keeps
 *   that relationship; a track whose source end is unknown is held to the output video's end.
 * Every message names the stream, the expected and the actual value.
 */
export function verifyOutput(input: { source: VerifySource; output: VerifyOutput }): VerifyResult {
  const { source, output } = input;
  const problems: string[] = [];
  const frame = source.max_interval_s ?? 1 / source.fps;
  const oneFrame = source.max_interval_s === undefined ? "one frame" : "the longest frame interval";

  const drift = Math.abs(output.video_duration_s - source.duration_s);
  if (!(drift <= frame + EPS)) {
    problems.push(
      `video duration ${fmt(output.video_duration_s)} s differs from the source's ${fmt(source.duration_s)} s by ${fmt(drift)} s (allowed: ${oneFrame}, ${fmt(frame)} s)`,
    );
  }
  if (output.frames !== source.frames) {
    problems.push(`video has ${output.frames} frames, ${source.frames_reference ?? "the source has"} ${source.frames} (difference ${output.frames - source.frames})`);
  }

  const expected = source.audio_tracks ?? (source.audio_duration_s === undefined ? [] : [{ label: "audio", end_s: source.audio_duration_s }]);
  const actual =
    output.audio_tracks ??
    (output.audio_duration_s === undefined ? [] : [{ duration_s: output.audio_duration_s, sample_rate: output.audio_sample_rate, codec: output.audio_codec }]);
  expected.forEach((track, i) => {
    const out = actual[i];
    if (out === undefined) {
      problems.push(`${track.label} is missing` + (track.end_s === null ? "" : `: the source has ${fmt(track.end_s)} s of it`));
      return;
    }
    const codec = out.codec ?? "aac";
    const sourceFrame = track.frame_s ?? 0;
    const allowed = audioFrameSeconds(codec, out.sample_rate) + sourceFrame + CONTAINER_SLACK_S;
    const end = (out.start_s ?? 0) + out.duration_s;
    const target = track.end_s ?? output.video_duration_s;
    const off = end - target;
    if (!(Math.abs(off) <= allowed + EPS)) {
      const reference = track.end_s === null ? `the video's end (${fmt(target)} s; the source's ${track.label} has no duration)` : `${fmt(target)} s as in the source`;
      problems.push(
        `${track.label} ends at ${fmt(end)} s, expected ${reference}: off by ${signed(off)} s (allowed: one ${codec} frame${sourceFrame ? " + one source frame" : ""} + ${CONTAINER_SLACK_S * 1000} ms, ${fmt(allowed)} s)`,
      );
    }
  });
  if (actual.length > expected.length) problems.push(`the output has ${actual.length} audio streams, expected ${expected.length}`);
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

/**
 * What an output's video must match, per rendition: a constant-rate rendition (profile frame_rate) has the
 * frames of its grid over the source's duration, round(duration × rate), each 1/rate long (one frame of
 * slack is 1/rate); a decimated one (max_fps) every frame_step-th source frame; otherwise the source's
 * frames, with the longest frame interval as "one frame" for a variable-rate source.
 */
export function expectedVideo(
  source: { duration_s: number; frames: number; fps: number; max_interval_s?: number },
  rendition: { frame_rate?: number; frame_step: number },
): Pick<VerifySource, "frames" | "fps" | "max_interval_s" | "frames_reference"> {
  if (rendition.frame_rate !== undefined) {
    const frames = Math.round(Math.round(source.duration_s * rendition.frame_rate * 1e6) / 1e6);
    return { frames, fps: rendition.frame_rate, frames_reference: `the profile's frame_rate ${Math.round(rendition.frame_rate * 1000) / 1000} fps over the source's ${seconds(source.duration_s)} s gives` };
  }
  const step = rendition.frame_step;
  const frames = step <= 1 ? source.frames : Math.floor((source.frames - 1) / step) + 1;
  return { frames, fps: source.fps / step, ...(source.max_interval_s && step === 1 ? { max_interval_s: source.max_interval_s } : {}) };
}
