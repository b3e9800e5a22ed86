/**
 * The source summary the analyze step produces from FFprobe's JSON and the keyframe index (pure). It is
 * what planning needs (duration, frame rate, frame count, keyframes with their frame numbers) and what the
 * API shows under `source` (codecs, size, rotation, audio).
 */
export interface SourceSummary {
  duration_s: number;
  size_bytes: number | null;
  bit_rate: number | null;
  format: string;
  video: { codec: string; width: number; height: number; fps: number; frames: number; rotation: number; sar: number; pix_fmt: string | null; profile: string | null };
  audio: { codec: string; channels: number; sample_rate: number; duration_s: number | null } | null;
  keyframes: Array<{ pts: number; frame: number }>;
}

type Stream = Record<string, unknown>;

export function parseRate(rate: unknown): number {
  const m = /^(\d+)\/(\d+)$/.exec(String(rate ?? ""));
  if (!m || Number(m[2]) === 0) return 0;
  return Number(m[1]) / Number(m[2]);
}

/** Display rotation in degrees clockwise (0, 90, 180, 270) from side data or the legacy `rotate` tag. */
export function rotationOf(s: Stream): number {
  const side = (s.side_data_list as Array<Record<string, unknown>> | undefined)?.find((d) => d.rotation !== undefined);
  const raw = side ? Number(side.rotation) : Number((s.tags as Record<string, unknown> | undefined)?.rotate ?? 0);
  if (!Number.isFinite(raw)) return 0;
  return (((Math.round(raw / 90) * 90) % 360) + 360) % 360;
}

import { keyframeProblem } from "./planner.ts";

export class SourceProblem extends Error {}

export function summarizeProbe(raw: { format?: Stream; streams?: Stream[]; keyframes?: number[]; keyframe_frames?: number[]; packets?: number }): SourceSummary {
  const streams = raw.streams ?? [];
  const v = streams.find((s) => s.codec_type === "video" && !(s.disposition as Record<string, number> | undefined)?.attached_pic);
  const a = streams.find((s) => s.codec_type === "audio");
  if (!v) throw new SourceProblem(a ? "the source has no video stream (audio-only sources are not supported)" : "the source has no audio or video streams");
  const fps = parseRate(v.avg_frame_rate) || parseRate(v.r_frame_rate);
  if (!fps) throw new SourceProblem("the video stream has no usable frame rate");
  const frames = Number(raw.packets ?? v.nb_frames ?? 0);
  if (!frames) throw new SourceProblem("the video stream has no frames");
  // A cut-off MP4 whose index (moov) comes first probes "fine" (FFprobe only warns "partial file"), but
  // fewer packets can be read than the index lists. Caught here it is a permanent input error; caught later
  // it is a chunk whose frame count never matches, retried until the attempts run out.
  const listed = Number(v.nb_frames ?? 0);
  if (raw.packets !== undefined && listed > 0 && raw.packets < listed) {
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
  const num = (x: unknown) => (x === undefined || x === null || x === "N/A" || Number.isNaN(Number(x)) ? null : Number(x));
  return {
    duration_s: frames / fps,
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
    },
    audio: a
      ? { codec: String(a.codec_name ?? "unknown"), channels: Number(a.channels ?? 2), sample_rate: Number(a.sample_rate ?? 48000), duration_s: num(a.duration) }
      : null,
    keyframes,
  };
}
