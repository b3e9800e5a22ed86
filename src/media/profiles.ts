/**
 * Encoding profiles: the typed model a job's rendition is built from, its validation, the built-in
 * profiles and ladders, and the encoder choice for a worker's hardware. Pure: no I/O.
 *
 * A profile names a codec and an encoder *preference*; the concrete FFmpeg encoder is chosen per
 * worker pool by `encoderFor`, so one profile serves CPU and GPU workers alike.
 */
import * as v from "valibot";
import type { HwFamily } from "./ffmpeg-info.ts";

export type Container = "mp4" | "webm";
export type VideoCodec = "h264" | "hevc" | "vp9" | "av1";
export type EncoderPreference = "auto" | "software" | "nvenc" | "qsv" | "vaapi";
export type AudioCodec = "aac" | "opus";
export type Pool = "cpu" | HwFamily;

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
  pixel_format?: "yuv420p";
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

export const SOFTWARE_ENCODERS: Readonly<Record<VideoCodec, string>> = {
  h264: "libx264",
  hevc: "libx265",
  vp9: "libvpx-vp9",
  av1: "libsvtav1",
};
const HARDWARE_ENCODERS: Readonly<Record<VideoCodec, Partial<Record<HwFamily, string>>>> = {
  h264: { nvidia: "h264_nvenc", qsv: "h264_qsv", vaapi: "h264_vaapi" },
  hevc: { nvidia: "hevc_nvenc", qsv: "hevc_qsv", vaapi: "hevc_vaapi" },
  vp9: {},
  av1: {},
};
const FAMILY_OF: Readonly<Record<"nvenc" | "qsv" | "vaapi", HwFamily>> = { nvenc: "nvidia", qsv: "qsv", vaapi: "vaapi" };
/** Preference order for "auto": NVENC is the fastest per watt, then Quick Sync, then generic VAAPI. */
const AUTO_ORDER: readonly HwFamily[] = ["nvidia", "qsv", "vaapi"];

const list = (values: readonly string[]) => values.join(", ");

const positiveInt = (what: string, max: number) =>
  v.pipe(
    v.number(`${what} must be a number`),
    v.integer(`${what} must be an integer`),
    v.minValue(1, `${what} must be at least 1`),
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
      bitrate_kbps: positiveInt("video.rate_control.bitrate_kbps", 500_000),
      maxrate_kbps: v.optional(positiveInt("video.rate_control.maxrate_kbps", 500_000)),
      bufsize_kbps: v.optional(positiveInt("video.rate_control.bufsize_kbps", 1_000_000)),
    }, "video.rate_control must be an object"),
  ],
  "video.rate_control.mode must be one of: crf, bitrate",
);

