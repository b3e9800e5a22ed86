/**
 * The source summary the analyze step produces from FFprobe's JSON and the keyframe index (pure). It is
 * what planning needs (duration, frame rate, frame count, keyframes with their frame numbers) and what the
 * API shows under `source` (codecs, size, rotation, audio).
 */
import type { AudioTrack, SourceSummary } from "../core/task-contracts.ts";

/** The summary is the analyze task's result: its one definition is the task contract (core/task-contracts.ts). */
export type { AudioTrack, SourceSummary };

type Stream = Record<string, unknown>;

export function parseRate(rate: unknown): number {
  const m = /^(\d+)\/(\d+)$/.exec(String(rate ?? ""));
  if (!m || Number(m[2]) === 0) return 0;
  return Number(m[1]) / Number(m[2]);
}

/** Display rotation in degrees clockwise (0, 90, 180, 270) from side data or the legacy `rotate` tag. */
export function rotationOf(stream: Stream): number {
  const side = (stream.side_data_list as Array<Record<string, unknown>> | undefined)?.find((d) => d.rotation !== undefined);
  const raw = side ? Number(side.rotation) : Number((stream.tags as Record<string, unknown> | undefined)?.rotate ?? 0);
  if (!Number.isFinite(raw)) return 0;
  return (((Math.round(raw / 90) * 90) % 360) + 360) % 360;
}

import { keyframeProblem } from "./planner.ts";
import { subtitleTracksOf } from "./subtitles.ts";
import { ignoredStreamsOf, isVariableRate, unsupportedCodecProblem, type VideoTiming } from "./probe.ts";
import { videoTraitsOf } from "./filters/traits.ts";

const tag = (stream: Stream, name: string): string | undefined => {
  const tags = (stream.tags ?? {}) as Record<string, unknown>;
  const key = Object.keys(tags).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : String(tags[key]);
};

/**
 * Matroska has no stream duration in the header; its muxer writes a `DURATION` tag ("00:00:04.021000000")
 * that is where the stream ENDS (measured: video starting at 0.021 s after 4 s of frames says 4.021), so
 * the duration is that minus the start.
 */
function streamDuration(stream: Stream): number | null {
  const d = Number(stream.duration);
  if (stream.duration !== undefined && Number.isFinite(d)) return d;
  const m = /^(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(tag(stream, "duration") ?? "");
  if (!m) return null;
  const start = Number(stream.start_time);
  return round6(Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) - (Number.isFinite(start) ? start : 0));
}

/** Every audio stream of a probe as a track of the job (language "und" and no title when untagged). */
export function audioTracksOf(streams: readonly Stream[]): AudioTrack[] {
  const audio = streams.filter((s) => s.codec_type === "audio");
  const anyDefault = audio.some((s) => (s.disposition as Record<string, number> | undefined)?.default === 1);
  return audio.map((s, index) => ({
    index,
    codec: String(s.codec_name ?? "unknown"),
    channels: Number(s.channels ?? 2),
    sample_rate: Number(s.sample_rate ?? 48000),
    start_s: Number.isFinite(Number(s.start_time)) ? Number(s.start_time) : 0,
    duration_s: streamDuration(s),
    language: (tag(s, "language") ?? "und").slice(0, 8),
    title: tag(s, "title") ?? null,
    // Without any default flag the first track is the default, as players assume.
    default: anyDefault ? (s.disposition as Record<string, number> | undefined)?.default === 1 : index === 0,
  }));
}

export class SourceProblem extends Error {}

