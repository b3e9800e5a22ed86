/**
 * Task contracts: what each task type takes (params, kernel → worker) and gives back (result, worker →
 * kernel), one valibot schema each. Both cross a process boundary as JSON, so each side validates what it
 * receives instead of trusting the other's version: the worker parses params before it runs anything
 * (worker/executor.ts), the kernel checks a result before it completes the task (orchestrator/results.ts).
 * The database columns are typed from these (db/schema.ts). Adding a task type starts here.
 */
import * as v from "valibot";
import { bytes, count, positive, text } from "./contract-fields.ts";
import { audioSpecSchema, profileSchema } from "./profile-spec.ts";
import {
  type LiveParams,
  type LiveResult,
  liveParamsSchema,
  liveResultSchema,
  type RestreamParams,
  type RestreamResult,
  restreamParamsSchema,
  restreamResultSchema,
} from "./stream-task-contracts.ts";

// The live and restream contracts live in their own file; importers keep one entry point.
export * from "./stream-task-contracts.ts";

export const TASK_TYPES = ["analyze", "video", "audio", "package", "live", "restream"] as const;
export type TaskType = (typeof TASK_TYPES)[number];


// ── params ─────────────────────────────────────────────────────────────────────────────────────────────

/** Where a task reads the job's source: the job's source_url and its default storage plugin. */
const sourceFields = { source_url: text, storage: text };

export const analyzeParamsSchema = v.object(sourceFields);

/**
 * What the source picture is, as FFprobe states it (media/filters/traits.ts reads it): the video filters
 * decide on it (deinterlace, tone-map, colour tags; media/filters/picture.ts). Every field is optional: an
 * older analysis has none, and a stream that does not say keeps FFmpeg's defaults.
 */
export const videoTraitsSchema = v.object({
  /** progressive, tt, bb, tb, bt (interlaced, top or bottom field first) or unknown. */
  field_order: v.optional(v.string()),
  /** FFmpeg's names: bt709, bt2020, smpte2084 (PQ), arib-std-b67 (HLG), bt2020nc, tv, pc… */
  color_primaries: v.optional(v.string()),
  color_transfer: v.optional(v.string()),
  color_space: v.optional(v.string()),
  color_range: v.optional(v.string()),
  /** Bits per sample of the decoded picture (8, 10, 12). */
  bit_depth: v.optional(v.number()),
});

/** One chunk of the source, cut at a keyframe (media/planner.ts plans them). */
export const chunkSchema = v.object({
  seq: count,
  /** Source keyframe pts the chunk starts at. */
  start_pts: v.pipe(v.number(), v.finite()),
  start_frame: count,
  frames: v.pipe(count, v.minValue(1)),
  duration_s: positive,
});

export const renditionPlanSchema = v.object({
  profile: profileSchema,
  width: v.pipe(count, v.minValue(1)),
  height: v.pipe(count, v.minValue(1)),
  /** FFmpeg encoder chosen for the pool, e.g. libx264 or h264_nvenc. */
  encoder: text,
  /** Keep every frame_step-th source frame (the profile's max_fps); 1 = all. */
  frame_step: v.pipe(count, v.minValue(1)),
});

export const videoParamsSchema = v.object({
  ...sourceFields,
  chunk: chunkSchema,
  chunk_count: v.pipe(count, v.minValue(1)),
  /** Renditions of one pool are encoded together; several pools → several groups. */
  group: count,
  fps: positive,
  renditions: v.pipe(v.array(renditionPlanSchema), v.minLength(1)),
  parts_prefix: text,
  /** The source picture's field order and colour (analyze result `video.traits`): what the filters decide on. */
  traits: v.optional(videoTraitsSchema),
  /**
   * A GPU group: decode on the device too (media/hardware/pipeline.ts), decided at planning from the probe
   * (8-bit 4:2:0 of a codec the device decodes); false or absent: CPU decode + upload.
   */
  hardware: v.optional(v.object({ decode: v.boolean() })),
  /** The source's container (analyze's `format`, FFprobe's format_name): an FLV's first chunk does not seek (media/args/video-chunk.ts). */
  source_format: v.optional(text),
  /** pts of the source's first frame (the first chunk's start): where a frame_rate rendition's grid starts (media/args/video-chunk.ts). */
  origin_pts: v.optional(v.pipe(v.number(), v.finite())),
  /**
   * A text subtitle track to burn into the picture (job option burn_subtitles, media/subtitles-burn.ts): a
   * stream of the source (`stream`: its FFprobe index) or a sidecar file (no `stream`); `offset_s` is added
   * to its times to put them on the source clock (0 for a source stream, the first video frame's pts for a sidecar).
   */
  burn_subtitles: v.optional(v.object({ ...sourceFields, stream: v.optional(count), offset_s: v.pipe(v.number(), v.finite()) })),
});