const videoSchema = v.strictObject({
  codec: v.picklist(["h264", "hevc", "vp9", "av1"], "video.codec must be one of: h264, hevc, vp9, av1"),
  encoder: v.picklist(["auto", "software", "nvenc", "qsv", "vaapi"], "video.encoder must be one of: auto, software, nvenc, qsv, vaapi"),
  hardware_fallback: v.picklist(["cpu", "fail"], "video.hardware_fallback must be one of: cpu, fail"),
  height: v.pipe(
    v.number("video.height must be a number"),
    v.integer("video.height must be an integer"),
    v.minValue(144, "video.height must be at least 144"),
    v.maxValue(4320, "video.height must be at most 4320"),
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
  pixel_format: v.optional(v.literal("yuv420p", "video.pixel_format must be yuv420p")),
}, "video must be an object");

const audioSchema = v.strictObject({
  codec: v.picklist(["aac", "opus"], "audio.codec must be one of: aac, opus"),
  bitrate_kbps: v.pipe(
    v.number("audio.bitrate_kbps must be a number"),
    v.integer("audio.bitrate_kbps must be an integer"),
    v.minValue(6, "audio.bitrate_kbps must be at least 6"),
    v.maxValue(512, "audio.bitrate_kbps must be at most 512"),
  ),
  channels: v.picklist([1, 2], "audio.channels must be one of: 1, 2"),
  sample_rate: v.optional(v.picklist([48000, 44100], "audio.sample_rate must be one of: 48000, 44100")),
}, "audio must be an object or null");

/** Cross-field rules, each message naming the field, the allowed values and what was given. */
function combinationProblems(p: ProfileSpec): string[] {
  const problems: string[] = [];
  const { video, audio, container } = p;
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
    audio: v.nullable(audioSchema),
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

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Built-ins go through the same validation as custom profiles, so a bad edit here fails at import. */
function builtin(input: unknown): ProfileSpec {
  return deepFreeze(parseProfile(input));
}

/**
 * Every AAC profile shares one audio setting on purpose: the audio track is encoded once per distinct
 * audio setting (never per chunk), so a four-rung H.264 ladder needs one audio task, not four.
 */
const AAC_STEREO = { codec: "aac", bitrate_kbps: 128, channels: 2, sample_rate: 48000 } as const;

/**
 * The H.264 ladder: 1-pass ABR with a VBV cap (maxrate 1.5× and bufsize 2× the average), so HLS
 * BANDWIDTH stays predictable; rates follow the usual 16:9 ladders (Apple's authoring guide puts
 * 1080p30 H.264 at 6–7.8 Mb/s for premium content; 5 Mb/s average is the common web trade-off).
 * Preset "fast": about twice as fast as "medium" for a few percent more bitrate at equal quality,
 * while "veryfast" loses noticeably more (weaker motion search and fewer reference frames), which at
 * a capped bitrate shows up as blockiness in motion; throughput matters because every rung of every
 * chunk pays it.
 */
function h264Rung(height: number, bitrate: number): ProfileSpec {
  return builtin({
    id: `${height}p_h264`,
    name: `${height}p H.264`,
    description: `H.264 High, ${height}p, ${bitrate} kb/s average (capped at ${bitrate * 1.5} kb/s), AAC stereo 128 kb/s, MP4`,
    container: "mp4",
    video: {
      codec: "h264",
      encoder: "software",
      hardware_fallback: "cpu",
      height,
      rate_control: { mode: "bitrate", bitrate_kbps: bitrate, maxrate_kbps: bitrate * 1.5, bufsize_kbps: bitrate * 2 },
      preset: "fast",
      keyframe_interval_s: 2,
      pixel_format: "yuv420p",
    },
    audio: AAC_STEREO,
  });
}

export const BUILTIN_PROFILES: Readonly<Record<string, ProfileSpec>> = deepFreeze({
  "1080p_h264": h264Rung(1080, 5000),
  "720p_h264": h264Rung(720, 3000),
  "480p_h264": h264Rung(480, 1500),
  "360p_h264": h264Rung(360, 800),
  // 4K is where a GPU pays most: NVENC (or QSV/VAAPI) when the pool has one, libx265 otherwise.
  "4k_hevc": builtin({
    id: "4k_hevc",
    name: "2160p HEVC",
    description: "HEVC Main, 2160p, 16 Mb/s average (capped at 24 Mb/s), hardware when available, AAC stereo 128 kb/s, MP4",
    container: "mp4",
    video: {
      codec: "hevc",
      encoder: "auto",
      hardware_fallback: "cpu",
      height: 2160,
      rate_control: { mode: "bitrate", bitrate_kbps: 16000, maxrate_kbps: 24000, bufsize_kbps: 32000 },
      preset: "fast",
      keyframe_interval_s: 2,
      pixel_format: "yuv420p",
    },
    audio: AAC_STEREO,
  }),
  // Constant quality as Google's VP9 VOD guide recommends for 1080p (CRF 31 with -b:v 0).
  "1080p_vp9": builtin({
    id: "1080p_vp9",
    name: "1080p VP9",
    description: "VP9 profile 0, 1080p, constant quality CRF 31, Opus stereo 128 kb/s, WebM",
    container: "webm",
    video: {
      codec: "vp9",
      encoder: "software",
      hardware_fallback: "cpu",
      height: 1080,
      rate_control: { mode: "crf", crf: 31 },
      preset: "4",
      keyframe_interval_s: 2,
      pixel_format: "yuv420p",
    },
    audio: { codec: "opus", bitrate_kbps: 128, channels: 2, sample_rate: 48000 },
  }),
  // SVT-AV1 preset 8 is its speed/quality middle for VOD; CRF 32 is about 1080p H.264 at 5 Mb/s.
  "1080p_av1": builtin({
    id: "1080p_av1",
    name: "1080p AV1",
    description: "AV1 Main (SVT-AV1), 1080p, constant quality CRF 32, AAC stereo 128 kb/s, MP4",
    container: "mp4",
    video: {
      codec: "av1",
      encoder: "software",
      hardware_fallback: "cpu",
      height: 1080,
      rate_control: { mode: "crf", crf: 32 },
      preset: "8",
      keyframe_interval_s: 2,
      pixel_format: "yuv420p",
    },
    audio: AAC_STEREO,
  }),
});

export const BUILTIN_LADDERS: Readonly<Record<string, readonly string[]>> = deepFreeze({
  hls_h264_ladder: ["1080p_h264", "720p_h264", "480p_h264", "360p_h264"],
});

/**
 * Profile ids of a job → profiles: ladder ids expanded in place, duplicates dropped (first wins),
 * built-ins before custom ones (built-ins are read-only, a custom profile cannot shadow one).
 * Every unknown id is named in one error.
 */
export function expandProfiles(ids: readonly string[], custom: Readonly<Record<string, ProfileSpec>>): ProfileSpec[] {
  if (ids.length === 0) throw new Error("no profiles requested");
  const out: ProfileSpec[] = [];
  const seen = new Set<string>();
  const unknown: string[] = [];
  const add = (id: string) => {
    const profile = Object.hasOwn(BUILTIN_PROFILES, id) ? BUILTIN_PROFILES[id] : Object.hasOwn(custom, id) ? custom[id] : undefined;
    if (!profile) {
      if (!unknown.includes(id)) unknown.push(id);
      return;
    }
    if (seen.has(profile.id)) return;
    seen.add(profile.id);
    out.push(profile);
  };
  for (const id of ids) {
    const ladder = Object.hasOwn(BUILTIN_LADDERS, id) ? BUILTIN_LADDERS[id] : undefined;
    if (ladder) ladder.forEach(add);
    else add(id);
  }
  if (unknown.length > 0) {
    throw new Error(`unknown profile${unknown.length > 1 ? "s" : ""}: ${unknown.map((id) => `"${id}"`).join(", ")}`);
  }
  return out;
}

export interface HardwareAvailability {
  nvidia: boolean;
  qsv: boolean;
  vaapi: boolean;
}

export type EncoderChoice = { encoder: string; pool: Pool } | { error: string };

/**
 * The FFmpeg encoder (and so the worker pool) for a profile, given which hardware families the
 * platform's workers have proven with a test encode (src/worker/capabilities.ts).
 * - software: always the CPU encoder.
 * - auto: the first available family in AUTO_ORDER with an encoder for the codec, else CPU. `fail`
 *   does not apply: auto means "whatever is there".
 * - nvenc | qsv | vaapi: that family when available; otherwise CPU when hardware_fallback is "cpu",
 *   else an error.
 */
export function encoderFor(profile: ProfileSpec, hw: HardwareAvailability): EncoderChoice {
  const { codec, encoder: preference, hardware_fallback } = profile.video;
  const software = { encoder: SOFTWARE_ENCODERS[codec], pool: "cpu" as const };
  if (preference === "software") return software;
  const hardware = HARDWARE_ENCODERS[codec];
  if (preference === "auto") {
    for (const family of AUTO_ORDER) {
      const name = hardware[family];
      if (name && hw[family]) return { encoder: name, pool: family };
    }
    return software;
  }
  const family = FAMILY_OF[preference];
  const name = hardware[family];
  if (!name) {
    // parseProfile rejects this combination; a profile built some other way still gets a clear answer.
    return { error: `profile "${profile.id}": codec ${codec} has no ${preference} encoder` };
  }
  if (hw[family]) return { encoder: name, pool: family };
  if (hardware_fallback === "cpu") return software;
  return {
    error: `profile "${profile.id}" requires ${name} (${preference}) but no ${family} encoder is available and hardware_fallback is "fail"`,
  };
}
