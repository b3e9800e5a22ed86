/**
 * `/v1/streams`: live streams (docs/live.md). Operators create, change, delete, rotate keys and stop
 * (kick) streams; viewers list them and read stats and session history (src/kernel/auth/policy.ts).
 *
 * The stream key is a secret: returned by create and by key rotation (both audited as state-changing calls:
 * streams.create, streams.key_rotate), stored as a SHA-256 only, never shown again (lists show key_prefix).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import { principalOf } from "../auth/middleware.ts";
import type { KernelContext } from "../context.ts";
import { LADDER_NAMES } from "../live/ladders.ts";
import { liveManagerOf, liveRuntimeOf } from "../live/registry.ts";
import { closeSession, createStream, deleteStream, getStream, listSessions, listStreams, openSessionOf, rotateStreamKey, type StreamRow, type StreamSettings, updateStream } from "../live/streams-store.ts";
import { ingestView, sessionView, streamView } from "../live/views.ts";
import { publicUrl } from "../plugin-registry/defaults.ts";
import { resolveProfiles } from "../profiles/catalog.ts";
import { limitParam, offsetParam, page } from "./pagination.ts";

const uuid = v.pipe(v.string(), v.uuid("must be a UUID"));
const idParams = v.object({ id: uuid });

const fields = {
  name: v.pipe(v.string(), v.trim(), v.minLength(1, "name must not be empty"), v.maxLength(200, "name must be at most 200 characters")),
  archive: v.boolean("archive must be true or false"),
  archive_profiles: v.pipe(v.array(v.pipe(v.string(), v.maxLength(64))), v.minLength(1, "archive_profiles needs at least one profile"), v.maxLength(16, "archive_profiles takes at most 16 profiles")),
  ladder: v.picklist(LADDER_NAMES, `ladder must be one of ${LADDER_NAMES.join(", ")}`),
  segment_seconds: v.picklist([1, 2] as const, "segment_seconds must be 1 or 2"),
  playback: v.picklist(["public", "signed"] as const, "playback must be public or signed"),
};

const createBody = v.strictObject({
  name: fields.name,
  archive: v.optional(fields.archive),
  archive_profiles: v.optional(fields.archive_profiles),
  ladder: v.optional(fields.ladder),
  segment_seconds: v.optional(fields.segment_seconds),
  playback: v.optional(fields.playback),
});

/** PUT changes the fields it names; the others keep their values. Changes apply from the next session. */
const updateBody = v.strictObject({
  name: v.optional(fields.name),
  archive: v.optional(fields.archive),
  archive_profiles: v.optional(fields.archive_profiles),
  ladder: v.optional(fields.ladder),
  segment_seconds: v.optional(fields.segment_seconds),
  playback: v.optional(fields.playback),
});

type Body = v.InferOutput<typeof updateBody>;

/** The settings a body names, with archive profiles checked against the catalogue (WE-JOB-003 names unknown ones). */
async function settingsOf(ctx: KernelContext, body: Body): Promise<Partial<StreamSettings>> {
  if (body.archive_profiles?.length) await resolveProfiles(ctx.db, body.archive_profiles);
  const settings: Partial<StreamSettings> = {};
  if (body.name !== undefined) settings.name = body.name;
  if (body.archive !== undefined) settings.archive = body.archive;
  if (body.archive_profiles !== undefined) settings.archiveProfiles = [...new Set(body.archive_profiles)];
  if (body.ladder !== undefined) settings.ladder = body.ladder;
  if (body.segment_seconds !== undefined) settings.segmentSeconds = body.segment_seconds;
  if (body.playback !== undefined) settings.playback = body.playback;
  return settings;
}

function viewer(ctx: KernelContext) {
  const publicBase = publicUrl(ctx.config);
  const rtmpUrl = ctx.config.LIVE_RTMP_PORT === 0 ? null : `rtmp://${new URL(publicBase).hostname}:${ctx.config.LIVE_RTMP_PORT}/live`;
  return (stream: StreamRow) => streamView(stream, { publicBase, rtmpUrl });
}

export function streamRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/streams", detail: { tags: ["streams"] } } as never).use(streamSetRoutes(ctx)).use(streamControlRoutes(ctx));
}

