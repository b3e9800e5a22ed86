/**
 * auth-basic's users: they live in the plugin's configuration (secret field `users`, a JSON array), which the
 * kernel keeps in PostgreSQL and hands to every kernel's plugin process. Nothing is kept on local disk, so
 * any kernel of a distributed deployment can log anyone in. The record shape is part of the SDK
 * (src/plugin-runtime/shared/) because both sides need it: the plugin reads the list, the kernel edits it
 * (src/kernel/auth/basic-users.ts) — so a rebuilt auth-basic binary in PLUGIN_DIR stays compatible.
 */
import * as v from "valibot";

export const ROLE_NAMES = ["viewer", "operator", "admin"] as const;

/** Usernames appear in principal ids ("basic:<username>") and in URLs (/v1/users/:id): keep them plain. */
export const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

export const userSchema = v.object({
  username: v.pipe(v.string(), v.regex(USERNAME, "usernames are 1-128 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")),
  name: v.optional(v.pipe(v.string(), v.maxLength(200))),
  /** argon2id (PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash), made by hash_password. */
  password_hash: v.pipe(v.string(), v.startsWith("$argon2id$", "password_hash must be an argon2id hash (use hash_password / POST /v1/users)")),
  roles: v.pipe(v.array(v.picklist(ROLE_NAMES, "roles are viewer, operator or admin")), v.minLength(1, "a user needs at least one role")),
  /** Bumping it revokes every session and refresh token issued to the user before. */
  token_version: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  disabled: v.optional(v.boolean(), false),
});

export type User = v.InferOutput<typeof userSchema>;

const uniqueNames = (list: User[]) => new Set(list.map((u) => u.username)).size === list.length;

/**
 * The `users` field: a JSON string (how secret fields are stored) or, when seeded from plugins.toml, an
 * array. Usernames are unique.
 */
export const usersField = v.pipe(
  v.union([v.pipe(v.string(), v.parseJson(undefined, "users must be a JSON array of users"), v.array(userSchema)), v.array(userSchema)]),
  v.check(uniqueNames, "usernames must be unique"),
);

/** Parses a stored `users` value (string or array). Throws a valibot error on bad input. Pure. */
export function parseUsers(stored: unknown): User[] {
  if (stored === undefined || stored === null || stored === "") return [];
  return v.parse(usersField, stored);
}

/** The stored form of a user list (the JSON string kept in the secret field). Pure. */
export function serializeUsers(users: User[]): string {
  return JSON.stringify(users);
}
