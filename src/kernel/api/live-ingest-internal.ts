/**
 * `PUT /internal/live/<session>/<rung>/<file>`: where the live transcode's FFmpeg (HLS muxer, `-method PUT`)
 * sends each segment `e<epoch>_<n>.ts` and its rung playlist `e<epoch>.m3u8` (src/kernel/live/delivery/).
 * `DELETE` on the same path is what FFmpeg's `delete_segments` sends: answered 204 and ignored, since the
 * kernel's own window decides when a segment goes.
 *
 * Not for users: the credential is the session's internal live token (`Authorization: Bearer`, signed by the
 * kernel for that one session, src/kernel/live/token.ts), checked before a byte of the body is read. Bodies
 * are streamed (the app's MAX_BODY_SIZE does not apply here; delivery enforces its own segment limit).
 */
import { Elysia } from "elysia";
import { AppError } from "../../core/errors.ts";
import type { KernelContext } from "../context.ts";
import { liveDelivery } from "../live/delivery/index.ts";
import { isRungName, parsePushedFile } from "../live/delivery/playlist.ts";
import { bearerToken, verifyLiveToken } from "../live/token.ts";

export const LIVE_INTERNAL_PREFIX = "/internal/live/";

interface PushParams {
  session_id: string;
  rung: string;
  file: string;
}

/** 400 for a rung or file name delivery does not take (nothing secret in that); then 401 without the session's token. */
function checkPush(ctx: KernelContext, request: Request, params: PushParams) {
  if (!isRungName(params.rung)) throw new AppError("WE-REQ-001", `invalid rung name ${JSON.stringify(params.rung.slice(0, 64))}: letters, digits, '_' or '-', at most 32`);
  const pushed = parsePushedFile(params.file);
  if (!pushed) throw new AppError("WE-REQ-001", `invalid live file name ${JSON.stringify(params.file.slice(0, 64))}: expected e<epoch>_<n>.ts or e<epoch>.m3u8`);
  const token = bearerToken(request.headers.get("authorization"));
  if (!token) throw new AppError("WE-AUTH-001", "live push needs the session's token: Authorization: Bearer <token>");
  const check = verifyLiveToken(ctx.secrets, token, params.session_id, Date.now());
  if (!check.ok) throw new AppError(check.reason === "expired" ? "WE-AUTH-002" : "WE-AUTH-001", `live push refused: the token is not valid for session ${params.session_id} (${check.reason})`);
  return pushed;
}

async function receive(ctx: KernelContext, request: Request, params: PushParams): Promise<void> {
  const pushed = checkPush(ctx, request, params);
  if (!request.body) throw new AppError("WE-REQ-001", "live push without a body");
  const delivery = liveDelivery(ctx);
  if (pushed.kind === "segment") await delivery.receiveSegment(params.session_id, params.rung, params.file, request.body);
  else await delivery.receivePlaylist(params.session_id, params.rung, pushed.epoch, request.body);
}

export function liveIngestInternalRoutes(ctx: KernelContext) {
  const path = `${LIVE_INTERNAL_PREFIX}:session_id/:rung/:file`;
  return new Elysia({ detail: { tags: ["live (internal)"] } } as never)
    .put(
      path,
      async ({ request, params, set }) => {
        await receive(ctx, request, params);
        set.status = 204;
      },
      { parse: "none", detail: { summary: "Live transcode: store a segment or a rung playlist (worker only; the session's internal token)", hide: true } },
    )
    .delete(
      path,
      ({ request, params, set }) => {
        checkPush(ctx, request, params);
        set.status = 204;
      },
      { detail: { summary: "Live transcode: segment deletes are ignored (the kernel's window decides)", hide: true } },
    );
}
