/**
 * Authentication and authorization for every request, in one place. Runs in Elysia's transform phase:
 * after routing (the route pattern is known) and before body validation, so an anonymous caller learns
 * nothing about a route's schema. Order of checks:
 *   1. the route's entry in the policy table (none → 403 for everyone: fail closed);
 *   2. public routes pass (GET /metrics needs viewer when METRICS_REQUIRE_AUTH);
 *   3. AUTH_DEV_MODE → an admin principal named "dev" (only ever on loopback: config.ts refuses otherwise);
 *   4. `Authorization: Bearer <token>`: an API key (`we_…`) is looked up in the database, anything else is
 *      offered to the enabled auth plugins (auth-basic session tokens, OIDC access tokens);
 *      `GET /v1/events` alone also takes `?access_token=est_…` (stream-tokens.ts: EventSource sends no headers);
 *   5. the principal's role against the route's role → 403 WE-AUTH-004 naming both.
 */
import { AppError } from "../../core/errors.ts";
import type { KernelContext } from "../context.ts";
import { API_KEY_PREFIX, verifyApiKey } from "./api-keys.ts";
import { authenticateWithPlugins } from "./plugin-auth.ts";
import { accessFor, type Access } from "./policy.ts";
import { verifyStreamToken } from "./stream-tokens.ts";
import { highestRole, type Principal, roleAllows } from "./principal.ts";

const principals = new WeakMap<Request, Principal>();

/** The authenticated caller of a request (undefined for anonymous calls to public routes). */
export function principalOf(request: Request): Principal | undefined {
  return principals.get(request);
}

export const DEV_PRINCIPAL: Principal = Object.freeze({ id: "dev", name: "development mode (no authentication)", role: "admin", via: "dev" });

/** Resolves and checks the caller; throws AppError (401/403) when the request may not proceed. */
export async function authorize(ctx: KernelContext, request: Request, route: string): Promise<Principal | undefined> {
  const access = accessFor(request.method, route);
  if (!access) throw new AppError("WE-AUTH-003", `${request.method} ${route} has no access policy; it is refused for everyone`);
  const need = effectiveRole(ctx, access);
  if (need === "public") return undefined;
  const principal = ctx.config.AUTH_DEV_MODE ? DEV_PRINCIPAL : await authenticate(ctx, request, access);
  principals.set(request, principal);
  if (!roleAllows(principal.role, need)) {
    throw new AppError("WE-AUTH-004", `${access.action} needs the ${need} role; these credentials have ${principal.role}`, { required_role: need, role: principal.role });
  }
  return principal;
}

function effectiveRole(ctx: KernelContext, access: Access): Access["role"] {
  if (access.action === "system.metrics" && ctx.config.METRICS_REQUIRE_AUTH) return "viewer";
  return access.role;
}

/** The bearer token of a request, or undefined. Pure. */
export function bearerToken(request: Request): string | undefined {
  const header = request.headers.get("authorization");
  const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return m?.[1];
}

async function authenticate(ctx: KernelContext, request: Request, access: Access): Promise<Principal> {
  const token = bearerToken(request);
  const streamToken = access.action === "events.stream" && !token ? new URL(request.url).searchParams.get("access_token") : null;
  if (streamToken) {
    const check = verifyStreamToken(ctx.secrets, streamToken);
    if (!check.ok) throw new AppError(check.reason === "expired" ? "WE-AUTH-002" : "WE-AUTH-001", check.reason === "expired" ? "this stream token has expired; request a new one with POST /v1/events/tokens" : "invalid stream token");
    return check.principal;
  }
  if (!token) {
    throw new AppError("WE-AUTH-001", "authentication required: send `Authorization: Bearer <token>` with an API key or a session/OIDC access token");
  }
  if (token.startsWith(API_KEY_PREFIX)) {
    const check = await verifyApiKey(ctx.db, token);
    if (!check.ok) {
      if (check.reason === "expired") throw new AppError("WE-AUTH-002", "this API key has expired; ask an admin for a new one");
      throw new AppError("WE-AUTH-001", check.reason === "revoked" ? "this API key has been revoked" : "invalid API key");
    }
    return { id: `key:${check.row.id}`, name: check.row.name, role: check.row.role as Principal["role"], via: "api_key" };
  }
  const found = await authenticateWithPlugins(ctx, token);
  if (!found) throw new AppError("WE-AUTH-001", "invalid or unknown token");
  const role = highestRole(found.roles);
  if (!role) throw new AppError("WE-AUTH-003", `${found.name} is authenticated but has no WebEncode role (viewer, operator or admin); ask an admin to map one`);
  return { id: found.id, name: found.name, role, via: found.via };
}

/** The Elysia hook (see app.ts): `.onTransform({ as: "global" }, authHook(ctx))`. */
export function authHook(ctx: KernelContext) {
  return async ({ request, route, set }: { request: Request; route: string; set: { headers: Record<string, string | number> } }) => {
    if (request.method === "OPTIONS") return; // CORS preflights carry no credentials (cors.ts answers them)
    try {
      await authorize(ctx, request, route);
    } catch (e) {
      if (e instanceof AppError && e.status === 401) set.headers["www-authenticate"] = `Bearer realm="webencode"${e.code === "WE-AUTH-002" ? ', error="invalid_token"' : ""}`;
      throw e;
    }
  };
}
