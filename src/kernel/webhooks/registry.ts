/**
 * The webhooks and their delivery log in PostgreSQL, for the `/v1/webhooks` routes (src/kernel/api/webhooks.ts,
 * which validate and authorize; the SQL is here). Not-found and conflict answers are AppErrors with the codes
 * the API documents.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import { WEBHOOK_DELIVERY_STATUSES, webhookDeliveries, webhooks } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import { loadEvent } from "./payload.ts";
import { kickWebhookSender } from "./sender.ts";

export { WEBHOOK_DELIVERY_STATUSES };
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];
export type WebhookRow = typeof webhooks.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;
export type WebhookPatch = Partial<Pick<typeof webhooks.$inferInsert, "url" | "eventTypes" | "secretEnc" | "description" | "enabled">>;

const notFound = (id: string) => new AppError("WE-REQ-006", `webhook ${id} not found`);

export async function listWebhooks(ctx: KernelContext, limit: number, offset: number): Promise<WebhookRow[]> {
  return ctx.db.select().from(webhooks).orderBy(desc(webhooks.createdAt), desc(webhooks.id)).limit(limit).offset(offset);
}

export async function getWebhook(ctx: KernelContext, id: string): Promise<WebhookRow> {
  const [row] = await ctx.db.select().from(webhooks).where(eq(webhooks.id, id));
  if (!row) throw notFound(id);
  return row;
}

export async function createWebhook(ctx: KernelContext, values: Required<Omit<WebhookPatch, "description">> & { description: string | null }): Promise<WebhookRow> {
  const [row] = await ctx.db.insert(webhooks).values(values).returning();
  return row!;
}

/** Changes the fields given; enabling one wakes the sender for its waiting deliveries. */
export async function updateWebhook(ctx: KernelContext, id: string, patch: WebhookPatch): Promise<WebhookRow> {
  const [row] = await ctx.db
    .update(webhooks)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(webhooks.id, id))
    .returning();
  if (!row) throw notFound(id);
  if (patch.enabled) kickWebhookSender(ctx);
  return row;
}

export async function deleteWebhook(ctx: KernelContext, id: string): Promise<void> {
  const gone = await ctx.db.delete(webhooks).where(eq(webhooks.id, id)).returning({ id: webhooks.id });
  if (!gone.length) throw notFound(id);
}

export async function unmuteWebhook(ctx: KernelContext, id: string): Promise<WebhookRow> {
  const [row] = await ctx.db
    .update(webhooks)
    .set({ mutedAt: null, consecutiveFailures: 0, updatedAt: sql`now()` })
    .where(eq(webhooks.id, id))
    .returning();
  if (!row) throw notFound(id);
  kickWebhookSender(ctx);
  return row;
}

export async function listDeliveries(ctx: KernelContext, webhookId: string, query: { status?: WebhookDeliveryStatus; limit: number; offset: number }): Promise<DeliveryRow[]> {
  await getWebhook(ctx, webhookId);
  return ctx.db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.webhookId, webhookId), query.status ? eq(webhookDeliveries.status, query.status) : undefined))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.eventId))
    .limit(query.limit)
    .offset(query.offset);
}

/** Sends a delivery again now, whatever its status: 409 when the webhook is muted or disabled, the event gone, or an attempt in flight. */
export async function redeliver(ctx: KernelContext, webhookId: string, deliveryId: string): Promise<DeliveryRow> {
  const hook = await getWebhook(ctx, webhookId);
  if (hook.mutedAt) throw new AppError("WE-REQ-001", `webhook ${hook.id} is muted; unmute it first (POST /v1/webhooks/${hook.id}/unmute)`, undefined, 409);
  if (!hook.enabled) throw new AppError("WE-REQ-001", `webhook ${hook.id} is disabled; enable it first (PUT /v1/webhooks/${hook.id} {"enabled": true})`, undefined, 409);
  const [d] = await ctx.db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.webhookId, hook.id)));
  if (!d) throw new AppError("WE-REQ-006", `delivery ${deliveryId} of webhook ${hook.id} not found`);
  if (!(await loadEvent(ctx, d.eventId))) throw new AppError("WE-REQ-001", `event ${d.eventId} is no longer stored (older than EVENT_RETENTION); it cannot be redelivered`, undefined, 409);
  // Not while an attempt is in flight (its claim unexpired): two concurrent sends of one row would race on its log.
  const [row] = await ctx.db
    .update(webhookDeliveries)
    .set({ status: "pending", nextAttemptAt: sql`now()`, lockedUntil: null, updatedAt: sql`now()` })
    .where(
      and(
        eq(webhookDeliveries.id, d.id),
        sql`not (${webhookDeliveries.status} = 'pending' and ${webhookDeliveries.lockedUntil} is not null and ${webhookDeliveries.lockedUntil} > now())`,
      ),
    )
    .returning();
  if (!row) throw new AppError("WE-REQ-001", `delivery ${d.id} is being attempted right now; try again in a few seconds`, undefined, 409);
  kickWebhookSender(ctx);
  return row;
}
