/**
 * `/v1/api-keys` (admin): create (the key is in the 201 response and nowhere else, ever), list, revoke; and
 * `GET /v1/auth/whoami` for any authenticated caller to see who the API thinks they are.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import { apiKeyView, createApiKey, listApiKeys, revokeApiKey } from "../auth/api-keys.ts";
import { principalOf } from "../auth/middleware.ts";
import { ROLES } from "../auth/principal.ts";
import type { KernelContext } from "../context.ts";
import { eventHubOf } from "../events/hub.ts";

const uuid = v.pipe(v.string(), v.uuid("must be a UUID"));

const createBody = v.object({
  name: v.pipe(v.string(), v.trim(), v.minLength(1, "name must not be empty"), v.maxLength(100, "name must be at most 100 characters")),
  role: v.picklist(ROLES, `role must be one of ${ROLES.join(", ")}`),
  /** Lifetime in days (1-3650); omitted = no expiry. */
  expires_in_days: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3650))),
});

export function apiKeyRoutes(ctx: KernelContext) {
  return new Elysia({ detail: { tags: ["auth"] } } as never)
    .post(
      "/v1/api-keys",
      async ({ body, request, set }) => {
        const expiresAt = body.expires_in_days ? new Date(Date.now() + body.expires_in_days * 86_400_000) : null;
        const { row, key } = await createApiKey(ctx.db, { name: body.name, role: body.role, expiresAt, createdBy: principalOf(request)?.id ?? "unknown" });
        set.status = 201;
        return { ...apiKeyView(row), key };
      },
      { body: createBody, detail: { summary: "Create an API key (shown once, in this response)" } },
    )
    .get("/v1/api-keys", async () => ({ items: (await listApiKeys(ctx.db)).map(apiKeyView) }), { detail: { summary: "API keys (never the keys themselves)" } })
    .delete(
      "/v1/api-keys/:id",
      async ({ params, set }) => {
        const row = await revokeApiKey(ctx.db, params.id);
        if (!row) throw new AppError("WE-REQ-006", `API key ${params.id} not found`);
        // Open event streams of this key end now on this kernel (other kernels: at their next EVENTS_AUTH_RECHECK).
        await eventHubOf(ctx).recheckCredentials();
        set.status = 204;
      },
      { params: v.object({ id: uuid }), detail: { summary: "Revoke an API key (takes effect at once)" } },
    )
    .get(
      "/v1/auth/whoami",
      ({ request }) => {
        const p = principalOf(request);
        if (!p) throw new AppError("WE-AUTH-001", "not authenticated");
        return { id: p.id, name: p.name, role: p.role, via: p.via };
      },
      { detail: { summary: "The authenticated caller" } },
    );
}
