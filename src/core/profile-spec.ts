/**
 * What an encoding profile is: the typed model a job's rendition is built from and its validation.
 * Pure: no I/O. It lives in core because profiles travel inside task parameters (core/task-contracts.ts),
 * which both executables and the database schema share. The built-in profiles are in
 * media/profiles-builtin.ts, the encoder choice in media/encoder-choice.ts.
 */
import * as v from "valibot";
import type { Pool } from "./pools.ts";

export type Container = "mp4" | "webm";
export type VideoCodec = "h264" | "hevc" | "vp9" | "av1";
export type EncoderPreference = "auto" | "software" | "nvenc" | "qsv" | "vaapi";
export type AudioCodec = "aac" | "opus";
/** 8-bit 4:2:0, or 10-bit 4:2:0 (HEVC/AV1 software encoders: keeps an HDR source's picture, media/filters/picture.ts). */
export type PixelFormat = "yuv420p" | "yuv420p10le";
export type { Pool };

export type RateControl =
  | { mode: "crf"; crf: number }
  | { mode: "bitrate"; bitrate_kbps: number; maxrate_kbps?: number; bufsize_kbps?: number };

export interface VideoSpec {
  codec: VideoCodec;
  encoder: EncoderPreference;
  /** What to do when the preferred hardware encoder is not available: use the software encoder, or fail. */
  hardware_fallback: "cpu" | "fail";
  /** Target size of the shorter display side (the height for landscape sources); see renditions.ts. */
  height: number;
  rate_control: RateControl;
  /** Preset of the SOFTWARE encoder (x264/x265 names, libvpx cpu-used "0"–"8", SVT-AV1 "0"–"13"). */
  preset?: string;
  keyframe_interval_s: number;
  max_fps?: number;
  /**
   * Constant output frame rate: a number of frames per second (25, 29.97) or a ratio "30000/1001". Absent: the
   * output keeps the source's timing (docs/media.md). Read it with frameRateOf().
   */
  frame_rate?: number | string;
  pixel_format?: PixelFormat;
}

export interface AudioSpec {
  codec: AudioCodec;
  bitrate_kbps: number;
  channels: 1 | 2;
  sample_rate?: 48000 | 44100;
}

export interface ProfileSpec {
  id: string;
  name: string;
  description?: string;
  container: Container;
  video: VideoSpec;
  /** null: the profile produces video only (a source without audio gives no audio whatever this says). */
  audio: AudioSpec | null;
}

export const X26X_PRESETS = [
  "ultrafast",
  "superfast",
  "veryfast",
  "faster",
  "fast",
  "medium",
  "slow",
  "slower",
  "veryslow",
  "placebo",
] as const;

/** What fits together. The checks below and the error messages are derived from these tables. */
const CODECS_BY_CONTAINER: Readonly<Record<Container, readonly VideoCodec[]>> = {
  mp4: ["h264", "hevc", "av1"],
  webm: ["vp9", "av1"],
};
const AUDIO_BY_CONTAINER: Readonly<Record<Container, readonly AudioCodec[]>> = {
  mp4: ["aac"],
  webm: ["opus"],
};
/**
 * Hardware encoding is offered for H.264 and HEVC only: FFmpeg 5.1 has no av1_nvenc, SVT-AV1 is
 * software, and VP9 hardware encoders (QSV/VAAPI) exist on too few machines to be worth a pool.
 */
const ENCODERS_BY_CODEC: Readonly<Record<VideoCodec, readonly EncoderPreference[]>> = {
  h264: ["auto", "software", "nvenc", "qsv", "vaapi"],
  hevc: ["auto", "software", "nvenc", "qsv", "vaapi"],
  vp9: ["auto", "software"],
  av1: ["auto", "software"],
};
/** x264/x265 take 0–51; libvpx and SVT-AV1 take integers 0–63. */
const CRF_RANGE: Readonly<Record<VideoCodec, { max: number; integer: boolean }>> = {
  h264: { max: 51, integer: false },
  hevc: { max: 51, integer: false },
  vp9: { max: 63, integer: true },
  av1: { max: 63, integer: true },
};
const PRESETS_BY_CODEC: Readonly<Record<VideoCodec, readonly string[]>> = {
  h264: X26X_PRESETS,
  hevc: X26X_PRESETS,
  vp9: ["0", "1", "2", "3", "4", "5", "6", "7", "8"],
  av1: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"],
};

const list = (values: readonly string[]) => values.join(", ");

/** An integer field within [min, max]; every message names the field, as the API reports them verbatim. */
const intInRange = (what: string, min: number, max: number) =>
  v.pipe(
    v.number(`${what} must be a number`),
    v.integer(`${what} must be an integer`),
    v.minValue(min, `${what} must be at least ${min}`),
    v.maxValue(max, `${what} must be at most ${max}`),
  );

