/**
 * The body of a webhook delivery: `{ event_id, type, created_at, data }`, built from the stored event at send
 * time. `event_id` is the events row id: the same on every attempt and redelivery of an event, so receivers
 * de-duplicate on it. For `job.completed` the data also carries the job's outputs exactly as
 * GET /v1/jobs/:id/outputs shows them, with download URLs minted when the attempt is sent (they expire, so a
 * retry hours later still gets working links).
 */
import { eq } from "drizzle-orm";
import { events, outputs } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import { outputView } from "../jobs/outputs.ts";

export interface WebhookPayload {
  event_id: number;
  type: string;
  created_at: string;
  data: Record<string, unknown>;
}

export type EventRow = typeof events.$inferSelect;

/** The event behind a delivery; undefined once EVENT_RETENTION removed it. */
export async function loadEvent(ctx: Pick<KernelContext, "db">, eventId: number): Promise<EventRow | undefined> {
  const [row] = await ctx.db.select().from(events).where(eq(events.id, eventId));
  return row;
}

export async function buildPayload(ctx: KernelContext, event: EventRow): Promise<WebhookPayload> {
  let data = event.data ?? {};
  if (event.type === "job.completed" && event.jobId) {
    const rows = await ctx.db.select().from(outputs).where(eq(outputs.jobId, event.jobId));
    data = { ...data, outputs: await Promise.all(rows.map((o) => outputView(ctx, o))) };
  }
  return { event_id: Number(event.id), type: event.type, created_at: new Date(event.createdAt).toISOString(), data };
}
