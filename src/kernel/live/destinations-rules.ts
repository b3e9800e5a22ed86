/**
 * The rules of a live stream's restream destinations (`/v1/streams/:id/destinations`, issue 16) and what the
 * API shows of one. Pure apart from the secret box. The URL, key and transcode rules are the restream
 * request's own (src/kernel/restream/request.ts): one set of rules, one set of messages, WE-STR-005 for any
 * problem, the field named and a key never quoted.
 *
 * `publisher-rtmp` needs `url` and `key`. An OAuth publisher (`publisher-youtube`, `publisher-twitch`) takes
 * both or neither: without them the kernel asks the plugin for its ingest (`prepare_live`) when the stream
 * goes live.
 */
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import type { SecretBox } from "../../core/secret-box.ts";
import type { DestinationStatus } from "../../media/restream/destination-state.ts";
import { STREAM_DESTINATION_PUBLISHERS, type streamDestinations } from "../../db/schema.ts";
import { fieldPath, rtmpUrlSchema, streamKeySchema, transcodeSchema } from "../restream/request.ts";

export type StreamDestinationRow = typeof streamDestinations.$inferSelect;
export type StreamDestinationPublisher = (typeof STREAM_DESTINATION_PUBLISHERS)[number];

/** More than this per stream is a mistake, not a simulcast (the restream request's own bound). */
export const MAX_STREAM_DESTINATIONS = 10;

const fields = {
  publisher: v.picklist(STREAM_DESTINATION_PUBLISHERS, `must be one of ${STREAM_DESTINATION_PUBLISHERS.join(", ")}`),
  name: v.pipe(v.string("must be a string"), v.trim(), v.minLength(1, "must not be empty"), v.maxLength(200, "must be at most 200 characters")),
  enabled: v.boolean("must be true or false"),
  // null on PATCH goes back to stream copy.
  transcode: v.nullable(transcodeSchema),
};

/** Valibot words a missing field, an unknown one and a non-object alike with one message: told apart here. */
const objectMessage = (issue: v.BaseIssue<unknown>) => {
  if (issue.input === undefined && issue.path?.length) return "is required";
  if (issue.path?.length) return "unknown field";
  return "must be a JSON object";
};

export const destinationCreateSchema = v.strictObject(
  {
    publisher: v.optional(fields.publisher, "publisher-rtmp"),
    name: fields.name,
    url: v.optional(rtmpUrlSchema),
    key: v.optional(streamKeySchema),
    enabled: v.optional(fields.enabled, true),
    transcode: v.optional(fields.transcode),
  },
  objectMessage,
);

export const destinationPatchSchema = v.strictObject(
  {
    publisher: v.optional(fields.publisher),
    name: v.optional(fields.name),
    url: v.optional(rtmpUrlSchema),
    key: v.optional(streamKeySchema),
    enabled: v.optional(fields.enabled),
    transcode: v.optional(fields.transcode),
  },
  objectMessage,
);

/** The columns a create or a patch writes; `keySealed` only when a key was sent. */
export interface DestinationValues {
  publisher?: StreamDestinationPublisher;
  name?: string;
  url?: string;
  keySealed?: string;
  enabled?: boolean;
  transcode?: { height: number; video_kbps: number } | null;
}

function parsed<T extends v.GenericSchema>(schema: T, body: unknown): v.InferOutput<T> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new AppError("WE-STR-005", "body: must be a JSON object", { field: null });
  const result = v.safeParse(schema, body);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = fieldPath(issue);
  throw new AppError("WE-STR-005", `${path || "body"}: ${issue.message}`, { field: path || null });
}

function sealed(values: { key?: string } & Record<string, unknown>, box: SecretBox): DestinationValues {
  const { key, ...rest } = values;
  return { ...(rest as DestinationValues), ...(key !== undefined ? { keySealed: box.encrypt(key) } : {}) };
}

/** A `POST` body checked, its key sealed (WE-STR-005 otherwise). */
export function planDestination(body: unknown, box: SecretBox): Required<Pick<DestinationValues, "publisher" | "name" | "enabled">> & DestinationValues {
  const request = parsed(destinationCreateSchema, body);
  checkIngest(request.publisher, request.url !== undefined, request.key !== undefined);
  return { ...sealed(request, box), publisher: request.publisher, name: request.name, enabled: request.enabled };
}

/** A `PATCH` body checked against the destination it changes (the result must still be complete). */
export function planDestinationPatch(body: unknown, current: StreamDestinationRow, box: SecretBox): DestinationValues {
  const request = parsed(destinationPatchSchema, body);
  const publisher = request.publisher ?? (current.publisher as StreamDestinationPublisher);
  checkIngest(publisher, (request.url ?? current.url) !== null, request.key !== undefined || current.keySealed !== null);
  return sealed(request, box);
}

/** `publisher-rtmp` needs both; an OAuth publisher both or neither (then its plugin hands out the ingest). */
function checkIngest(publisher: StreamDestinationPublisher, hasUrl: boolean, hasKey: boolean): void {
  if (publisher === "publisher-rtmp") {
    if (!hasUrl) throw new AppError("WE-STR-005", "url: required for publisher-rtmp (the rtmp:// or rtmps:// server URL, without the key)", { field: "url" });
    if (!hasKey) throw new AppError("WE-STR-005", "key: required for publisher-rtmp (the stream key the server expects)", { field: "key" });
    return;
  }
  if (hasUrl !== hasKey) {
    const missing = hasUrl ? "key" : "url";
    throw new AppError("WE-STR-005", `${missing}: give both url and key, or neither (then ${publisher} hands out its ingest when the stream goes live)`, { field: missing });
  }
}

/** One destination's live state (the running restream's report, or `stopped`). */
export interface DestinationLiveState {
  status: DestinationStatus;
  bitrate_kbps: number;
  uptime_s: number;
  reconnects: number;
  last_error: string | null;
}

export const STOPPED_STATE: DestinationLiveState = { status: "stopped", bitrate_kbps: 0, uptime_s: 0, reconnects: 0, last_error: null };

/** What the API shows of a destination: never the key, only `key_set`. */
export function destinationView(row: StreamDestinationRow, state: DestinationLiveState = STOPPED_STATE) {
  return {
    id: row.id,
    stream_id: row.streamId,
    publisher: row.publisher,
    name: row.name,
    url: row.url,
    key_set: row.keySealed !== null,
    enabled: row.enabled,
    transcode: row.transcode ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    ...state,
  };
}
