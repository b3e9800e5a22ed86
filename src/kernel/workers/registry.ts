/**
 * Keeps the `workers` table in step with the bus's presence registry. Workers refresh their presence entry
 * on every heartbeat; an entry that expires (no heartbeat within PRESENCE_TTL_MS, src/core/topology.ts) marks the worker
 * offline. Idempotent, so every kernel may run it (the reconciler runs it in one).
 */
import { and, eq, inArray, ne, notInArray, sql } from "drizzle-orm";
import type { PresenceEntry } from "../../bus/types.ts";
import type { WorkerPresence } from "../../core/worker-info.ts";
import type { Db } from "../../db/client.ts";
import { workers } from "../../db/schema.ts";

export interface SyncResult {
  joined: string[];
  left: string[];
}

export async function syncWorkers(db: Db, present: PresenceEntry<WorkerPresence>[]): Promise<SyncResult> {
  const ids = present.map((p) => p.info.id);
  const before = await db.select({ id: workers.id, status: workers.status }).from(workers);
  const wasOnline = new Set(before.filter((w) => w.status !== "offline").map((w) => w.id));

  for (const p of present) {
    const row = {
      id: p.info.id,
      hostname: p.info.hostname,
      version: p.info.version,
      status: p.info.draining ? "draining" : "healthy",
      slots: p.info.slots,
      running: p.info.running,
      pools: p.info.pools,
      capabilities: p.info.capabilities,
      lastSeenAt: p.updatedAt,
      offlineAt: null,
    };
    await db
      .insert(workers)
      .values(row)
      .onConflictDoUpdate({ target: workers.id, set: { ...row, id: undefined } as never });
  }

  const offline = ids.length
    ? and(ne(workers.status, "offline"), notInArray(workers.id, ids))
    : ne(workers.status, "offline");
  const left = await db.update(workers).set({ status: "offline", offlineAt: sql`now()`, running: 0 }).where(offline).returning({ id: workers.id });

  return { joined: ids.filter((id) => !wasOnline.has(id)), left: left.map((r) => r.id) };
}

export async function markDrain(db: Db, id: string, drain: boolean): Promise<boolean> {
  const rows = await db.update(workers).set({ drainRequested: drain }).where(eq(workers.id, id)).returning({ id: workers.id });
  return rows.length > 0;
}

export async function healthyWorkerCount(db: Db): Promise<number> {
  const rows = await db.select({ n: sql<number>`count(*)::int` }).from(workers).where(inArray(workers.status, ["healthy"]));
  return Number(rows[0]?.n ?? 0);
}
