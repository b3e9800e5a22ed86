/**
 * The events table as the hub and the SSE replay read it: new events with the snapshot they were read in,
 * a filtered replay page, the "is this Last-Event-ID still covered?" check, and retention.
 */
import { sql, type SQL } from "drizzle-orm";
import { type Exec, rowsOf } from "../../db/exec.ts";
import type { Snapshot } from "./cursor.ts";
import type { EventFilter } from "./filters.ts";

/** An event as clients receive it (the SSE `data:` JSON). `id` is null for progress updates (not stored). */
export interface EventView {
  id: number | null;
  type: string;
  job_id: string | null;
  stream_id: string | null;
  worker_id: string | null;
  data: Record<string, unknown>;
  created_at: string;
}

export type StoredEvent = EventView & { id: number };

interface RawEvent {
  id: number | string;
  type: string;
  job_id: string | null;
  stream_id: string | null;
  worker_id: string | null;
  data: unknown;
  created_at: Date | string;
}

const COLUMNS = sql.raw("id, type, job_id, stream_id, worker_id, data, created_at");

function view(event: RawEvent): StoredEvent {
  return {
    id: Number(event.id),
    type: event.type,
    job_id: event.job_id,
    stream_id: event.stream_id,
    worker_id: event.worker_id,
    data: (typeof event.data === "string" ? JSON.parse(event.data) : event.data ?? {}) as Record<string, unknown>,
    created_at: new Date(event.created_at).toISOString(),
  };
}

/**
 * Events with id > after (at most `limit`), ascending, and the snapshot they were read with: one statement,
 * so the snapshot describes exactly what the rows saw (cursor.ts relies on it).
 */
export async function readAfter(db: Exec, after: number, limit: number): Promise<{ rows: StoredEvent[]; snap: Snapshot }> {
  const res = await db.execute(sql`
    select s.snap_xmin, s.snap_xmax, e.* from
      (select pg_snapshot_xmin(pg_current_snapshot())::text as snap_xmin, pg_snapshot_xmax(pg_current_snapshot())::text as snap_xmax) s
      left join lateral (select ${COLUMNS} from events where id > ${after} order by id limit ${limit}) e on true`);
  const raw = rowsOf<RawEvent & { snap_xmin: string; snap_xmax: string; id: number | string | null }>(res);
  const snap = { xmin: BigInt(raw[0]!.snap_xmin), xmax: BigInt(raw[0]!.snap_xmax) };
  return { rows: raw.filter((r) => r.id !== null).map(view), snap };
}

/** The highest event id and a snapshot taken with it (the hub's starting point). */
export async function currentHead(db: Exec): Promise<{ maxId: number; snap: Snapshot }> {
  const res = await db.execute(sql`
    select coalesce((select max(id) from events), 0) as max_id,
      pg_snapshot_xmin(pg_current_snapshot())::text as snap_xmin, pg_snapshot_xmax(pg_current_snapshot())::text as snap_xmax`);
  const r = rowsOf<{ max_id: number | string; snap_xmin: string; snap_xmax: string }>(res)[0]!;
  return { maxId: Number(r.max_id), snap: { xmin: BigInt(r.snap_xmin), xmax: BigInt(r.snap_xmax) } };
}

/** The oldest running transaction now (to wait for the transactions of a snapshot to end). */
export async function currentXmin(db: Exec): Promise<bigint> {
  const r = rowsOf<{ snap_xmin: string }>(await db.execute(sql`select pg_snapshot_xmin(pg_current_snapshot())::text as snap_xmin`))[0]!;
  return BigInt(r.snap_xmin);
}

function filterSql(filter: EventFilter): SQL[] {
  const conds: SQL[] = [];
  if (filter.jobId !== undefined) conds.push(sql`job_id = ${filter.jobId}`);
  if (filter.streamId !== undefined) conds.push(sql`stream_id = ${filter.streamId}`);
  if (filter.types) {
    const any: SQL[] = [
      ...filter.types.exact.map((t) => sql`type = ${t}`),
      ...filter.types.prefixes.map((p) => sql`starts_with(type, ${p})`),
    ];
    conds.push(any.length ? sql`(${sql.join(any, sql` or `)})` : sql`false`);
  }
  return conds;
}

/** A replay page: stored events in (after, upTo] matching the filter, ascending. */
export async function replayPage(db: Exec, filter: EventFilter, after: number, upTo: number, limit: number): Promise<StoredEvent[]> {
  const conds = [sql`id > ${after}`, sql`id <= ${upTo}`, ...filterSql(filter)];
  const res = await db.execute(sql`select ${COLUMNS} from events where ${sql.join(conds, sql` and `)} order by id limit ${limit}`);
  return rowsOf<RawEvent>(res).map(view);
}

/**
 * Whether a client resuming after `lastId` may have missed events that no longer exist: the oldest stored
 * event is further on than lastId + 1 (retention deleted what came between), or lastId was never issued by
 * this database (restored from a backup, another installation). Then the client must reload its state.
 */
export async function resumeGap(db: Exec, lastId: number): Promise<string | undefined> {
  const r = rowsOf<{ min_id: number | string | null; seq_last: number | string; is_called: boolean }>(
    await db.execute(sql`select (select min(id) from events) as min_id, last_value as seq_last, is_called from events_id_seq`),
  )[0]!;
  const issued = r.is_called ? Number(r.seq_last) : Number(r.seq_last) - 1;
  if (lastId > issued) return `event ${lastId} was never issued by this installation (the newest is ${issued})`;
  const firstKept = r.min_id === null ? issued + 1 : Number(r.min_id);
  if (firstKept > lastId + 1) return `events after ${lastId} are no longer kept (EVENT_RETENTION); the oldest kept is ${firstKept}`;
  return undefined;
}

/**
 * Deletes events older than the retention, in batches; keeps those a webhook delivery still waits on.
 * Idempotent and safe to run from every kernel at once (locked rows are skipped, not waited on).
 */
export async function deleteExpired(db: Exec, retentionMs: number, batch = 5000): Promise<number> {
  let total = 0;
  for (;;) {
    const res = await db.execute(sql`
      delete from events where id in (
        select id from events
        where created_at < now() - ${`${retentionMs} milliseconds`}::interval
          and id not in (select event_id from webhook_deliveries where status = 'pending')
        order by created_at limit ${batch}
        for update skip locked)
      returning id`);
    const n = rowsOf<{ id: unknown }>(res).length;
    total += n;
    if (n < batch) return total;
  }
}
