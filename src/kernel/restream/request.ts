/**
 * The restream request (`POST /v1/restreams`, issue 16) and what the kernel keeps and shows of it. Pure apart
 * from the secret box, so every rule is unit-tested (test/unit/restream-request.test.ts).
 *
 * Stream keys are write-only: they are sealed with the kernel's secret box as soon as the request is checked,
 * only `openDestinations` (building a task for a worker) ever reads them back, and no error message nor view
 * built here contains one — a refused key is described, never echoed (valibot's default messages quote the
 * received value, so every check on a key carries its own message).
 */
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import type { SecretBox } from "../../core/secret-box.ts";
import type { DestinationTranscode, RestreamDestination } from "../../media/restream/args.ts";
import type { DestinationStatus } from "../../media/restream/destination-state.ts";

/** More destinations than this is a mistake, not a simulcast: each one is an FFmpeg on the worker. */
export const MAX_RESTREAM_DESTINATIONS = 10;

const rtmpUrl = v.pipe(
  v.string("must be a string"),
  v.maxLength(2048, "must be at most 2048 characters"),
  v.check((text) => parseRtmpUrl(text) !== undefined, "must be an rtmp:// or rtmps:// server URL without user or password (the key goes in `key`)"),
);

const streamKey = v.pipe(
  v.string("must be a string"),
  v.minLength(1, "must not be empty"),
  v.maxLength(512, "must be at most 512 characters"),
  // The key is the last path segment of the publish URL: a '/' or a space would change where FFmpeg sends.
  v.check((text) => !/[\s/?#]/.test(text), "must not contain spaces, '/', '?' or '#'"),
);

const transcodeSchema = v.object({
  height: v.pipe(v.number("must be a number"), v.integer("must be an integer"), v.minValue(120, "must be at least 120"), v.maxValue(2160, "must be at most 2160"), v.check((n) => n % 2 === 0, "must be even")),
  video_kbps: v.pipe(v.number("must be a number"), v.integer("must be an integer"), v.minValue(100, "must be at least 100"), v.maxValue(50_000, "must be at most 50000")),
});

const destinationSchema = v.strictObject({ url: rtmpUrl, key: streamKey, transcode: v.optional(transcodeSchema) }, "unknown field");

const inputSchema = v.pipe(
  v.strictObject(
    {
      storage_key: v.optional(v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(1024, "must be at most 1024 characters"))),
      url: v.optional(v.pipe(v.string("must be a string"), v.maxLength(2048, "must be at most 2048 characters"), v.check((text) => /^https?:\/\//i.test(text) && URL.canParse(text), "must be an http(s) URL"))),
      /** A completed VOD job: its MP4 output is played. */
      job_id: v.optional(v.pipe(v.string("must be a string"), v.uuid("must be a job id (UUID)"))),
      /** A live stream: its current session is sent while it lasts. */
      live_stream_id: v.optional(v.pipe(v.string("must be a string"), v.uuid("must be a stream id (UUID)"))),
    },
    "unknown field",
  ),
  v.check(
    (input) => [input.storage_key, input.url, input.job_id, input.live_stream_id].filter((given) => given !== undefined).length === 1,
    "give exactly one of `storage_key`, `url`, `job_id` and `live_stream_id`",
  ),
);

const instant = (what: string) => v.pipe(v.string("must be an ISO 8601 time"), v.isoTimestamp(`${what} must be an ISO 8601 time such as 2026-01-31T12:00:00Z`), v.transform((text) => new Date(text)));

export const restreamRequestSchema = v.strictObject(
  {
    name: v.optional(v.pipe(v.string("must be a string"), v.trim(), v.minLength(1, "must not be empty"), v.maxLength(200, "must be at most 200 characters"))),
    input: inputSchema,
    loop: v.optional(v.boolean("must be true or false"), false),
    start_at: v.optional(instant("start_at")),
    stop_at: v.optional(instant("stop_at")),
    destinations: v.pipe(
      v.array(destinationSchema, "must be an array"),
      v.minLength(1, "must list at least one destination"),
      v.maxLength(MAX_RESTREAM_DESTINATIONS, `must list at most ${MAX_RESTREAM_DESTINATIONS} destinations`),
    ),
  },
  "unknown field",
);

export type RestreamRequest = v.InferOutput<typeof restreamRequestSchema>;

/** A destination as the kernel stores it: the key sealed by the secret box. */
export interface StoredDestination {
  id: string;
  publisher: "rtmp";
  url: string;
  key_sealed: string;
  transcode?: DestinationTranscode;
}

/** What the request asked to play, before the kernel resolved it (service.ts: a job's output, a stream's session). */
export type RequestedInput = { storage_key: string } | { url: string } | { job_id: string } | { live_stream_id: string };

export interface RestreamPlan {
  name: string | null;
  input: RequestedInput;
  loop: boolean;
  startAt: Date | null;
  stopAt: Date | null;
  destinations: StoredDestination[];
}

/** The URL if it is an rtmp(s) server URL with a host and no user or password; undefined otherwise. */
export function parseRtmpUrl(text: string): URL | undefined {
  if (!URL.canParse(text)) return undefined;
  const url = new URL(text);
  if (url.protocol !== "rtmp:" && url.protocol !== "rtmps:") return undefined;
  if (!url.hostname || url.username || url.password) return undefined;
  return url;
}

/**
 * Checks a `POST /v1/restreams` body and seals its keys. A problem with a destination is WE-STR-005, any other
 * WE-STR-001; the message names the field (`destinations[1].key`) and never quotes a key.
 */
export function planRestream(body: unknown, box: SecretBox): RestreamPlan {
  const parsed = v.safeParse(restreamRequestSchema, body);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const path = fieldPath(issue);
    const code = path.startsWith("destinations") ? "WE-STR-005" : "WE-STR-001";
    throw new AppError(code, `${path || "body"}: ${issue.message}`, { field: path || null });
  }
  const request = parsed.output;
  if (request.start_at && request.stop_at && request.stop_at.getTime() <= request.start_at.getTime()) {
    throw new AppError("WE-STR-001", "stop_at: must be later than start_at", { field: "stop_at" });
  }
  return {
    name: request.name ?? null,
    input: requestedInput(request.input),
    loop: request.loop,
    startAt: request.start_at ?? null,
    stopAt: request.stop_at ?? null,
    destinations: request.destinations.map((destination, index) => ({
      id: `d${index + 1}`,
      publisher: "rtmp",
      url: destination.url,
      key_sealed: box.encrypt(destination.key),
      ...(destination.transcode ? { transcode: destination.transcode } : {}),
    })),
  };
}

function requestedInput(input: RestreamRequest["input"]): RequestedInput {
  if (input.storage_key !== undefined) return { storage_key: input.storage_key };
  if (input.url !== undefined) return { url: input.url };
  if (input.job_id !== undefined) return { job_id: input.job_id };
  return { live_stream_id: input.live_stream_id! };
}

/** `destinations[1].key` from a valibot issue's path (only keys and indexes: never a received value). */
function fieldPath(issue: v.BaseIssue<unknown>): string {
  let path = "";
  for (const item of issue.path ?? []) {
    if (typeof item.key === "number") path += `[${item.key}]`;
    else if (typeof item.key === "string") path += path ? `.${item.key}` : item.key;
  }
  return path;
}

/** The destinations as the worker's runner takes them, keys opened. Only for the task sent to a worker. */
export function openDestinations(destinations: StoredDestination[], box: SecretBox): RestreamDestination[] {
  return destinations.map((destination) => ({
    id: destination.id,
    publisher: destination.publisher,
    url: destination.url,
    key: box.decrypt(destination.key_sealed),
    enabled: true,
    ...(destination.transcode ? { transcode: destination.transcode } : {}),
  }));
}

/** One destination's state as the restream task reports it (the runner's DestinationReport). */
export interface DestinationReportLike {
  id: string;
  status: DestinationStatus;
  bitrate_kbps: number;
  uptime_s: number;
  reconnects: number;
  last_error: string | null;
}

export interface DestinationView {
  id: string;
  publisher: string;
  url: string;
  transcode: DestinationTranscode | null;
  status: DestinationStatus;
  bitrate_kbps: number;
  uptime_s: number;
  reconnects: number;
  last_error: string | null;
}

/**
 * What `GET /v1/restreams/:id` shows of each destination: the stored settings without the key, and the latest
 * report of the task. A destination the task has not reported yet is `connecting` (the task has not started)
 * or, once the restream is over, `stopped`.
 */
export function destinationViews(destinations: StoredDestination[], reports: readonly DestinationReportLike[], restreamEnded: boolean): DestinationView[] {
  return destinations.map((destination) => {
    const report = reports.find((candidate) => candidate.id === destination.id);
    const status: DestinationStatus = report?.status ?? (restreamEnded ? "stopped" : "connecting");
    return {
      id: destination.id,
      publisher: destination.publisher,
      url: destination.url,
      transcode: destination.transcode ?? null,
      // An ended restream's last report may still say `live`: nothing is sent any more.
      status: restreamEnded && (status === "live" || status === "connecting" || status === "retrying") ? "stopped" : status,
      bitrate_kbps: restreamEnded ? 0 : (report?.bitrate_kbps ?? 0),
      uptime_s: restreamEnded ? 0 : (report?.uptime_s ?? 0),
      reconnects: report?.reconnects ?? 0,
      last_error: report?.last_error ?? null,
    };
  });
}

/** The destination rules and the issue path, for the live stream destinations (src/kernel/live/destinations-rules.ts). */
export { rtmpUrl as rtmpUrlSchema, streamKey as streamKeySchema, transcodeSchema, fieldPath };