export function summarizeProbe(raw: { format?: Stream; streams?: Stream[]; keyframes?: number[]; keyframe_frames?: number[]; packets?: number; timing?: VideoTiming }): SourceSummary {
  const streams = raw.streams ?? [];
  const v = streams.find((s) => s.codec_type === "video" && !(s.disposition as Record<string, number> | undefined)?.attached_pic);
  const a = streams.find((s) => s.codec_type === "audio");
  if (!v) {
    throw new SourceProblem(
      a ? "the source has audio but no video stream: audio-only sources are not transcoded (docs/media.md); submit a video, or add a still picture to the audio" : "the source has no audio or video streams",
    );
  }
  const unknownCodec = unsupportedCodecProblem(v, "video");
  if (unknownCodec) throw new SourceProblem(unknownCodec);
  const frames = Number(raw.packets ?? v.nb_frames ?? 0);
  if (!frames) throw new SourceProblem("the video stream has no frames");
  const nominal = parseRate(v.avg_frame_rate) || parseRate(v.r_frame_rate);
  // Durations come from timestamps, never from frames ÷ a nominal rate (wrong for variable-rate sources).
  const t = raw.timing;
  const end = t ? (t.end_s > t.start_s ? t.end_s : t.start_s + (nominal ? 1 / nominal : 0)) : undefined;
  const timed = t && end !== undefined && end > t.start_s ? { ...t, end_s: end } : undefined;
  const vfr = timed ? isVariableRate(timed) : false;
  const fps = timed && (vfr || !nominal) ? frames / (timed.end_s - timed.start_s) : nominal;
  if (!fps) throw new SourceProblem("the video stream has no usable frame rate");
  // A cut-off MP4 whose index (moov) comes first probes "fine" (FFprobe only warns "partial file"), but
  // fewer packets can be read than the index lists. Caught here it is a permanent input error; caught later
  // it is a chunk whose frame count never matches, retried until the attempts run out.
  // Only MP4/MOV: an AVI index also lists the empty chunks of dropped frames (measured: 101 listed, 100 read).
  const listed = Number(v.nb_frames ?? 0);
  const isMov = String(raw.format?.format_name ?? "").startsWith("mov");
  if (isMov && raw.packets !== undefined && listed > 0 && raw.packets < listed) {
    throw new SourceProblem(`the file is truncated: its index lists ${listed} video frames but only ${raw.packets} can be read`);
  }
  const width = Number(v.width ?? 0);
  const height = Number(v.height ?? 0);
  if (!width || !height) throw new SourceProblem("the video stream has no dimensions");
  const kf = raw.keyframes ?? [];
  const kff = raw.keyframe_frames ?? [];
  const keyframes = kf.map((pts, i) => ({ pts, frame: kff[i] ?? Math.round(pts * fps) }));
  // What the kernel's planner would refuse is refused here, by the worker, as an input error of the source.
  const unplannable = raw.keyframes === undefined ? undefined : keyframeProblem([...keyframes].sort((x, y) => x.frame - y.frame), frames);
  if (unplannable) throw new SourceProblem(unplannable);
  const format = raw.format ?? {};
  const num = (error: unknown) => (error === undefined || error === null || error === "N/A" || Number.isNaN(Number(error)) ? null : Number(error));
  const tracks = audioTracksOf(streams);
  const ignored = ignoredStreamsOf(streams);
  const subtitles = subtitleTracksOf(streams);
  return {
    duration_s: timed ? round6(timed.end_s - timed.start_s) : frames / fps,
    size_bytes: num(format.size),
    bit_rate: num(format.bit_rate),
    format: String(format.format_name ?? "unknown"),
    video: {
      codec: String(v.codec_name ?? "unknown"),
      width,
      height,
      fps,
      frames,
      rotation: rotationOf(v),
      sar: parseRate(String(v.sample_aspect_ratio ?? "1:1").replace(":", "/")) || 1,
      pix_fmt: (v.pix_fmt as string | undefined) ?? null,
      profile: (v.profile as string | undefined) ?? null,
      traits: videoTraitsOf(v),
      ...(timed
        ? { start_s: timed.start_s, vfr, max_interval_s: timed.max_interval_s || 1 / fps, peak_fps: timed.min_interval_s > 0 ? Math.max(fps, 1 / timed.min_interval_s) : fps }
        : {}),
    },
    audio: a
      ? { codec: String(a.codec_name ?? "unknown"), channels: Number(a.channels ?? 2), sample_rate: Number(a.sample_rate ?? 48000), duration_s: streamDuration(a) }
      : null,
    audio_tracks: tracks,
    ...(ignored.length > 0 ? { ignored_streams: ignored } : {}),
    ...(subtitles.length > 0 ? { subtitle_tracks: subtitles } : {}),
    keyframes,
  };
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
