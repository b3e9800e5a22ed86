/**
 * `/v1/webhooks` (admin): webhooks (URL, event types, write-only secret), their delivery log, unmute and
 * redeliver. Deliveries themselves are made by src/kernel/webhooks/sender.ts; docs/webhooks.md is the
 * integrator's guide.
 *
 * The secret is encrypted at rest (SECRET_KEY) and never returned: responses say `"secret": "set"`, except the
 * 201 of a create without a secret, which returns the generated one once.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import { checkOutboundUrl, OutboundRefused, OutboundTimeout } from "../../core/outbound-guard.ts";
import type { KernelContext } from "../context.ts";
import { unknownEventTypes, WEBHOOK_EVENT_TYPES } from "../webhooks/event-types.ts";
import {
  createWebhook,
  type DeliveryRow,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listWebhooks,
  redeliver,
  unmuteWebhook,
  updateWebhook,
  WEBHOOK_DELIVERY_STATUSES,
  type WebhookPatch,
  type WebhookRow,
} from "../webhooks/registry.ts";
import { generateSecret } from "../webhooks/sign.ts";
import { limitParam, offsetParam, page } from "./pagination.ts";

const uuid = v.pipe(v.string(), v.uuid("must be a UUID"));
const idParams = v.object({ id: uuid });

const fields = {
  url: v.pipe(v.string(), v.trim(), v.minLength(1, "url is required"), v.maxLength(2048, "url must be at most 2048 characters")),
  event_types: v.pipe(
    v.array(v.pipe(v.string(), v.maxLength(64))),
    v.minLength(1, 'event_types needs at least one type, or ["*"] for all'),
    v.maxLength(64),
  ),
  secret: v.pipe(v.string(), v.minLength(16, "secret must be at least 16 characters (omit it to have one generated)"), v.maxLength(256, "secret must be at most 256 characters")),
  description: v.nullable(v.pipe(v.string(), v.maxLength(500, "description must be at most 500 characters"))),
  enabled: v.boolean(),
};

const createBody = v.strictObject({
  url: fields.url,
  event_types: fields.event_types,
  secret: v.optional(fields.secret),
  description: v.optional(fields.description),
  enabled: v.optional(fields.enabled),
});

/** PUT changes the fields it names; the others keep their values (send `secret` to rotate it). */
const updateBody = v.strictObject({
  url: v.optional(fields.url),
  event_types: v.optional(fields.event_types),
  secret: v.optional(fields.secret),
  description: v.optional(fields.description),
  enabled: v.optional(fields.enabled),
});

export function webhookView(webhook: WebhookRow) {
  return {
    id: webhook.id,
    url: webhook.url,
    event_types: webhook.eventTypes,
    description: webhook.description,
    enabled: webhook.enabled,
    secret: "set" as string,
    muted: webhook.mutedAt !== null,
    muted_at: webhook.mutedAt,
    consecutive_failures: webhook.consecutiveFailures,
    created_at: webhook.createdAt,
    updated_at: webhook.updatedAt,
  };
}

export function deliveryView(delivery: DeliveryRow) {
  return {
    id: delivery.id,
    webhook_id: delivery.webhookId,
    event_id: delivery.eventId,
    event_type: delivery.eventType,
    status: delivery.status,
    attempts: delivery.attempts,
    response_code: delivery.responseCode,
    latency_ms: delivery.latencyMs,
    last_error: delivery.lastError,
    next_attempt_at: delivery.status === "pending" ? delivery.nextAttemptAt : null,
    last_attempt_at: delivery.lastAttemptAt,
    created_at: delivery.createdAt,
    updated_at: delivery.updatedAt,
  };
}

/** The same outbound-address rules as source URLs (OUTBOUND_ALLOW_CIDRS); checked again at every send. */
async function checkUrl(ctx: KernelContext, raw: string): Promise<string> {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new AppError("WE-REQ-001", `webhook url ${JSON.stringify(raw.slice(0, 200))} is not a valid URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new AppError("WE-REQ-001", `webhook url must be http:// or https://, not ${u.protocol}//`);
  // The URL is shown in every response and log: credentials belong in the secret (the signature), not here.
  if (u.username || u.password) throw new AppError("WE-REQ-001", "webhook url must not contain credentials (user:password@); receivers authenticate deliveries by their signature");
  try {
    await checkOutboundUrl(u.href, { allowCidrs: ctx.config.OUTBOUND_ALLOW_CIDRS, what: "webhook url" });
  } catch (e) {
    if (e instanceof OutboundRefused) throw new AppError("WE-REQ-001", e.message, { reason: e.reason, ...(e.address ? { address: e.address, address_kind: e.kind } : {}) });
    if (e instanceof OutboundTimeout) throw new AppError("WE-REQ-001", `${e.message}; check the host name or try again`);
    throw e;
  }
  return u.href;
}

function checkTypes(types: string[]): string[] {
  const unknown = unknownEventTypes(types);
  if (unknown.length) throw new AppError("WE-REQ-001", `unknown event type ${unknown.join(", ")}; use "*" or any of ${WEBHOOK_EVENT_TYPES.join(", ")}`, { unknown });
  return [...new Set(types)];
}

export function webhookRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/webhooks", detail: { tags: ["webhooks"] } } as never).use(webhookSetRoutes(ctx)).use(deliveryRoutes(ctx));
}