export const audioParamsSchema = v.object({
  ...sourceFields,
  audio: audioSpecSchema,
  key: text,
  /** Which source audio track (N of `0:a:N`; default 0) and the first video frame's pts, the output's 0 (media/args/audio.ts). */
  track: v.optional(count),
  start_s: v.optional(v.pipe(v.number(), v.finite())),
});

/** A source audio track as the outputs carry it (media/source.ts); end_s is relative to the first video frame. */
const audioTrackOutSchema = v.object({
  index: count,
  language: v.string(),
  title: v.nullable(v.string()),
  default: v.boolean(),
  end_s: v.nullable(v.number()),
  /** The source codec's frame length: how exactly its container states where the track ends (media/verify.ts). */
  frame_s: v.optional(v.number()),
});

export const thumbnailsSchema = v.object({ poster: v.optional(v.boolean()), sprite: v.optional(v.boolean()), interval_s: v.optional(positive) });
export const outputFormatSchema = v.picklist(["mp4", "hls"]);
export type OutputFormat = v.InferOutput<typeof outputFormatSchema>;
export const isOutputFormat = (format: string): format is OutputFormat => (outputFormatSchema.options as readonly string[]).includes(format);

export const packageParamsSchema = v.object({
  storage: text,
  output_prefix: text,
  outputs: v.array(outputFormatSchema),
  thumbnails: v.nullable(thumbnailsSchema),
  source: v.object({
    duration_s: positive,
    frames: v.pipe(count, v.minValue(1)),
    fps: positive,
    has_audio: v.boolean(),
    /** Longest frame interval (variable-rate sources) and the audio tracks the outputs carry, in order. */
    max_interval_s: v.optional(positive),
    audio_tracks: v.optional(v.array(audioTrackOutSchema)),
  }),
  /**
   * Subtitle tracks, converted once each to WebVTT by the package step (media/subtitles.ts), in output
   * order: a text stream of the source (`stream`: its FFprobe index) or a sidecar file (no `stream`: its
   * first subtitle stream). `shift_s`: subtracted from the track's times (the source's first video frame
   * pts for source tracks, 0 for sidecars).
   */
  subtitles: v.optional(
    v.array(v.object({ ...sourceFields, stream: v.optional(count), shift_s: v.pipe(v.number(), v.finite()), language: v.string(), name: text, default: v.boolean() })),
  ),
  renditions: v.array(
    v.object({
      ...renditionPlanSchema.entries,
      /** duration_s: the chunk's length on source timestamps (joins of a variable-rate source, media/args/package.ts). */
      parts: v.array(v.object({ key: text, frames: count, seq: count, duration_s: v.optional(positive) })),
      audio_key: v.nullable(text),
      /** One encoded file per entry of source.audio_tracks, same order. */
      audio_keys: v.optional(v.array(text)),
    }),
  ),
});

export type AnalyzeParams = v.InferOutput<typeof analyzeParamsSchema>;
export type ChunkPlan = v.InferOutput<typeof chunkSchema>;
export type RenditionPlan = v.InferOutput<typeof renditionPlanSchema>;
export type VideoParams = v.InferOutput<typeof videoParamsSchema>;
export type AudioParams = v.InferOutput<typeof audioParamsSchema>;
export type PackageParams = v.InferOutput<typeof packageParamsSchema>;
export type VideoTraits = v.InferOutput<typeof videoTraitsSchema>;

// ── results ────────────────────────────────────────────────────────────────────────────────────────────

/**
 * The analyze result: the source summary (media/source.ts builds it from FFprobe). Planning divides by
 * these numbers, so each must be usable; the messages say which one is not, since a refused analysis
 * fails the job as an unsupported source (they are checked in this order: the first problem is reported).
 */
const unusable = (what: string, input: unknown) => `the analysis gave no usable ${what} (${String(input)})`;
const USABLE: Record<string, string> = { duration_s: "duration", width: "video width", height: "video height", fps: "video fps", frames: "video frames" };
const usable = (key: keyof typeof USABLE) => {
  const message = (issue: v.BaseIssue<unknown>) => unusable(USABLE[key]!, issue.input);
  return v.pipe(v.number(message), v.finite(message), v.gtValue(0, message));
};
/** An analysis object's own message (`what`), or for a missing key the sentence its value's check would give. */
const analysisObject = (what: string) => (issue: v.BaseIssue<unknown>) => {
  const key = missingKey(issue);
  if (key === undefined) return what;
  if (key in USABLE) return unusable(USABLE[key]!, undefined);
  if (key === "video") return "the analysis found no video stream";
  if (key === "keyframes") return "the analysis has no usable keyframe index";
  return `the analysis has no ${key}`;
};

