/**
 * The workers the kernel has seen, as the `/v1/workers` routes read them (src/kernel/api/workers.ts validates
 * and shapes; the SQL is here), and the drain switch: recorded in PostgreSQL, then told to the worker.
 */
import { and, asc, desc, eq, inArray, ne } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import { WORKER_DRAIN_EVENT, type WorkerDrain } from "../../core/messages.ts";
import { tasks, WORKER_STATUSES, workers } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import { markDrain } from "./registry.ts";

export { WORKER_STATUSES };
export type WorkerRow = typeof workers.$inferSelect;
export type WorkerStatus = (typeof WORKER_STATUSES)[number];

export async function listWorkers(ctx: KernelContext, query: { status?: WorkerStatus; limit: number; offset: number }): Promise<WorkerRow[]> {
  return ctx.db
    .select()
    .from(workers)
    .where(query.status ? eq(workers.status, query.status) : undefined)
    .orderBy(desc(workers.lastSeenAt))
    .limit(query.limit)
    .offset(query.offset);
}

export async function getWorker(ctx: KernelContext, id: string): Promise<WorkerRow> {
  const [row] = await ctx.db.select().from(workers).where(eq(workers.id, id));
  if (!row) throw new AppError("WE-WRK-001", `worker ${id} not found`);
  return row;
}

/** Drain (or undrain) a worker that is not offline; WE-WRK-004 when the message cannot be sent. */
export async function setDrain(ctx: KernelContext, id: string, drain: boolean): Promise<WorkerRow> {
  const row = await getWorker(ctx, id);
  if (row.status === "offline") throw new AppError("WE-WRK-003", `worker ${id} is offline`);
  await markDrain(ctx.db, id, drain);
  try {
    await ctx.bus.publish(WORKER_DRAIN_EVENT, { worker_id: id, drain } satisfies WorkerDrain);
  } catch (e) {
    throw new AppError("WE-WRK-004", `could not reach worker ${id}: ${(e as Error).message}`);
  }
  return getWorker(ctx, id);
}

/** Id and version of every worker not offline (the readiness check's version rule). */
export async function onlineWorkerVersions(ctx: KernelContext): Promise<Array<{ id: string; version: string }>> {
  return ctx.db.select({ id: workers.id, version: workers.version }).from(workers).where(ne(workers.status, "offline"));
}

export interface CurrentTask {
  taskId: string;
  jobId: string;
  type: string;
  seq: number;
  startedAt: Date | null;
}

/**
 * The tasks each of these workers holds a lease on right now (status leased), oldest first: what the workers
 * page shows as "current tasks". One query for the whole page of workers.
 */
export async function currentTasks(ctx: KernelContext, workerIds: string[]): Promise<Map<string, CurrentTask[]>> {
  const byWorker = new Map<string, CurrentTask[]>(workerIds.map((id) => [id, []]));
  if (workerIds.length === 0) return byWorker;
  const rows = await ctx.db
    .select({ workerId: tasks.leaseWorkerId, taskId: tasks.id, jobId: tasks.jobId, type: tasks.type, seq: tasks.seq, startedAt: tasks.startedAt })
    .from(tasks)
    .where(and(eq(tasks.status, "leased"), inArray(tasks.leaseWorkerId, workerIds)))
    .orderBy(asc(tasks.startedAt), asc(tasks.id));
  for (const { workerId, ...task } of rows) if (workerId) byWorker.get(workerId)?.push(task);
  return byWorker;
}
