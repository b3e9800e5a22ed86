/** `GET /v1/workers`, `GET /v1/workers/:id`: the workers the kernel has seen, from the database. */
import { desc, eq } from "drizzle-orm";
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import { WORKER_STATUSES, workers } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import { limitParam, offsetParam, page } from "./pagination.ts";

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
    );
}
