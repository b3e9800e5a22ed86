/**
 * The contracts of the streaming task types, live (issue 15) and restream (issue 16): params, progress
 * telemetry and result, as task-contracts.ts describes for every type (which re-exports these, so importers
 * use that one entry point).
 */
import * as v from "valibot";
import { count, text } from "./contract-fields.ts";

// ── live (one live session's ladder on a worker, issue 15; the worker: src/worker/tasks/live.ts) ───────

/** An http(s) URL on a kernel (the live source, the segment receiver): the worker pulls from and PUTs to it. */
const kernelUrl = v.pipe(v.string(), v.url(), v.regex(/^https?:\/\//i, "must be an http(s) URL"));

/** One rung of a live ladder. `name` is a path segment of the push and playback URLs. */
export const liveRungSchema = v.object({
  name: v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, "must be 1-32 letters, digits, '_' or '-', starting with a letter or digit")),
  /** The box the picture is scaled into (aspect kept); even, as yuv420p needs. */
  width: v.pipe(v.number(), v.integer(), v.minValue(16), v.maxValue(7680), v.check((n) => n % 2 === 0, "must be even")),
  height: v.pipe(v.number(), v.integer(), v.minValue(16), v.maxValue(4320), v.check((n) => n % 2 === 0, "must be even")),
  video_kbps: v.pipe(v.number(), v.integer(), v.minValue(50), v.maxValue(100_000)),
  /** Output frame rate (constant); absent: media/live/ladder.ts's default. */
  fps: v.optional(v.pipe(v.number(), v.finite(), v.gtValue(0), v.maxValue(120))),
});

export const liveParamsSchema = v.object({
  stream_id: text,
  session_id: text,
  /** HTTP-FLV pull URL of the session on the ingesting kernel. */
  source_url: kernelUrl,
  /** The worker PUTs `${push_url}/${rung}/${file}`. */
  push_url: kernelUrl,
  /** Sent as `Authorization: Bearer <token>` on the pull and on every PUT. */
  token: text,
  segment_seconds: v.picklist([1, 2]),
  rungs: v.pipe(
    v.array(liveRungSchema),
    v.minLength(1),
    v.maxLength(8),
    v.check((rungs) => new Set(rungs.map((r) => r.name)).size === rungs.length, "rung names must be unique"),
  ),
  audio_kbps: v.pipe(v.number(), v.integer(), v.minValue(16), v.maxValue(512)),
});

/**
 * Transcode telemetry a live task's progress messages carry (TaskProgress.live), about every 2 s. `epoch` is
 * the attempt number, which names the attempt's segments (`e<epoch>_<seq>.ts`): a new epoch is a restart.
 */
export const liveProgressSchema = v.object({
  /** × real time (≥ 1 keeps up with the publisher). */
  speed: v.pipe(v.number(), v.finite(), v.minValue(0)),
  /** Frames encoded per second. */
  fps: v.pipe(v.number(), v.finite(), v.minValue(0)),
  /** Frames FFmpeg dropped (its `drop_frames`) since the attempt started. */
  dropped_frames: count,
  /** Segments completed per rung since the attempt started. */
  segments: count,
  epoch: v.pipe(count, v.minValue(1)),
});

// ── restream (one input to many RTMP destinations, issue 16; the worker: src/worker/tasks/restream-task.ts) ─

/**
 * What a restream task reads. A file (a storage key or s3:// ref of the job's storage, or a user's http(s) URL,
 * resolved like a VOD source) is played as live and may loop; a live session is pulled from the ingesting
 * kernel's internal FLV source with the session's live token, as the live task does.
 */
export const restreamInputParamsSchema = v.variant("kind", [
  v.object({ kind: v.literal("file"), source_url: text, storage: text, loop: v.boolean() }),
  v.object({ kind: v.literal("live"), stream_id: text, session_id: text, source_url: kernelUrl, token: text }),
]);

/**
 * The restream task's params. No stream key is here (tasks.params is stored in clear): the worker GETs
 * `destinations_url` with `Authorization: Bearer <token>` when an attempt starts, and gets the destinations
 * with their keys opened and the input position to resume from (src/kernel/restream/internal.ts).
 */
export const restreamParamsSchema = v.object({
  restream_id: text,
  destinations_url: kernelUrl,
  token: text,
  input: restreamInputParamsSchema,
  /** A scheduled start (epoch ms): the task is queued a little ahead; the worker prepares, then starts sending then. */
  start_at_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  /** A scheduled stop (epoch ms): the worker stops sending then by itself; the kernel's stop follows. */
  stop_at_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});

/** One destination's state in a restream task's progress (the runner's DestinationReport). */
export const restreamDestinationReportSchema = v.object({
  id: text,
  publisher: text,
  status: v.picklist(["connecting", "live", "retrying", "failed", "stopped"]),
  bitrate_kbps: v.pipe(v.number(), v.finite(), v.minValue(0)),
  uptime_s: v.pipe(v.number(), v.finite(), v.minValue(0)),
  reconnects: count,
  last_error: v.nullable(v.string()),
});

/** Telemetry a restream task's progress messages carry (TaskProgress.restream), about every 2 s. */
export const restreamProgressSchema = v.object({
  /** Seconds into the input file (modulo its duration when looping): where a resumed attempt starts. */
  position_s: v.pipe(v.number(), v.finite(), v.minValue(0)),
  destinations: v.pipe(v.array(restreamDestinationReportSchema), v.maxLength(64)),
});

export type RestreamInputParams = v.InferOutput<typeof restreamInputParamsSchema>;
export type RestreamParams = v.InferOutput<typeof restreamParamsSchema>;
export type RestreamDestinationReport = v.InferOutput<typeof restreamDestinationReportSchema>;
export type RestreamProgress = v.InferOutput<typeof restreamProgressSchema>;

// ── results ─────────────────────────────────────────────────────────────────────────────────────────────

/** Why a live task ended: the pulled source ended (publisher gone, grace over), or it was stopped. */
export const liveResultSchema = v.object({
  reason: v.picklist(["source_ended", "cancelled"]),
  /** Media seconds this attempt transcoded. */
  media_seconds: v.pipe(v.number(), v.finite(), v.minValue(0)),
});

/** Why a restream task ended: the (non-looping) input ended, it was stopped, or the kernel no longer knows it. */
export const restreamResultSchema = v.object({
  reason: v.picklist(["input_ended", "stopped", "gone"]),
  position_s: v.pipe(v.number(), v.finite(), v.minValue(0)),
  destinations: v.array(restreamDestinationReportSchema),
});

export type LiveRung = v.InferOutput<typeof liveRungSchema>;
export type LiveParams = v.InferOutput<typeof liveParamsSchema>;
export type LiveProgress = v.InferOutput<typeof liveProgressSchema>;
export type LiveResult = v.InferOutput<typeof liveResultSchema>;
export type RestreamResult = v.InferOutput<typeof restreamResultSchema>;
