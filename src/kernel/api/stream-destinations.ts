/**
 * `/v1/streams/:id/destinations`: where a live stream is restreamed while it is live (issue 16,
 * docs/restream.md "Live stream destinations"). Operators manage them, viewers read them (policy.ts); every
 * change is audited. Keys are write-only: a view says `key_set`, never the key.
 *
 * The body is checked by the domain (destinations-rules.ts) rather than by Elysia, so that a bad destination
 * is WE-STR-005 with the restream request's own messages; the OpenAPI document shows the real schema
 * (openapi-doc.ts). A change while the stream is live restarts its restream (destinations-restream.ts).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import type { KernelContext } from "../context.ts";
import { createDestination, deleteDestination, getDestination, listDestinations, updateDestination } from "../live/destinations.ts";
import { destinationsChanged, destinationStates } from "../live/destinations-restream.ts";
import { destinationView, planDestination, planDestinationPatch, type StreamDestinationRow } from "../live/destinations-rules.ts";

const uuid = v.pipe(v.string(), v.uuid("must be a UUID"));
const streamParams = v.object({ id: uuid });
const destinationParams = v.object({ id: uuid, destId: uuid });
/** Anything: the domain checks it (WE-STR-005 for a non-object too). */
const looseBody = v.unknown();

type Params = { id: string; destId: string };

export function streamDestinationRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/streams/:id/destinations", detail: { tags: ["streams"] } } as never).use(readRoutes(ctx)).use(writeRoutes(ctx));
}

/** Views with each destination's live state from the stream's running restream (or `stopped`). */
async function views(ctx: KernelContext, streamId: string, rows: StreamDestinationRow[]) {
  const states = await destinationStates(ctx, streamId);
  return rows.map((row) => destinationView(row, states.get(row.id)));
}

function readRoutes(ctx: KernelContext) {
  const list = async ({ params }: { params: { id: string } }) => ({ items: await views(ctx, params.id, await listDestinations(ctx.db, params.id)) });
  const one = async ({ params }: { params: Params }) => (await views(ctx, params.id, [await getDestination(ctx.db, params.id, params.destId)]))[0];
  return new Elysia()
    .get("", list, { params: streamParams, detail: { summary: "A stream's restream destinations with their live state (keys are never shown)" } })
    .get("/:destId", one, { params: destinationParams, detail: { summary: "One destination with its live state" } });
}

function writeRoutes(ctx: KernelContext) {
  const create = async ({ params, body, set }: { params: { id: string }; body: unknown; set: { status?: number | string } }) => {
    const row = await createDestination(ctx.db, params.id, planDestination(body, ctx.secrets));
    await destinationsChanged(ctx, params.id);
    set.status = 201;
    return destinationView(row);
  };
  const patch = async ({ params, body }: { params: Params; body: unknown }) => {
    const current = await getDestination(ctx.db, params.id, params.destId);
    const row = await updateDestination(ctx.db, params.id, params.destId, planDestinationPatch(body, current, ctx.secrets));
    await destinationsChanged(ctx, params.id);
    return destinationView(row);
  };
  const remove = async ({ params, set }: { params: Params; set: { status?: number | string } }) => {
    await deleteDestination(ctx.db, params.id, params.destId);
    await destinationsChanged(ctx, params.id);
    set.status = 204;
  };
  return new Elysia()
    .post("", create, { params: streamParams, body: looseBody, detail: { summary: "Add a destination (its key is write-only); a live stream's restream restarts with it" } })
    .patch("/:destId", patch, { params: destinationParams, body: looseBody, detail: { summary: "Change a destination (fields not sent keep their values; a new key replaces the old)" } })
    .delete("/:destId", remove, { params: destinationParams, detail: { summary: "Remove a destination; a live stream's restream restarts without it" } });
}