const rateControlSchema = v.variant(
  "mode",
  [
    v.strictObject({
      mode: v.literal("crf"),
      crf: v.pipe(v.number("video.rate_control.crf must be a number"),
        v.minValue(0, "video.rate_control.crf must be at least 0"),
        v.maxValue(63, "video.rate_control.crf must be at most 63"),
      ),
    }, "video.rate_control must be an object"),
    v.strictObject({
      mode: v.literal("bitrate"),
      bitrate_kbps: intInRange("video.rate_control.bitrate_kbps", 1, 500_000),
      maxrate_kbps: v.optional(intInRange("video.rate_control.maxrate_kbps", 1, 500_000)),
      bufsize_kbps: v.optional(intInRange("video.rate_control.bufsize_kbps", 1, 1_000_000)),
    }, "video.rate_control must be an object"),
  ],
  "video.rate_control.mode must be one of: crf, bitrate",
);

const videoSchema = v.strictObject({
  codec: v.picklist(["h264", "hevc", "vp9", "av1"], "video.codec must be one of: h264, hevc, vp9, av1"),
  encoder: v.picklist(["auto", "software", "nvenc", "qsv", "vaapi"], "video.encoder must be one of: auto, software, nvenc, qsv, vaapi"),
  hardware_fallback: v.picklist(["cpu", "fail"], "video.hardware_fallback must be one of: cpu, fail"),
  height: v.pipe(
    intInRange("video.height", 144, 4320),
    // 4:2:0 chroma subsampling needs even dimensions.
    v.check((h) => h % 2 === 0, "video.height must be even"),
  ),
  rate_control: rateControlSchema,
  preset: v.optional(v.string("video.preset must be a string")),
  keyframe_interval_s: v.optional(
    v.pipe(
      v.number("video.keyframe_interval_s must be a number"),
      v.minValue(0.25, "video.keyframe_interval_s must be at least 0.25"),
      v.maxValue(20, "video.keyframe_interval_s must be at most 20"),
    ),
    2,
  ),
  max_fps: v.optional(
    v.pipe(v.number("video.max_fps must be a number"), v.minValue(1, "video.max_fps must be at least 1"), v.maxValue(240, "video.max_fps must be at most 240")),
  ),
  pixel_format: v.optional(v.picklist(["yuv420p", "yuv420p10le"], "video.pixel_format must be one of: yuv420p, yuv420p10le")),
  frame_rate: v.optional(
    v.union(
      [v.number(), v.string()],
      'video.frame_rate must be a number of frames per second or a ratio such as "30000/1001"',
    ),
  ),
}, "video must be an object");

/** A constant frame rate as a ratio (what FFmpeg's fps filter takes) and its value. */
export interface FrameRate {
  numerator: number;
  denominator: number;
  fps: number;
  /** How FFmpeg's fps filter is given it: "25", "30000/1001". */
  text: string;
}

const FRAME_RATE_RANGE = { min: 1, max: 240 };

/**
 * Parses a profile's frame_rate: a positive number (decimals kept to 3 places, as a ratio over 1000) or
 * "N/D" with whole numbers; undefined when absent. Throws an Error naming the field when it is not a rate
 * within 1–240 fps.
 */
export function frameRateOf(value: number | string | undefined): FrameRate | undefined {
  if (value === undefined) return undefined;
  let numerator: number;
  let denominator: number;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`video.frame_rate must be a finite number (got ${value})`);
    denominator = Number.isInteger(value) ? 1 : 1000;
    numerator = Math.round(value * denominator);
  } else {
    const match = /^\s*(\d{1,7})\s*(?:\/\s*(\d{1,7}))?\s*$/.exec(value);
    if (!match) throw new Error(`video.frame_rate must be a number or a ratio such as "30000/1001" (got "${value}")`);
    numerator = Number(match[1]);
    denominator = match[2] === undefined ? 1 : Number(match[2]);
  }
  if (!(denominator > 0)) throw new Error(`video.frame_rate: the denominator must be positive (got ${value})`);
  const fps = numerator / denominator;
  if (!(fps >= FRAME_RATE_RANGE.min && fps <= FRAME_RATE_RANGE.max)) {
    throw new Error(`video.frame_rate must be between ${FRAME_RATE_RANGE.min} and ${FRAME_RATE_RANGE.max} frames per second (got ${value})`);
  }
  return { numerator, denominator, fps, text: denominator === 1 ? String(numerator) : `${numerator}/${denominator}` };
}

/** A profile's audio rendition (also the parameters of an audio task). */
export const audioSpecSchema = v.strictObject({
  codec: v.picklist(["aac", "opus"], "audio.codec must be one of: aac, opus"),
  bitrate_kbps: intInRange("audio.bitrate_kbps", 6, 512),
  channels: v.picklist([1, 2], "audio.channels must be one of: 1, 2"),
  sample_rate: v.optional(v.picklist([48000, 44100], "audio.sample_rate must be one of: 48000, 44100")),
}, "audio must be an object or null");

