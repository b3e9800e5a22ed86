/** `GET /v1/workers`, `GET /v1/workers/:id`: the workers the kernel has seen, from the database. */
import { Elysia } from "elysia";
import * as v from "valibot";
import type { KernelContext } from "../context.ts";
import { limitParam, offsetParam, page } from "./pagination.ts";
import { type CurrentTask, currentTasks, getWorker, listWorkers, setDrain, WORKER_STATUSES, type WorkerRow } from "../workers/lookup.ts";

export function workerView(worker: WorkerRow, current: CurrentTask[] = []) {
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
    // The tasks it holds a lease on now (from the database), oldest first.
    current_tasks: current.map((t) => ({ task_id: t.taskId, job_id: t.jobId, type: t.type, seq: t.seq, started_at: t.startedAt })),
  };
}

/** Workers with their current tasks (one query for all of them). */
async function withTasks(ctx: KernelContext, rows: WorkerRow[]) {
  const current = await currentTasks(ctx, rows.map((w) => w.id));
  return rows.map((w) => workerView(w, current.get(w.id)));
}

const idParams = v.object({ id: v.pipe(v.string(), v.maxLength(64)) });

export function workerRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/workers", detail: { tags: ["workers"] } } as never)
    .get(
      "",
      async ({ query }) => {
        const { limit, offset } = page(query);
        return { items: await withTasks(ctx, await listWorkers(ctx, { status: query.status, limit, offset })), limit, offset };
      },
      {
        query: v.object({ status: v.optional(v.picklist(WORKER_STATUSES)), limit: limitParam, offset: offsetParam }),
        detail: { summary: "List workers (newest heartbeat first) with the tasks each runs now (current_tasks)" },
      },
    )
    .get("/:id", async ({ params }) => (await withTasks(ctx, [await getWorker(ctx, params.id)]))[0], { params: idParams, detail: { summary: "One worker with the tasks it runs now" } })
    .post("/:id/drain", async ({ params }) => (await withTasks(ctx, [await setDrain(ctx, params.id, true)]))[0], {
      params: idParams,
      detail: { summary: "Drain: stop taking tasks; running ones finish within the grace period, then are handed back" },
    })
    .post("/:id/undrain", async ({ params }) => (await withTasks(ctx, [await setDrain(ctx, params.id, false)]))[0], {
      params: idParams,
      detail: { summary: "Undrain: take tasks again" },
    });
}
