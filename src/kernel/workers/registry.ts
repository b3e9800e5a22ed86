/**
 * Keeps the `workers` table in step with the bus's presence registry. Workers refresh their presence entry
 * on every heartbeat; an entry that expires (no heartbeat within PRESENCE_TTL_MS, src/core/topology.ts) marks the worker
 * offline. Idempotent, so every kernel may run it (the reconciler runs it in one).
 */
import { and, eq, inArray, ne, notInArray, sql } from "drizzle-orm";
import type { PresenceEntry } from "../../bus/types.ts";
import type { Logger } from "pino";
import { parseWorkerPresence, type WorkerPresence } from "../../core/worker-info.ts";
import type { Db } from "../../db/client.ts";
import { workers } from "../../db/schema.ts";
import { recordEvent, recordEvents } from "../events/record.ts";
import type { Exec } from "../../db/exec.ts";

export interface SyncResult {
  joined: string[];
  left: string[];
}

/** The entries that are well-formed worker presences; a malformed one is logged and skipped, never cast. */
export function validPresence(entries: PresenceEntry[], logger: Pick<Logger, "warn">): PresenceEntry<WorkerPresence>[] {
  const valid: PresenceEntry<WorkerPresence>[] = [];
  for (const entry of entries) {
    const parsed = parseWorkerPresence(entry.info);
    if (parsed.ok) valid.push({ ...entry, info: parsed.presence });
    else logger.warn({ presence_id: entry.id, problem: parsed.problem }, "malformed worker presence entry ignored");
  }
  return valid;
}

export async function syncWorkers(db: Db, present: PresenceEntry<WorkerPresence>[]): Promise<SyncResult> {
  // One transaction: the rows and their worker.joined / worker.offline events commit together.
  return db.transaction((tx) => syncWorkersIn(tx, present));
}

async function syncWorkersIn(db: Exec, present: PresenceEntry<WorkerPresence>[]): Promise<SyncResult> {
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

  // Joined = first registration or back from offline. Recorded after the writes above (events/record.ts).
  const joined = present.filter((p) => !wasOnline.has(p.info.id));
  await recordEvents(db, [
    ...joined.map((p) => ({
      type: "worker.joined",
      workerId: p.info.id,
      data: { worker_id: p.info.id, hostname: p.info.hostname, version: p.info.version, pools: p.info.pools, slots: p.info.slots },
    })),
    ...left.map((r) => ({ type: "worker.offline", workerId: r.id, data: { worker_id: r.id, reason: "heartbeats stopped" } })),
  ]);
  return { joined: joined.map((p) => p.info.id), left: left.map((r) => r.id) };
}

/** Records the drain request (worker.draining / worker.undrained when it changes). False: no such worker. */
export async function markDrain(db: Db, id: string, drain: boolean): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [before] = await tx.select({ drain: workers.drainRequested }).from(workers).where(eq(workers.id, id)).for("update");
    if (!before) return false;
    if (before.drain === drain) return true;
    await tx.update(workers).set({ drainRequested: drain }).where(eq(workers.id, id));
    await recordEvent(tx, { type: drain ? "worker.draining" : "worker.undrained", workerId: id, data: { worker_id: id, drain_requested: drain } });
    return true;
  });
}

export async function healthyWorkerCount(db: Db): Promise<number> {
  const rows = await db.select({ n: sql<number>`count(*)::int` }).from(workers).where(inArray(workers.status, ["healthy"]));
  return Number(rows[0]?.n ?? 0);
}