/** One audio stream of the source (media/source.ts audioTracksOf). */
export const audioTrackSchema = v.object({
  /** The N of FFmpeg's `0:a:N`. */
  index: v.number(),
  codec: v.string(),
  channels: v.number(),
  sample_rate: v.number(),
  /** First sample's pts, seconds (the video's start_s is the output's 0). */
  start_s: v.number(),
  duration_s: v.nullable(v.number()),
  /** ISO 639-2 code from the `language` tag ("und" when absent). */
  language: v.string(),
  title: v.nullable(v.string()),
  default: v.boolean(),
});

export const analyzeResultSchema = v.object(
  {
    /** Duration of the VIDEO stream on its timestamps: last frame's end minus first frame's pts. */
    duration_s: usable("duration_s"),
    video: v.object(
      {
        width: usable("width"),
        height: usable("height"),
        /** Average rate (frames ÷ duration for a variable-rate source). */
        fps: usable("fps"),
        frames: usable("frames"),
        codec: v.string(),
        rotation: v.number(),
        sar: v.number(),
        pix_fmt: v.nullable(v.string()),
        profile: v.nullable(v.string()),
        /** pts of the first frame (negative with B-frame delay and an edit list, > 0 in MPEG-TS). */
        start_s: v.optional(v.number()),
        /** The frame intervals vary (mixed rates, dropped frames): timing is kept from the timestamps. */
        vfr: v.optional(v.boolean()),
        /** Longest interval between two frames: "one frame" of tolerance for a variable-rate source. */
        max_interval_s: v.optional(v.number()),
        /** 1 ÷ shortest interval: the GOP bound of a variable-rate source. */
        peak_fps: v.optional(v.number()),
        /** Field order and colour of the picture (media/filters/traits.ts). */
        traits: v.optional(videoTraitsSchema),
      },
      analysisObject("the analysis found no video stream"),
    ),
    keyframes: v.array(v.object({ pts: v.number(), frame: v.number() }, "the analysis has no usable keyframe index"), "the analysis has no usable keyframe index"),
    size_bytes: v.nullable(v.number()),
    bit_rate: v.nullable(v.number()),
    format: v.string(),
    /** The first (default) audio track, as before several tracks were carried; null without audio. */
    audio: v.nullable(v.object({ codec: v.string(), channels: v.number(), sample_rate: v.number(), duration_s: v.nullable(v.number()) })),
    /** Every audio track, in stream order. */
    audio_tracks: v.optional(v.array(audioTrackSchema)),
    /** Streams no output carries (subtitles, timecode/data, attachments, cover art) and why (media/probe.ts). */
    ignored_streams: v.optional(v.array(v.object({ index: v.number(), type: v.string(), codec: v.string(), language: v.optional(v.string()), reason: v.string() }))),
    /** Text subtitle streams the outputs carry (media/subtitles.ts): index is FFprobe's stream index. */
    subtitle_tracks: v.optional(v.array(v.object({ index: v.number(), codec: v.string(), language: v.string(), title: v.nullable(v.string()), default: v.boolean() }))),
  },
  analysisObject("the analysis result is empty"),
);

/*
 * Media results: what the kernel builds on is required; what a worker adds for information (sizes, the
 * measured duration) is optional, so a newer worker may report more without an older kernel refusing it.
 */
export const videoResultSchema = v.object({
  /** One stored part per rendition of the task's group. */
  parts: v.array(v.object({ profile: text, key: text, frames: count, size: v.optional(bytes) })),
});

export const audioResultSchema = v.object({
  /** The stored audio track the packager muxes. */
  key: text,
  size: v.optional(bytes),
  duration_s: v.optional(v.number()),
  sample_rate: v.optional(v.number()),
  codec: v.optional(v.nullable(v.string())),
});

/** One file or file set the package task stored: becomes a row of `outputs`. */
export const producedOutputSchema = v.object({
  kind: v.picklist(["mp4", "webm", "hls", "thumbnail", "sprite", "vtt"]),
  key: text,
  size_bytes: bytes,
  profile: v.optional(text),
  /** HLS: the folder of the playlists and segments. */
  prefix: v.optional(text),
  duration_s: v.optional(v.number()),
  width: v.optional(v.number()),
  height: v.optional(v.number()),
  bitrate: v.optional(v.nullable(v.number())),
  video_codec: v.optional(v.nullable(v.string())),
  audio_codec: v.optional(v.nullable(v.string())),
  details: v.optional(v.record(v.string(), v.unknown())),
});

export const packageResultSchema = v.object({ outputs: v.array(producedOutputSchema) });

export type SourceSummary = v.InferOutput<typeof analyzeResultSchema>;
export type AnalyzeResult = SourceSummary;
export type AudioTrack = v.InferOutput<typeof audioTrackSchema>;
export type VideoResult = v.InferOutput<typeof videoResultSchema>;
export type AudioResult = v.InferOutput<typeof audioResultSchema>;
export type ProducedOutput = v.InferOutput<typeof producedOutputSchema>;
export type PackageResult = v.InferOutput<typeof packageResultSchema>;

