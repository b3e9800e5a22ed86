/**
 * The restream runtime of a kernel: the schedule tick and the handling of restream task reports.
 *
 * Tick (every TICK_MS on every kernel): locks the due rows with SKIP LOCKED, so several kernels share the
 * work and each row is acted on once, and applies schedule.ts's decision — start at start_at, stop at stop_at
 * (the job is cancelled: the worker's task stops), and follow a job that ended by itself. 500 ms keeps
 * start and stop well within ±2 s; between due rows it is one indexed query (restreams_due_idx).
 *
 * Reports (any kernel: the results queue is shared): the task's per-destination states and input position go
 * on the row; the failed/recovered events are derived from the change (schedule.ts destinationChanges) and
 * recorded (SSE + webhooks); the metrics follow.
 */
import { errorMessage } from "../../core/errors.ts";
import type { RestreamDestinationReport } from "../../core/task-contracts.ts";
import type { KernelContext } from "../context.ts";
import { recordEvents } from "../events/record.ts";
import type { RestreamProgressUpdate } from "../orchestrator/results.ts";
import { setRestreamInternalBase, setRestreamKick } from "./runtime-base.ts";
import { forgetRestreamMetrics, setDestinationMetrics } from "./restream-metrics.ts";
import { destinationChanges, RESTREAM_START_LEAD_MS, tickAction, type RestreamStatus } from "./schedule.ts";
import { launchRestream, stopRestream } from "./service.ts";
import { lockDueRestreams, recordReport, updateRestream } from "./store.ts";

export const RESTREAM_TICK_MS = 500;
/**
 * With no restream scheduled or running the tick looks again only after this long (an idle kernel stays idle:
 * docs/BENCHMARKS.md footprint); a restream created or started on this kernel wakes it at once (kickRestreams).
 * One created through another kernel is seen within this delay, well before any start_at it can have (the
 * creating kernel's own tick handles it first).
 */
export const RESTREAM_IDLE_TICK_MS = 5_000;

export function startRestreams(ctx: KernelContext, internalBase: string): { stop(): Promise<void> } {
  setRestreamInternalBase(ctx, internalBase);
  ctx.orchestrator.deps.onRestreamProgress = (update) => void onReport(ctx, update).catch((error) => ctx.logger.warn({ error: errorMessage(error), task_id: update.task_id }, "restream report not recorded"));
  let running: Promise<void> = Promise.resolve();
  let idleUntil = 0;
  setRestreamKick(ctx, () => (idleUntil = 0));
  const timer = setInterval(() => {
    if (Date.now() < idleUntil) return;
    running = running
      .then(async () => {
        if ((await tick(ctx)) === 0) idleUntil = Date.now() + RESTREAM_IDLE_TICK_MS;
      })
      .catch((error) => ctx.logger.warn({ error: errorMessage(error) }, "restream tick failed"));
  }, RESTREAM_TICK_MS);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * One pass: each due row's action. Starting and stopping run after the lock is released (they lock the row
 * themselves). Returns how many scheduled or running rows it saw.
 */
export async function tick(ctx: KernelContext, now = Date.now()): Promise<number> {
  const decided = await ctx.db.transaction(async (tx) => {
    const rows = await lockDueRestreams(tx, 50);
    const later: Array<{ id: string; do: "start" | "stop" }> = [];
    for (const row of rows) {
      const action = tickAction({ status: row.status as RestreamStatus, startAt: row.startAt, stopAt: row.stopAt, jobStatus: row.jobStatus }, now, RESTREAM_START_LEAD_MS);
      if (action.do === "start" || action.do === "stop") later.push({ id: row.id, do: action.do });
      else if (action.do === "end") {
        // A failed job's reason (the input could not be read, every attempt failed) is the restream's error.
        const error = action.status === "failed" ? (row.jobError ?? "the restream task failed") : null;
        await updateRestream(tx, row.id, { status: action.status, endedAt: new Date(), error, ...(action.status === "completed" ? { positionS: 0 } : {}) });
        forgetRestreamMetrics(ctx.metrics, row.id, (row.reports as Array<{ id: string }>).map((report) => report.id));
      }
    }
    return { later, seen: rows.length };
  });
  for (const item of decided.later) {
    try {
      if (item.do === "start") await launchRestream(ctx, item.id);
      else await stopRestream(ctx, item.id, "stop_at");
    } catch (error) {
      ctx.logger.warn({ restream_id: item.id, error: errorMessage(error) }, `restream ${item.do} failed`);
    }
  }
  return decided.seen;
}

async function onReport(ctx: KernelContext, update: RestreamProgressUpdate): Promise<void> {
  const recorded = await recordReport(ctx.db, update.task_id, update.restream.destinations, update.restream.position_s);
  if (!recorded) return;
  const restreamId = recorded.row.id;
  const before = recorded.before as RestreamDestinationReport[];
  const changes = destinationChanges(before, update.restream.destinations);
  if (changes.length > 0) {
    // A live stream's restream (its destinations, src/kernel/live/destinations-restream.ts): the events carry the
    // stream, so GET /v1/events?stream_id= and the stream's webhooks see them.
    const streamId = recorded.row.origin === "stream" ? ((recorded.row.input as { stream_id?: string }).stream_id ?? null) : null;
    const stream = streamId ? { stream_id: streamId } : {};
    await recordEvents(ctx.db, changes.map((change) => ({ type: change.type, jobId: recorded.row.jobId, streamId, data: { restream_id: restreamId, ...stream, ...change } })));
  }
  for (const report of update.restream.destinations) {
    setDestinationMetrics(ctx.metrics, restreamId, report, report.reconnects - (before.find((old) => old.id === report.id)?.reconnects ?? 0));
  }

}
