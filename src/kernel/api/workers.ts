/** `GET /v1/workers`, `GET /v1/workers/:id`: the workers the kernel has seen, from the database. */
import { desc, eq } from "drizzle-orm";
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import { WORKER_STATUSES, workers } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import { limitParam, offsetParam, page } from "./pagination.ts";
import { WORKER_DRAIN_EVENT, type WorkerDrain } from "../../core/messages.ts";
import { markDrain } from "../workers/registry.ts";

type WorkerRow = typeof workers.$inferSelect;

export function workerView(w: WorkerRow) {
  return {
    id: w.id,
    hostname: w.hostname,
    version: w.version,
    status: w.status,
    healthy: w.status === "healthy",
    slots: w.slots,
    running: w.running,
    pools: w.pools,
    capabilities: w.capabilities,
    drain_requested: w.drainRequested,
    first_seen_at: w.firstSeenAt,
    last_seen_at: w.lastSeenAt,
    offline_at: w.offlineAt,
  };
}

export function workerRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/workers", detail: { tags: ["workers"] } } as never)
    .get(
      "",
      async ({ query }) => {
        const { limit, offset } = page(query);
        const rows = await ctx.db
          .select()
          .from(workers)
          .where(query.status ? eq(workers.status, query.status) : undefined)
          .orderBy(desc(workers.lastSeenAt))
          .limit(limit)
          .offset(offset);
        return { items: rows.map(workerView), limit, offset };
      },
      {
        query: v.object({ status: v.optional(v.picklist(WORKER_STATUSES)), limit: limitParam, offset: offsetParam }),
        detail: { summary: "List workers (newest heartbeat first)" },
      },
    )
    .get(
      "/:id",
      async ({ params }) => {
        const [row] = await ctx.db.select().from(workers).where(eq(workers.id, params.id));
        if (!row) throw new AppError("WE-WRK-001", `worker ${params.id} not found`);
        return workerView(row);
      },
      { params: v.object({ id: v.pipe(v.string(), v.maxLength(64)) }), detail: { summary: "One worker" } },
    )
    .post("/:id/drain", ({ params }) => setDrain(ctx, params.id, true), {
      params: v.object({ id: v.pipe(v.string(), v.maxLength(64)) }),
      detail: { summary: "Drain: stop taking tasks; running ones finish within the grace period, then are handed back" },
    })
    .post("/:id/undrain", ({ params }) => setDrain(ctx, params.id, false), {
      params: v.object({ id: v.pipe(v.string(), v.maxLength(64)) }),
      detail: { summary: "Undrain: take tasks again" },
    });
}

async function setDrain(ctx: KernelContext, id: string, drain: boolean) {
  const [row] = await ctx.db.select().from(workers).where(eq(workers.id, id));
  if (!row) throw new AppError("WE-WRK-001", `worker ${id} not found`);
  if (row.status === "offline") throw new AppError("WE-WRK-003", `worker ${id} is offline`);
  await markDrain(ctx.db, id, drain);
  try {
    await ctx.bus.publish(WORKER_DRAIN_EVENT, { worker_id: id, drain } satisfies WorkerDrain);
  } catch (e) {
    throw new AppError("WE-WRK-004", `could not reach worker ${id}: ${(e as Error).message}`);
  }
  const [updated] = await ctx.db.select().from(workers).where(eq(workers.id, id));
  return workerView(updated!);
}
