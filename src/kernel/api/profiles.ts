/**
 * `/v1/profiles`: built-in profiles and ladders (read-only) and custom profiles (validated: codec, container
 * and encoder must fit together; the encoder must be available on some worker unless it may fall back).
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import { BUILTIN_LADDERS, BUILTIN_PROFILES, encoderFor, parseProfile, type ProfileSpec } from "../../media/profiles.ts";
import type { KernelContext } from "../context.ts";
import { customProfiles, isBuiltinId } from "../profiles/catalog.ts";
import { deleteProfile, healthyHardware, insertProfile, replaceProfile } from "../profiles/store.ts";

const idParams = v.object({ id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "profile ids are 1-64 of a-z, 0-9, _ and -")) });

function view(spec: ProfileSpec, builtin: boolean) {
  return { id: spec.id, name: spec.name, description: spec.description ?? null, builtin, spec };
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
  const choice = encoderFor(spec, await healthyHardware(ctx));
  if ("error" in choice) throw new AppError("WE-JOB-003", `profile ${spec.id} cannot be encoded by any connected worker: ${choice.error}`);
  return { spec, encoder: choice };
}

const notFound = (id: string) => new AppError("WE-JOB-003", `profile ${id} not found`, undefined, 404);

export function profileRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/profiles", detail: { tags: ["profiles"] } } as never).use(profileReadRoutes(ctx)).use(profileWriteRoutes(ctx));
}

function profileReadRoutes(ctx: KernelContext) {
  return new Elysia()
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
        if (!custom) throw notFound(params.id);
        return view(custom, false);
      },
      { params: idParams, detail: { summary: "One profile" } },
    );
}

function profileWriteRoutes(ctx: KernelContext) {
  return new Elysia()
    .post("", async ({ body, set }) => {
      const { spec, encoder } = await validate(ctx, body);
      if (!(await insertProfile(ctx, spec))) throw new AppError("WE-JOB-003", `profile ${spec.id} already exists; use PUT to replace it`, undefined, 409);
      set.status = 201;
      return { ...view(spec, false), encoder };
    }, { body: v.record(v.string(), v.unknown()), detail: { summary: "Create a custom profile" } })
    .put("/:id", async ({ params, body }) => {
      const { spec, encoder } = await validate(ctx, body, params.id);
      if (!(await replaceProfile(ctx, params.id, spec))) throw notFound(params.id);
      return { ...view(spec, false), encoder };
    }, { params: idParams, body: v.record(v.string(), v.unknown()), detail: { summary: "Replace a custom profile" } })
    .delete("/:id", async ({ params, set }) => {
      if (isBuiltinId(params.id)) throw new AppError("WE-JOB-003", `profile ${params.id} is built in and read-only`, undefined, 409);
      if (!(await deleteProfile(ctx, params.id))) throw notFound(params.id);
      set.status = 204;
    }, { params: idParams, detail: { summary: "Delete a custom profile" } });
}
