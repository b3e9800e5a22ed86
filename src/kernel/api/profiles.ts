/**
 * `/v1/profiles`: built-in profiles and ladders (read-only) and custom profiles (validated: codec, container
 * and encoder must fit together; the encoder must be available on some worker unless it may fall back).
 */
import { eq, sql } from "drizzle-orm";
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import { profiles, workers } from "../../db/schema.ts";
import { BUILTIN_LADDERS, BUILTIN_PROFILES, encoderFor, parseProfile, type ProfileSpec } from "../../media/profiles.ts";
import type { KernelContext } from "../context.ts";
import { customProfiles, isBuiltinId } from "../profiles/catalog.ts";

const idParams = v.object({ id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "profile ids are 1-64 of a-z, 0-9, _ and -")) });

function view(spec: ProfileSpec, builtin: boolean) {
  return { id: spec.id, name: spec.name, description: spec.description ?? null, builtin, spec };
}

async function hardware(ctx: KernelContext) {
  const rows = await ctx.db.select({ pools: workers.pools }).from(workers).where(eq(workers.status, "healthy"));
  const pools = new Set(rows.flatMap((r) => r.pools));
  return { nvidia: pools.has("nvidia"), qsv: pools.has("qsv"), vaapi: pools.has("vaapi") };
}

/** Validates a submitted profile; returns it with a note on how it will be encoded right now. */
async function validate(ctx: KernelContext, body: unknown, id?: string) {
  let spec: ProfileSpec;
  try {
    spec = parseProfile(id ? { ...(body as object), id } : body);
  } catch (e) {
    throw new AppError("WE-JOB-003", `invalid profile: ${(e as Error).message}`);
  }
  if (isBuiltinId(spec.id)) throw new AppError("WE-JOB-003", `profile ${spec.id} is built in and read-only; choose another id`, undefined, 409);
  const choice = encoderFor(spec, await hardware(ctx));
  if ("error" in choice) throw new AppError("WE-JOB-003", `profile ${spec.id} cannot be encoded by any connected worker: ${choice.error}`);
  return { spec, encoder: choice };
}

export function profileRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/profiles", detail: { tags: ["profiles"] } } as never)
    .get(
      "",
      async () => ({
        items: [...Object.values(BUILTIN_PROFILES).map((p) => view(p, true)), ...Object.values(await customProfiles(ctx.db)).map((p) => view(p, false))],
        ladders: Object.fromEntries(Object.entries(BUILTIN_LADDERS).map(([k, ids]) => [k, [...ids]])),
      }),
      { detail: { summary: "Built-in and custom profiles, and built-in ladder ids" } },
    )
    .get(
      "/:id",
      async ({ params }) => {
        const builtin = BUILTIN_PROFILES[params.id];
        if (builtin) return view(builtin, true);
        const custom = (await customProfiles(ctx.db))[params.id];
        if (!custom) throw new AppError("WE-JOB-003", `profile ${params.id} not found`, undefined, 404);
        return view(custom, false);
      },
      { params: idParams, detail: { summary: "One profile" } },
    )
    .post(
      "",
      async ({ body, set }) => {
        const { spec, encoder } = await validate(ctx, body);
        const inserted = await ctx.db.insert(profiles).values({ id: spec.id, name: spec.name, description: spec.description, spec: spec as never }).onConflictDoNothing().returning();
        if (!inserted.length) throw new AppError("WE-JOB-003", `profile ${spec.id} already exists; use PUT to replace it`, undefined, 409);
        set.status = 201;
        return { ...view(spec, false), encoder };
      },
      { body: v.record(v.string(), v.unknown()), detail: { summary: "Create a custom profile" } },
    )
    .put(
      "/:id",
      async ({ params, body }) => {
        const { spec, encoder } = await validate(ctx, body, params.id);
        const updated = await ctx.db
          .update(profiles)
          .set({ name: spec.name, description: spec.description, spec: spec as never, updatedAt: sql`now()` })
          .where(eq(profiles.id, params.id))
          .returning();
        if (!updated.length) throw new AppError("WE-JOB-003", `profile ${params.id} not found`, undefined, 404);
        return { ...view(spec, false), encoder };
      },
      { params: idParams, body: v.record(v.string(), v.unknown()), detail: { summary: "Replace a custom profile" } },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        if (isBuiltinId(params.id)) throw new AppError("WE-JOB-003", `profile ${params.id} is built in and read-only`, undefined, 409);
        const gone = await ctx.db.delete(profiles).where(eq(profiles.id, params.id)).returning({ id: profiles.id });
        if (!gone.length) throw new AppError("WE-JOB-003", `profile ${params.id} not found`, undefined, 404);
        set.status = 204;
      },
      { params: idParams, detail: { summary: "Delete a custom profile" } },
    );
}