/** Cross-field rules, each message naming the field, the allowed values and what was given. */
function combinationProblems(spec: ProfileSpec): string[] {
  const problems: string[] = [];
  const { video, audio, container } = spec;
  const codecs = CODECS_BY_CONTAINER[container];
  if (!codecs.includes(video.codec)) {
    problems.push(`video.codec: container ${container} allows ${list(codecs)} (got ${video.codec})`);
  }
  const encoders = ENCODERS_BY_CODEC[video.codec];
  if (!encoders.includes(video.encoder)) {
    problems.push(`video.encoder: codec ${video.codec} allows ${list(encoders)} (got ${video.encoder})`);
  }
  const crf = CRF_RANGE[video.codec];
  const rc = video.rate_control;
  if (rc.mode === "crf") {
    if (rc.crf > crf.max) problems.push(`video.rate_control.crf: codec ${video.codec} allows 0–${crf.max} (got ${rc.crf})`);
    if (crf.integer && !Number.isInteger(rc.crf)) {
      problems.push(`video.rate_control.crf: codec ${video.codec} allows integers only (got ${rc.crf})`);
    }
  } else {
    // x264/x265 ignore a maxrate without a VBV buffer (with a warning), so the cap would silently vanish.
    if ((rc.maxrate_kbps === undefined) !== (rc.bufsize_kbps === undefined)) {
      problems.push("video.rate_control: maxrate_kbps and bufsize_kbps must be given together");
    }
    if (rc.maxrate_kbps !== undefined && rc.maxrate_kbps < rc.bitrate_kbps) {
      problems.push(`video.rate_control.maxrate_kbps must be at least bitrate_kbps (${rc.bitrate_kbps}, got ${rc.maxrate_kbps})`);
    }
  }
  // 10-bit: what x265 and SVT-AV1 encode and players decode (HEVC Main 10, AV1 Main); 10-bit H.264 and VP9
  // play almost nowhere, and the hardware encoders take other 10-bit formats (p010) than the CPU path writes.
  if (video.pixel_format === "yuv420p10le") {
    if (video.codec !== "hevc" && video.codec !== "av1") problems.push(`video.pixel_format: yuv420p10le is for codecs hevc, av1 (got ${video.codec})`);
    if (video.encoder !== "software") problems.push(`video.pixel_format: yuv420p10le needs encoder software (got ${video.encoder})`);
  }
  if (video.frame_rate !== undefined) {
    try {
      frameRateOf(video.frame_rate);
    } catch (e) {
      problems.push((e as Error).message);
    }
    // max_fps decimates on the source's frame grid; a constant rate replaces that grid.
    if (video.max_fps !== undefined) problems.push("video.frame_rate and video.max_fps cannot be given together: frame_rate already fixes the output rate");
  }
  if (video.preset !== undefined) {
    const presets = PRESETS_BY_CODEC[video.codec];
    if (!presets.includes(video.preset)) {
      problems.push(`video.preset: codec ${video.codec} allows ${list(presets)} (got ${video.preset})`);
    }
  }
  if (audio) {
    const allowed = AUDIO_BY_CONTAINER[container];
    if (!allowed.includes(audio.codec)) {
      problems.push(`audio.codec: container ${container} allows ${list(allowed)} (got ${audio.codec})`);
    }
    // libopus encodes at 48 kHz only (other rates are resampled internally anyway).
    if (audio.codec === "opus" && audio.sample_rate !== undefined && audio.sample_rate !== 48000) {
      problems.push(`audio.sample_rate: codec opus allows 48000 (got ${audio.sample_rate})`);
    }
  }
  return problems;
}

export const profileSchema: v.GenericSchema<unknown, ProfileSpec> = v.pipe(
  v.strictObject({
    id: v.pipe(
      v.string("id must be a string"),
      v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "id must be 1–64 characters of a-z, 0-9, _ and -, starting with a letter or digit"),
    ),
    name: v.pipe(v.string("name must be a string"), v.minLength(1, "name must not be empty"), v.maxLength(200, "name must be at most 200 characters")),
    description: v.optional(v.pipe(v.string("description must be a string"), v.maxLength(2000, "description must be at most 2000 characters"))),
    container: v.picklist(["mp4", "webm"], "container must be one of: mp4, webm"),
    video: videoSchema,
    audio: v.nullable(audioSpecSchema),
  }, "profile must be an object"),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    for (const message of combinationProblems(dataset.value)) addIssue({ message });
  }),
);

/** Validates and normalizes (defaults filled in); throws an Error listing every problem, one per line. */
export function parseProfile(input: unknown): ProfileSpec {
  const result = v.safeParse(profileSchema, input);
  if (result.success) return result.output;
  const problems = result.issues.map((issue) => {
    const path = issue.path?.map((item) => String(item.key)).join(".") ?? "";
    // A strict object reports an unknown key as "expected never".
    if (issue.expected === "never") return `${path}: unknown field`;
    // A missing key is reported by its object schema with the object's message; say it in words.
    if (issue.type === "strict_object" && issue.input === undefined) return `${path}: required field is missing`;
    // Every message above starts with its field's path; valibot's own ones get it prepended.
    return path && !issue.message.startsWith(path) ? `${path}: ${issue.message}` : issue.message;
  });
  throw new Error(`invalid profile:\n- ${problems.join("\n- ")}`);
}
