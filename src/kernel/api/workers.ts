/** `GET /v1/workers`, `GET /v1/workers/:id`: the workers the kernel has seen, from the database. */
import { Elysia } from "elysia";
import * as v from "valibot";
import type { KernelContext } from "../context.ts";
import { limitParam, offsetParam, page } from "./pagination.ts";
import { getWorker, listWorkers, setDrain, WORKER_STATUSES, type WorkerRow } from "../workers/lookup.ts";

export function workerView(worker: WorkerRow) {
  return {
    id: worker.id,
    hostname: worker.hostname,
    version: worker.version,
    status: worker.status,
    healthy: worker.status === "healthy",
    slots: worker.slots,
    running: worker.running,
    pools: worker.pools,
    capabilities: worker.capabilities,
    drain_requested: worker.drainRequested,
    first_seen_at: worker.firstSeenAt,
    last_seen_at: worker.lastSeenAt,
    offline_at: worker.offlineAt,
  };
}

const idParams = v.object({ id: v.pipe(v.string(), v.maxLength(64)) });

export function workerRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/workers", detail: { tags: ["workers"] } } as never)
    .get(
      "",
      async ({ query }) => {
        const { limit, offset } = page(query);
        return { items: (await listWorkers(ctx, { status: query.status, limit, offset })).map(workerView), limit, offset };
      },
      {
        query: v.object({ status: v.optional(v.picklist(WORKER_STATUSES)), limit: limitParam, offset: offsetParam }),
        detail: { summary: "List workers (newest heartbeat first)" },
      },
    )
    .get("/:id", async ({ params }) => workerView(await getWorker(ctx, params.id)), { params: idParams, detail: { summary: "One worker" } })
    .post("/:id/drain", async ({ params }) => workerView(await setDrain(ctx, params.id, true)), {
      params: idParams,
      detail: { summary: "Drain: stop taking tasks; running ones finish within the grace period, then are handed back" },
    })
    .post("/:id/undrain", async ({ params }) => workerView(await setDrain(ctx, params.id, false)), {
      params: idParams,
      detail: { summary: "Undrain: take tasks again" },
    });
}
