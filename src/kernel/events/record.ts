/**
 * Platform events (GET /v1/events, webhooks). A state change's event is written in the SAME transaction as
 * the change, together with one pending delivery per webhook subscribed to its type: a committed change
 * always has its event and its deliveries, and a rolled-back one has neither (no lost or phantom events).
 *
 * Event types are `<resource>.<what>`: job.created, job.started, job.processing, job.packaging,
 * job.completed, job.failed, job.cancelled, job.queued (retried), task.<status>, worker.joined,
 * worker.offline, worker.draining, worker.undrained, plugin.state_changed. Progress (job.progress) is not
 * stored: it is frequent and superseded by the next update, so it only travels over the bus.
 *
 * Record an event AFTER the transaction's first write (the state change it describes): the SSE hub's
 * gap handling (events/cursor.ts) relies on a transaction having its xid before it takes an event id.
 */
import { sql } from "drizzle-orm";
import { type Exec, rowsOf } from "../../db/exec.ts";

export interface PlatformEvent {
  type: string;
  jobId?: string | null;
  streamId?: string | null;
  workerId?: string | null;
  data?: Record<string, unknown>;
}

/** The event type of a job entering `status` (the names webhooks subscribe to). */
export function jobEventType(status: string): string {
  return status === "analyzing" ? "job.started" : `job.${status}`;
}

/** Inserts the events and their webhook deliveries; returns the new event ids in order. */
export async function recordEvents(db: Exec, list: PlatformEvent[]): Promise<number[]> {
  const ids: number[] = [];
  for (const e of list) {
    const rows = (await db.execute(sql`
      with ev as (
        insert into events (type, job_id, stream_id, worker_id, data)
        values (${e.type}, ${e.jobId ?? null}, ${e.streamId ?? null}, ${e.workerId ?? null}, ${JSON.stringify(e.data ?? {})}::jsonb)
        returning id, type
      ), hooks as (
        insert into webhook_deliveries (webhook_id, event_id, event_type)
        select w.id, ev.id, ev.type from webhooks w, ev
        where w.enabled and (w.event_types ? ev.type or w.event_types ? '*')
        on conflict do nothing
      )
      select id from ev`));
    ids.push(Number(rowsOf<{ id: number | string }>(rows)[0]!.id));
  }
  return ids;
}

export async function recordEvent(db: Exec, event: PlatformEvent): Promise<number> {
  return (await recordEvents(db, [event]))[0]!;
}
