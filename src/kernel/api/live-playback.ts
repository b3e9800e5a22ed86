/**
 * Live playback, for players (hls.js, Safari, VLC): `GET /live/<stream>/master.m3u8`, the rung playlists
 * `/live/<stream>/<rung>/index.m3u8` and the segments beside them. Public streams need no credentials; a
 * signed stream needs `?token=` (minted by GET /v1/streams/:id/playback), which the playlists carry on to
 * every URI. URLs name the stream, never its key. CORS: MEDIA_CORS_ORIGINS (cors.ts), like signed media links.
 * `GET /v1/streams/:id/playback` (viewer) hands out the link, with a fresh token for a signed stream.
 *
 * The master playlist answers 404 until every rung has its first segments (hls.js gives up for good on a
 * missing master, so a stream is announced only once it is playable). Playlists are cached a second or two
 * (they change every segment); segments are immutable (a name is never reused, it carries the session).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { playbackLink } from "../live/delivery/playback-link.ts";
import type { KernelContext } from "../context.ts";
import { liveDelivery, type PlaybackAnswer, type Viewer } from "../live/delivery/index.ts";
import { isRungName } from "../live/delivery/playlist.ts";
import { AppError } from "../../core/errors.ts";
import { requestIds } from "./request-id.ts";

export const LIVE_PLAYBACK_PREFIX = "/live/";

function viewerOf(request: Request): Viewer {
  const token = new URL(request.url).searchParams.get("token");
  return { token: token || null, clientIp: requestIds.get(request)?.ip ?? null, userAgent: request.headers.get("user-agent") };
}

function answer(result: PlaybackAnswer): Response {
  return new Response(result.body, { headers: { "content-type": result.contentType, "cache-control": result.cacheControl } });
}

function rungAnswer(ctx: KernelContext, request: Request, params: { stream_id: string; rung: string; file: string }): Promise<PlaybackAnswer> {
  if (!isRungName(params.rung)) throw new AppError("WE-REQ-006", `stream ${params.stream_id} has no rung ${JSON.stringify(params.rung.slice(0, 64))}`);
  const delivery = liveDelivery(ctx);
  if (params.file === "index.m3u8") return delivery.mediaPlaylist(params.stream_id, params.rung, viewerOf(request));
  return delivery.segment(params.stream_id, params.rung, params.file, viewerOf(request));
}

export function livePlaybackRoutes(ctx: KernelContext) {
  return new Elysia({ detail: { tags: ["live playback"] } } as never)
    .get(
      `${LIVE_PLAYBACK_PREFIX}:stream_id/master.m3u8`,
      async ({ request, params }) => answer(await liveDelivery(ctx).master(params.stream_id, viewerOf(request))),
      { detail: { summary: "Live master playlist (404 WE-STR-002 until the stream is playable; ?token= for signed streams)", security: [] } },
    )
    .get(
      `${LIVE_PLAYBACK_PREFIX}:stream_id/:rung/:file`,
      async ({ request, params }) => answer(await rungAnswer(ctx, request, params)),
      { detail: { summary: "Live rung playlist (index.m3u8) or segment", security: [] } },
    );
}

const streamIdParams = v.object({ id: v.pipe(v.string(), v.uuid("the stream id is a UUID")) });

export function livePlaybackLinkRoutes(ctx: KernelContext) {
  return new Elysia({ detail: { tags: ["streams"] } } as never).get("/v1/streams/:id/playback", ({ params }) => playbackLink(ctx, params.id, Date.now()), {
    params: streamIdParams,
    detail: { summary: "The stream's playback URL for a player; for a signed stream with a new ?token= (expires in 6 h)" },
  });
}
