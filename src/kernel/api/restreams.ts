/**
 * `/v1/restreams` (issue 16, docs/restream.md): an input (a file in storage, a URL, a completed job's output,
 * a live stream) sent to several RTMP destinations, now or on a schedule. Operators create, start, stop and
 * delete; viewers list and read them with per-destination state (src/kernel/auth/policy.ts). Stream keys are
 * write-only: the body is checked and the keys sealed by planRestream, no response carries them.
 *
 * `GET /internal/restreams/:id/claim`: the restream task's worker fetches the destinations with their keys
 * and the position to resume from; the task's restream token is the credential (policy: public).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { principalOf } from "../auth/middleware.ts";
import type { KernelContext } from "../context.ts";
import { claimRestream } from "../restream/internal.ts";
import { planRestream } from "../restream/request.ts";
import { deleteRestream, startNow, startRestream, stopRestream } from "../restream/service.ts";
import { getRestream, listRestreams } from "../restream/store.ts";
import { restreamView } from "../restream/views.ts";
import { AppError } from "../../core/errors.ts";
import { limitParam, offsetParam, page } from "./pagination.ts";

const idParams = v.object({ id: v.pipe(v.string(), v.uuid("must be a UUID")) });

/** Both: the public routes and the worker's claim. */
export function restreamApi(ctx: KernelContext) {
  return new Elysia().use(restreamRoutes(ctx)).use(restreamInternalRoutes(ctx));
}

export function restreamRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/restreams", detail: { tags: ["restreams"] } } as never).use(restreamSetRoutes(ctx)).use(restreamControlRoutes(ctx));
}

function restreamSetRoutes(ctx: KernelContext) {
  const create = async ({ body, request, set }: { body: unknown; request: Request; set: { status?: number | string } }) => {
    const plan = planRestream(body, ctx.secrets);
    const row = await startRestream(ctx, { ...plan, origin: "api", createdBy: principalOf(request)?.id ?? "unknown" });
    set.status = 201;
    return restreamView(row);
  };
  return new Elysia()
    .get("", async ({ query }) => {
      const { limit, offset } = page(query);
      return { items: (await listRestreams(ctx.db, limit, offset)).map(restreamView), limit, offset };
    }, { query: v.object({ limit: limitParam, offset: offsetParam }), detail: { summary: "List restreams, newest first (keys are never shown)" } })
    .post("", create, { body: v.unknown(), detail: { summary: "Create a restream: started now, or at start_at (keys are write-only)" } })
    .get("/:id", async ({ params }) => restreamView(await getRestream(ctx.db, params.id)), { params: idParams, detail: { summary: "One restream with per-destination state" } })
    .delete("/:id", async ({ params, set }) => {
      await deleteRestream(ctx, params.id);
      set.status = 204;
    }, { params: idParams, detail: { summary: "Delete a restream (stopped first when running)" } });
}

function restreamControlRoutes(ctx: KernelContext) {
  const stop = async ({ params }: { params: { id: string } }) => {
    const row = await getRestream(ctx.db, params.id);
    if (row.status === "stopped" || row.status === "completed" || row.status === "failed") {
      throw new AppError("WE-STR-010", `restream ${row.id} has already ended (${row.status})`, { status: row.status });
    }
    return restreamView(await stopRestream(ctx, params.id));
  };
  return new Elysia()
    .post("/:id/start", async ({ params }) => restreamView(await startNow(ctx, params.id)), { params: idParams, detail: { summary: "Start a restream now (a scheduled one early, an ended one again)" } })
    .post("/:id/stop", stop, { params: idParams, detail: { summary: "Stop a restream (a scheduled one never starts)" } });
}

/** The worker's claim: destinations with keys opened and the position to resume from (restream token). */
export function restreamInternalRoutes(ctx: KernelContext) {
  return new Elysia({ detail: { tags: ["restreams"], hide: true } } as never).get(
    "/internal/restreams/:id/claim",
    async ({ params, request, set }) => {
      set.headers["cache-control"] = "no-store";
      return claimRestream(ctx.db, ctx.secrets, params.id, request.headers.get("authorization"));
    },
    { params: idParams },
  );
}
