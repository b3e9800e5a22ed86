/**
 * `GET /internal/live/:session_id/source.flv`: the live task pulls its session's FLV from the ingesting
 * kernel (src/kernel/live/source.ts). Authenticated by the session's internal live token
 * (`Authorization: Bearer`, src/kernel/live/token.ts), not by API credentials: the policy entry is public and
 * a missing or wrong token is 403 WE-STR-008.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import type { KernelContext } from "../context.ts";
import { liveManagerOf } from "../live/registry.ts";
import { sessionSource } from "../live/source.ts";
import { bearerToken, verifyLiveToken } from "../live/token.ts";

const sessionParams = v.object({ session_id: v.pipe(v.string(), v.uuid("must be a UUID")) });

/** Throws 403 WE-STR-008 unless the request carries a valid token for this session. */
export function checkLiveToken(ctx: Pick<KernelContext, "secrets">, request: Request, sessionId: string): void {
  const token = bearerToken(request.headers.get("authorization"));
  const check = token ? verifyLiveToken(ctx.secrets, token, sessionId, Date.now()) : { ok: false as const, reason: "missing" };
  if (!check.ok) throw new AppError("WE-STR-008", `live token refused (${check.reason}): internal live endpoints take the token of the session's live task`);
}

export function streamInternalRoutes(ctx: KernelContext) {
  const source = ({ params, request, server }: { params: { session_id: string }; request: Request; server: { timeout(request: Request, seconds: number): void } | null }) => {
    checkLiveToken(ctx, request, params.session_id);
    const session = liveManagerOf(ctx)?.sessionById(params.session_id);
    if (!session) throw new AppError("WE-STR-002", `live session ${params.session_id} is not open on this kernel (it ended, or another kernel ingests it)`);
    // The response may pause for a reconnect grace with nothing to send: no idle cut-off on it.
    server?.timeout(request, 0);
    return new Response(sessionSource(liveManagerOf(ctx)!, session), { headers: { "content-type": "video/x-flv", "cache-control": "no-store" } });
  };
  return new Elysia({ detail: { tags: ["live"], hide: true } } as never).get("/internal/live/:session_id/source.flv", source, { params: sessionParams });
}