/** The webhooks themselves: list, create, read, change, delete. */
function webhookSetRoutes(ctx: KernelContext) {
  const create = async ({ body, set }: { body: v.InferOutput<typeof createBody>; set: { status?: number | string } }) => {
    const generated = body.secret === undefined ? generateSecret() : undefined;
    const row = await createWebhook(ctx, {
      url: await checkUrl(ctx, body.url),
      eventTypes: checkTypes(body.event_types),
      description: body.description ?? null,
      enabled: body.enabled ?? true,
      secretEnc: ctx.secrets.encrypt(body.secret ?? generated!),
    });
    set.status = 201;
    // A generated secret is returned this once: store it now, it cannot be read back (PUT a new one to rotate).
    return { ...webhookView(row), ...(generated ? { secret: generated } : {}) };
  };
  const update = async ({ params, body }: { params: { id: string }; body: v.InferOutput<typeof updateBody> }) => {
    await getWebhook(ctx, params.id);
    const patch: WebhookPatch = {};
    if (body.url !== undefined) patch.url = await checkUrl(ctx, body.url);
    if (body.event_types !== undefined) patch.eventTypes = checkTypes(body.event_types);
    if (body.secret !== undefined) patch.secretEnc = ctx.secrets.encrypt(body.secret);
    if (body.description !== undefined) patch.description = body.description;
    if (body.enabled !== undefined) patch.enabled = body.enabled;
    return webhookView(await updateWebhook(ctx, params.id, patch));
  };
  return new Elysia()
    .get("", async ({ query }) => {
      const { limit, offset } = page(query);
      return { items: (await listWebhooks(ctx, limit, offset)).map(webhookView), limit, offset };
    }, { query: v.object({ limit: limitParam, offset: offsetParam }), detail: { summary: "List webhooks, newest first (secrets are never shown)" } })
    .post("", create, { body: createBody, detail: { summary: "Create a webhook (a generated secret is returned once, in this response)" } })
    .get("/:id", async ({ params }) => webhookView(await getWebhook(ctx, params.id)), { params: idParams, detail: { summary: "One webhook" } })
    .put("/:id", update, { params: idParams, body: updateBody, detail: { summary: "Change a webhook (fields not sent keep their values; send secret to rotate it)" } })
    .delete("/:id", async ({ params, set }) => {
      await deleteWebhook(ctx, params.id);
      set.status = 204;
    }, { params: idParams, detail: { summary: "Delete a webhook and its delivery log" } });
}

const deliveryQuery = v.object({
  status: v.optional(v.picklist(WEBHOOK_DELIVERY_STATUSES, `status must be one of ${WEBHOOK_DELIVERY_STATUSES.join(", ")}`)),
  limit: limitParam,
  offset: offsetParam,
});

/** Unmute, the delivery log and redelivery. */
function deliveryRoutes(ctx: KernelContext) {
  return new Elysia()
    .post("/:id/unmute", async ({ params }) => webhookView(await unmuteWebhook(ctx, params.id)), {
      params: idParams,
      detail: { summary: "Unmute a webhook: its waiting deliveries are sent again" },
    })
    .get("/:id/deliveries", async ({ params, query }) => {
      const { limit, offset } = page(query);
      return { items: (await listDeliveries(ctx, params.id, { status: query.status, limit, offset })).map(deliveryView), limit, offset };
    }, {
      params: idParams,
      query: deliveryQuery,
      detail: { summary: "A webhook's delivery log, newest first: status, response code, latency, attempts, last error" },
    })
    .post("/:id/deliveries/:deliveryId/redeliver", async ({ params, set }) => {
      const row = await redeliver(ctx, params.id, params.deliveryId);
      set.status = 202;
      return deliveryView(row);
    }, { params: v.object({ id: uuid, deliveryId: uuid }), detail: { summary: "Send a delivery again now (whatever its status); 202, the attempt shows in the log" } });
}
