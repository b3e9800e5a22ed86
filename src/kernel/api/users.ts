/**
 * `/v1/users` (admin): the password users of auth-basic. They are stored in the plugin's configuration
 * (src/kernel/auth/basic-users.ts); passwords are hashed by the plugin (argon2id) and hashes are never
 * returned. Changing a password, disabling a user or `revoke_sessions` bumps the user's token_version, which
 * invalidates every session and refresh token issued before.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import { ROLE_NAMES, USERNAME } from "../../plugin-runtime/shared/basic-users.ts";
import { type User, editUsers, hashPassword, listUsers, userView } from "../auth/basic-users.ts";
import type { KernelContext } from "../context.ts";

const roles = v.pipe(v.array(v.picklist(ROLE_NAMES, "roles are viewer, operator or admin")), v.minLength(1, "give at least one role"), v.maxLength(3));
const password = v.pipe(v.string(), v.minLength(8, "passwords need at least 8 characters"), v.maxLength(1024, "passwords have at most 1024 characters"));
const name = v.pipe(v.string(), v.maxLength(200));
const idParams = v.object({ id: v.pipe(v.string(), v.regex(USERNAME, "not a valid username")) });

const notFound = (id: string) => new AppError("WE-REQ-006", `user ${id} not found; GET /v1/users lists them`);

const createBody = v.object({ username: v.pipe(v.string(), v.regex(USERNAME, "usernames are 1-128 letters, digits, '.', '_', '@' or '-'")), password, roles, name: v.optional(name) });
const updateBody = v.object({
  roles: v.optional(roles),
  password: v.optional(password),
  name: v.optional(name),
  disabled: v.optional(v.boolean()),
  /** Sign the user out everywhere (implied by a new password or by disabling). */
  revoke_sessions: v.optional(v.boolean()),
});

export function userRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/users", detail: { tags: ["users"] } } as never)
    .get("", async () => ({ items: (await listUsers(ctx)).map(userView) }), { detail: { summary: "List password users (auth-basic)" } })
    .get("/:id", async ({ params }) => userView(await oneUser(ctx, params.id)), { params: idParams, detail: { summary: "One password user" } })
    .post(
      "",
      async ({ body, set }) => {
        const user = await createUser(ctx, body);
        set.status = 201;
        return userView(user);
      },
      { body: createBody, detail: { summary: "Create a password user (auth-basic); the password is stored as an argon2id hash" } },
    )
    .put("/:id", async ({ params, body }) => userView(await updateUser(ctx, params.id, body)), {
      params: idParams,
      body: updateBody,
      detail: { summary: "Change a password user's roles, password, name or disabled flag; a new password signs the user out everywhere" },
    })
    .delete(
      "/:id",
      async ({ params, set }) => {
        await editUsers(ctx, (users) => {
          if (!users.some((u) => u.username === params.id)) throw notFound(params.id);
          return { users: users.filter((u) => u.username !== params.id), result: undefined };
        });
        set.status = 204;
      },
      { params: idParams, detail: { summary: "Delete a password user (their tokens stop working at once)" } },
    );
}

async function oneUser(ctx: KernelContext, id: string): Promise<User> {
  const u = (await listUsers(ctx)).find((x) => x.username === id);
  if (!u) throw notFound(id);
  return u;
}

async function createUser(ctx: KernelContext, body: v.InferOutput<typeof createBody>): Promise<User> {
  if ((await listUsers(ctx)).some((u) => u.username === body.username)) throw conflict(body.username);
  const hash = await hashPassword(ctx, body.password);
  const user: User = { username: body.username, name: body.name, password_hash: hash, roles: dedupe(body.roles), token_version: 0, disabled: false };
  await editUsers(ctx, (users) => {
    if (users.some((u) => u.username === user.username)) throw conflict(user.username);
    return { users: [...users, user], result: undefined };
  });
  return user;
}

async function updateUser(ctx: KernelContext, id: string, body: v.InferOutput<typeof updateBody>): Promise<User> {
  const hash = body.password !== undefined ? await hashPassword(ctx, body.password) : undefined;
  return editUsers(ctx, (users) => {
    const i = users.findIndex((u) => u.username === id);
    if (i < 0) throw notFound(id);
    const old = users[i]!;
    const revoke = hash !== undefined || body.revoke_sessions === true || (body.disabled === true && !old.disabled);
    const next: User = {
      ...old,
      ...(body.name !== undefined ? { name: body.name } : {}),
      ...(body.roles !== undefined ? { roles: dedupe(body.roles) } : {}),
      ...(body.disabled !== undefined ? { disabled: body.disabled } : {}),
      ...(hash !== undefined ? { password_hash: hash } : {}),
      token_version: old.token_version + (revoke ? 1 : 0),
    };
    return { users: users.map((u, j) => (j === i ? next : u)), result: next };
  });
}

function conflict(username: string): AppError {
  return new AppError("WE-REQ-001", `user ${username} already exists; use PUT /v1/users/${username} to change it`, undefined, 409);
}

function dedupe<T>(list: T[]): T[] {
  return [...new Set(list)];
}