// ── per type ───────────────────────────────────────────────────────────────────────────────────────────

export interface TaskContracts {
  analyze: { params: AnalyzeParams; result: AnalyzeResult };
  video: { params: VideoParams; result: VideoResult };
  audio: { params: AudioParams; result: AudioResult };
  package: { params: PackageParams; result: PackageResult };
  live: { params: LiveParams; result: LiveResult };
  restream: { params: RestreamParams; result: RestreamResult };
}
export type ParamsOf<T extends TaskType> = TaskContracts[T]["params"];
export type ResultOf<T extends TaskType> = TaskContracts[T]["result"];
export type TaskParams = ParamsOf<TaskType>;
export type TaskResult = ResultOf<TaskType>;

/** Record over every TaskType: a new type fails compilation until its schemas are here. */
const CONTRACTS: { [T in TaskType]: { params: v.GenericSchema<unknown, ParamsOf<T>>; result: v.GenericSchema<unknown, ResultOf<T>> } } = {
  analyze: { params: analyzeParamsSchema, result: analyzeResultSchema },
  video: { params: videoParamsSchema, result: videoResultSchema },
  audio: { params: audioParamsSchema, result: audioResultSchema },
  package: { params: packageParamsSchema, result: packageResultSchema },
  live: { params: liveParamsSchema, result: liveResultSchema },
  restream: { params: restreamParamsSchema, result: restreamResultSchema },
};

export const isTaskType = (type: unknown): type is TaskType => (TASK_TYPES as readonly unknown[]).includes(type);

/** Why `value` is not a valid `part` of a `type` task, or its typed value. The first problem only. */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

function check<T>(schema: v.GenericSchema<unknown, T>, value: unknown): Checked<T> {
  const r = v.safeParse(schema, value, { abortEarly: true });
  if (r.success) return { ok: true, value: r.output };
  return { ok: false, problem: describeIssue(r.issues[0]) };
}

/**
 * One issue in words. Our own messages are sentences; valibot's defaults ("Invalid type: Expected number
 * but received "x"") say nothing about where, so those get the field's path in front.
 */
function describeIssue(issue: v.BaseIssue<unknown>): string {
  const path = issue.path?.map((item) => String(item.key)).join(".") ?? "";
  if (!path || !issue.message.startsWith("Invalid")) return issue.message;
  return missingKey(issue) === undefined ? `${path}: ${issue.message}` : `${path}: required field is missing`;
}

/** The key an object schema's issue is about when that key is absent (valibot reports it as the object's issue). */
function missingKey(issue: v.BaseIssue<unknown>): string | undefined {
  const last = issue.path?.at(-1);
  const absent = issue.kind === "schema" && issue.type === "object" && issue.input === undefined && last?.origin === "key";
  return absent && typeof last.key === "string" ? last.key : undefined;
}

export function checkParams<T extends TaskType>(type: T, params: unknown): Checked<ParamsOf<T>> {
  return check(CONTRACTS[type].params, params);
}

export function checkResult<T extends TaskType>(type: T, result: unknown): Checked<ResultOf<T>> {
  return check(CONTRACTS[type].result, result);
}

/** For data we stored after checking it (a task row): a failure here is a bug or a row from an older version. */
export function paramsOf<T extends TaskType>(type: T, params: unknown): ParamsOf<T> {
  const r = checkParams(type, params);
  if (!r.ok) throw new Error(`stored ${type} task params are invalid: ${r.problem}`);
  return r.value;
}

export function resultOf<T extends TaskType>(type: T, result: unknown): ResultOf<T> {
  const r = checkResult(type, result);
  if (!r.ok) throw new Error(`stored ${type} task result is invalid: ${r.problem}`);
  return r.value;
}

// ── jobs ───────────────────────────────────────────────────────────────────────────────────────────────

/** `jobs.options`: what a job was created with beyond its columns (kernel/jobs/create.ts writes it). */
export interface JobOptions {
  /** The storage plugin of the job's parts and outputs. */
  storage: string;
  thumbnails?: v.InferOutput<typeof thumbnailsSchema> | null;
  source_kind?: "url" | "key" | "s3";
  /** Which source audio tracks the outputs carry (indexes or languages, media/audio-tracks.ts); absent: every track. */
  audio_tracks?: Array<number | string>;
  /** Sidecar subtitle files converted to WebVTT/mov_text beside the source's own text tracks (media/subtitles.ts). */
  subtitles?: Array<{ source_url: string; language: string; name: string; default?: boolean }>;
  /** One subtitle track burned into the picture (media/subtitles-burn.ts): a source track, a sidecar or a language. */
  burn_subtitles?: { track?: number; sidecar?: number; language?: string; keep_soft?: boolean };
}