/** The streams themselves: list, create, read, change, delete. */
function streamSetRoutes(ctx: KernelContext) {
  const view = viewer(ctx);
  const create = async ({ body, request, set }: { body: v.InferOutput<typeof createBody>; request: Request; set: { status?: number | string } }) => {
    const settings = await settingsOf(ctx, body);
    const defaults = { archive: false, archiveProfiles: ["720p_h264"], ladder: "default", segmentSeconds: 2, playback: "public" };
    const { row, key } = await createStream(ctx.db, { ...defaults, ...settings, name: body.name }, principalOf(request)?.id ?? "unknown");
    set.status = 201;
    // The key is returned this once: it cannot be read back (rotate it to get a new one).
    return { ...view(row), key };
  };
  const update = async ({ params, body }: { params: { id: string }; body: Body }) => view(await updateStream(ctx.db, params.id, await settingsOf(ctx, body)));
  return new Elysia()
    .get("", async ({ query }) => {
      const { limit, offset } = page(query);
      return { items: (await listStreams(ctx.db, limit, offset)).map(view), limit, offset };
    }, { query: v.object({ limit: limitParam, offset: offsetParam }), detail: { summary: "List streams, newest first (keys are never shown)" } })
    .post("", create, { body: createBody, detail: { summary: "Create a stream (its key is returned once, in this response)" } })
    .get("/:id", async ({ params }) => view(await getStream(ctx.db, params.id)), { params: idParams, detail: { summary: "One stream" } })
    .put("/:id", update, { params: idParams, body: updateBody, detail: { summary: "Change a stream (fields not sent keep their values; applies from the next session)" } })
    .delete("/:id", async ({ params, set }) => {
      await deleteStream(ctx.db, params.id);
      set.status = 204;
    }, { params: idParams, detail: { summary: "Delete a stream that is not live, with its session history" } });
}

/** Key rotation, stop (kick), stats and session history. */
function streamControlRoutes(ctx: KernelContext) {
  const view = viewer(ctx);
  const rotate = async ({ params }: { params: { id: string } }) => {
    const { row, key } = await rotateStreamKey(ctx.db, params.id);
    // The old key may be in the wrong hands: its publisher is disconnected now.
    await stopSession(ctx, row.id, "key_rotated");
    return { ...view(row), key };
  };
  const stop = async ({ params }: { params: { id: string } }) => {
    if (!(await stopSession(ctx, params.id, "kicked"))) throw new AppError("WE-STR-007", `stream ${params.id} is not live`);
    return view(await getStream(ctx.db, params.id));
  };
  return new Elysia()
    .post("/:id/key/rotate", rotate, { params: idParams, detail: { summary: "A new stream key (returned once); the old key stops working and its publisher is disconnected" } })
    .post("/:id/stop", stop, { params: idParams, detail: { summary: "Disconnect the publisher and end the live session now" } })
    .get("/:id/stats", async ({ params }) => streamStats(ctx, params.id), { params: idParams, detail: { summary: "Live telemetry of a stream: ingest, transcode, viewers" } })
    .get("/:id/sessions", async ({ params, query }) => {
      const { limit, offset } = page(query);
      const now = Date.now();
      return { items: (await listSessions(ctx.db, params.id, limit, offset)).map((session) => sessionView(session, now)), limit, offset };
    }, { params: idParams, query: v.object({ limit: limitParam, offset: offsetParam }), detail: { summary: "A stream's sessions, newest first: start, end, duration, bytes, why it ended" } });
}

/**
 * Ends the stream's open session: here when this kernel ingests it, otherwise by closing the row (the ingesting
 * kernel sees that within its next telemetry tick and disconnects the publisher). False when nothing was open.
 */
async function stopSession(ctx: KernelContext, streamId: string, reason: string): Promise<boolean> {
  await getStream(ctx.db, streamId);
  if (await liveManagerOf(ctx)?.stop(streamId, reason)) return true;
  const open = await openSessionOf(ctx.db, streamId);
  if (!open) return false;
  return (await closeSession(ctx.db, open.id, reason, open.bytesIn)) !== undefined;
}

/** The open session from the database; ingest, transcode and viewers when this kernel ingests the stream. */
async function streamStats(ctx: KernelContext, streamId: string) {
  const stream = await getStream(ctx.db, streamId);
  const open = await openSessionOf(ctx.db, streamId);
  const local = liveManagerOf(ctx)?.sessionOfStream(streamId);
  const telemetry = local ? liveRuntimeOf(ctx)?.telemetry(local) : undefined;
  const publisher = local?.publisher ?? null;
  return {
    stream_id: stream.id,
    is_live: open !== undefined,
    session: open ? sessionView(open, Date.now()) : null,
    publisher_connected: local ? publisher !== null : null,
    ingest: publisher ? ingestView(publisher.stats()) : null,
    transcode: telemetry?.transcode ?? null,
    viewers: telemetry?.viewers ?? null,
  };
}
