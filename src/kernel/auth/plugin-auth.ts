/**
 * Bearer tokens that are not API keys are offered to the enabled auth plugins, highest routing priority
 * first (priority, then id: the same order as plugin routing). Each plugin answers:
 *
 *   identity      accepted: the caller is `<plugin short name>:<subject>` with the roles given
 *   WE-AUTH-001   not a token it accepts → ask the next plugin
 *   WE-AUTH-002   expired → stop: 401 WE-AUTH-002 (the client should refresh or log in again)
 *   WE-AUTH-003   a valid user without a WebEncode role → stop: 403
 *   WE-AUTH-005   its provider is unreachable for a token it would judge → remember, ask the next
 *
 * No plugin accepting gives undefined (the middleware answers 401), unless a plugin could not judge the
 * token because it or its provider was unavailable: then WE-AUTH-005, so clients retry instead of
 * discarding a token that may be fine. A plugin that is restarting (e.g. after a user was edited, which
 * restarts auth-basic) is waited for briefly by the plugin host; if that is the only reason, the answer
 * is its 503 WE-PLG-005 with Retry-After.
 *
 * Accepted tokens are cached by SHA-256 for a few seconds (bounded), so a burst of requests costs one RPC.
 */
import { AppError, isAppError } from "../../core/errors.ts";
import type { AuthIdentity } from "../../plugin-runtime/pillars.ts";
import type { PluginSupervisor } from "../../plugin-runtime/host/supervisor.ts";
import type { KernelContext } from "../context.ts";
import { highestRole } from "./principal.ts";

export interface PluginPrincipal {
  id: string;
  name: string;
  roles: string[];
  via: string;
}

const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 2_000;
const CALL_TIMEOUT_MS = 10_000;

interface Cached {
  principal: PluginPrincipal;
  until: number;
}

const caches = new WeakMap<KernelContext, Map<string, Cached>>();

function cacheOf(ctx: KernelContext): Map<string, Cached> {
  let c = caches.get(ctx);
  if (!c) caches.set(ctx, (c = new Map()));
  return c;
}

/** Forget cached identities (after users or plugin settings changed, so new roles apply at once here). */
export function clearAuthCache(ctx: KernelContext): void {
  cacheOf(ctx).clear();
}

function tokenHash(token: string): string {
  return new Bun.CryptoHasher("sha256").update(token).digest("base64url");
}

/** "auth-basic" → "basic", so principals read "basic:alice", "oidc:<sub>" (principal.ts). Pure. */
export function principalPrefix(pluginId: string): string {
  return pluginId.startsWith("auth-") ? pluginId.slice(5) : pluginId;
}

/** The enabled auth plugins in the order they are asked. */
async function candidates(ctx: KernelContext): Promise<PluginSupervisor[]> {
  const list: Array<{ sup: PluginSupervisor; priority: number }> = [];
  for (const sup of ctx.plugins.list()) {
    if (sup.manifest?.pillar !== "auth" || sup.state === "disabled" || sup.state === "failed") continue;
    const settings = await ctx.pluginSettings.get(sup.id);
    if (settings && !settings.enabled) continue;
    list.push({ sup, priority: settings?.priority ?? sup.manifest.priority ?? 0 });
  }
  return list.sort((a, b) => b.priority - a.priority || a.sup.id.localeCompare(b.sup.id)).map((x) => x.sup);
}

/**
 * Calls an auth plugin method. A plugin that is (re)starting (editing a user restarts auth-basic) is waited for
 * by the plugin host itself, and answers 503 WE-PLG-005 with a retry hint if it takes too long.
 */
export function callAuthPlugin<T>(sup: PluginSupervisor, method: string, params: unknown): Promise<T> {
  return sup.call<T>(method, params, { timeoutMs: CALL_TIMEOUT_MS });
}

function validIdentity(error: unknown): error is AuthIdentity {
  const i = error as AuthIdentity;
  return !!i && typeof i.subject === "string" && i.subject !== "" && Array.isArray(i.roles) && i.roles.every((r) => typeof r === "string");
}

export async function authenticateWithPlugins(ctx: KernelContext, token: string): Promise<PluginPrincipal | undefined> {
  const cache = cacheOf(ctx);
  const key = tokenHash(token);
  const hit = cache.get(key);
  if (hit && hit.until > Date.now()) return hit.principal;
  if (hit) cache.delete(key);

  const unavailable: string[] = [];
  /** Plugins that were only restarting or busy (503 WE-PLG-005): if that is all, the answer is that 503. */
  let restarting: AppError | undefined;
  let down = false;
  for (const sup of await candidates(ctx)) {
    let identity: unknown;
    try {
      identity = await callAuthPlugin(sup, "authenticate", { token });
    } catch (e) {
      const code = isAppError(e) ? e.code : undefined;
      if (code === "WE-AUTH-001") {
        // Why each plugin refused (wrong audience, unknown key…) is for operators, at debug; never the token.
        ctx.logger.debug({ plugin: sup.id, reason: (e as Error).message }, "auth plugin refused a token");
        continue;
      }
      if (code === "WE-AUTH-002") throw new AppError("WE-AUTH-002", "token expired; refresh it (POST /v1/auth/refresh) or log in again");
      if (code === "WE-AUTH-003" || code === "WE-AUTH-004") throw e;
      // WE-AUTH-005 (provider down), a plugin that is not running, timed out or broke its contract.
      ctx.logger.warn({ plugin: sup.id, error: (e as Error)?.message, code }, `auth plugin ${sup.id} could not judge a token`);
      unavailable.push(sup.id);
      if (code === "WE-PLG-005") restarting ??= e as AppError;
      else down = true;
      continue;
    }
    if (!validIdentity(identity)) {
      ctx.logger.warn({ plugin: sup.id }, `auth plugin ${sup.id} answered authenticate without a subject and roles; ignored`);
      unavailable.push(sup.id);
      down = true;
      continue;
    }
    if (!highestRole(identity.roles)) throw new AppError("WE-AUTH-003", `${identity.name ?? identity.subject} is signed in (${sup.id}) but has no WebEncode role (viewer, operator or admin)`);
    const principal: PluginPrincipal = {
      id: `${principalPrefix(sup.id)}:${identity.subject}`,
      name: identity.name ?? identity.subject,
      roles: identity.roles,
      via: sup.id,
    };
    const expires = identity.expires_at ? Date.parse(identity.expires_at) : Number.NaN;
    const until = Math.min(Date.now() + CACHE_TTL_MS, Number.isFinite(expires) ? expires : Number.POSITIVE_INFINITY);
    if (until > Date.now()) {
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
      cache.set(key, { principal, until });
    }
    return principal;
  }
  if (restarting && !down) throw restarting;
  if (unavailable.length) throw new AppError("WE-AUTH-005", `authentication provider unavailable (${unavailable.join(", ")}); retry shortly`);
  return undefined;
}
