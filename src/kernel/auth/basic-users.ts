/**
 * The users of auth-basic, edited in the plugin's configuration (`users`, a secret field: it holds the
 * password hashes) in plugin_configs. Edits take the row lock, so two admins (or two kernels) editing at
 * once cannot lose each other's change; then this kernel's plugin restarts with the new list and
 * `plugin.changed` tells the other kernels to do the same.
 */
import { eq } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import { pluginConfigs } from "../../db/schema.ts";
import { type User, parseUsers, serializeUsers } from "../../plugin-runtime/shared/basic-users.ts";
import { PLUGIN_CHANGED, type PluginChanged } from "../../plugin-runtime/remote-settings.ts";
import type { PluginSupervisor } from "../../plugin-runtime/host/supervisor.ts";
import type { KernelContext } from "../context.ts";
import { callAuthPlugin, clearAuthCache } from "./plugin-auth.ts";

export const BASIC_ID = "auth-basic";
export type { User };

/** What the API shows of a user: never the hash. Pure. */
export function userView(user: User) {
  return { id: user.username, username: user.username, name: user.name ?? null, roles: user.roles, disabled: user.disabled };
}

/** This kernel's auth-basic, or a clear error when it is not installed. */
export function basicPlugin(ctx: KernelContext): PluginSupervisor {
  const sup = ctx.plugins.get(BASIC_ID);
  if (!sup) throw new AppError("WE-PLG-001", "password users need the auth-basic plugin, which is not installed on this kernel");
  return sup;
}

/** A password hash made by the plugin (argon2id): the kernel never hashes or sees a hash algorithm itself. */
export async function hashPassword(ctx: KernelContext, password: string): Promise<string> {
  const { hash } = await callAuthPlugin<{ hash: string }>(basicPlugin(ctx), "hash_password", { password });
  return hash;
}

function storedUsers(ctx: KernelContext, row: typeof pluginConfigs.$inferSelect | undefined): User[] {
  const secret = row?.secrets.users;
  // A plugins.toml seed keeps `users` in the plain column; the first edit moves it to the secret one.
  const stored = secret !== undefined ? ctx.secrets.decrypt(secret) : row?.config.users;
  try {
    return parseUsers(stored);
  } catch (e) {
    throw new AppError("WE-PLG-003", `auth-basic's stored users are invalid (${(e as Error).message}); fix them with PUT /v1/plugins/auth-basic/config`);
  }
}

export async function listUsers(ctx: KernelContext): Promise<User[]> {
  const [row] = await ctx.db.select().from(pluginConfigs).where(eq(pluginConfigs.id, BASIC_ID));
  return storedUsers(ctx, row);
}

/**
 * Applies `edit` to the stored list under the row lock and saves the result. `edit` must be quick and
 * local (hash passwords before calling this). Returns what `edit` returns.
 */
export async function editUsers<T>(ctx: KernelContext, edit: (users: User[]) => { users: User[]; result: T }): Promise<T> {
  const enabled = (await ctx.pluginSettings.get(BASIC_ID))?.enabled ?? true;
  const result = await ctx.db.transaction(async (tx) => {
    await tx.insert(pluginConfigs).values({ id: BASIC_ID, pillar: "auth", enabled }).onConflictDoNothing();
    const [row] = await tx.select().from(pluginConfigs).where(eq(pluginConfigs.id, BASIC_ID)).for("update");
    const out = edit(storedUsers(ctx, row));
    const { users: _plain, ...config } = row?.config ?? {};
    await tx
      .update(pluginConfigs)
      .set({ config, secrets: { ...row?.secrets, users: ctx.secrets.encrypt(serializeUsers(out.users)) }, updatedAt: new Date() })
      .where(eq(pluginConfigs.id, BASIC_ID));
    return out.result;
  });
  await applyChange(ctx);
  return result;
}

/** The new list takes effect: here by restarting the plugin, elsewhere through `plugin.changed`. */
async function applyChange(ctx: KernelContext): Promise<void> {
  ctx.pluginSettings.invalidate(BASIC_ID);
  clearAuthCache(ctx);
  const sup = ctx.plugins.get(BASIC_ID);
  if (sup && sup.state !== "disabled") await sup.restart();
  await ctx.bus
    .publish(PLUGIN_CHANGED, { id: BASIC_ID, origin: ctx.instanceId } satisfies PluginChanged)
    .catch((error) => ctx.logger.warn({ error, plugin: BASIC_ID }, "could not announce the change of auth-basic's users"));
}
