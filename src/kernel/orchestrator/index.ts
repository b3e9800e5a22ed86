/**
 * Starts the orchestration core of a kernel: lease grants, the results consumer, the reconciler, and the
 * "publish now" kick used after transactions that queue work.
 */
import { type Consumer, Slots, type Unsubscribe } from "../../bus/types.ts";
import { errorMessage, isAppError } from "../../core/errors.ts";
import type { ResultMessage } from "../../core/messages.ts";
import { RESULTS_QUEUE } from "../../core/topology.ts";
import type { KernelContext } from "../context.ts";
import { syncWorkers, validPresence } from "../workers/registry.ts";
import { createLostOutputs } from "../pipeline/cleanup.ts";
import { createProgressPublisher } from "../events/progress.ts";
import { serveClaims } from "./claims.ts";
import { publishReady } from "./dispatch.ts";
import type { Orchestrator } from "./handle.ts";
import type { Listener } from "../../db/notify.ts";
import { Reconciler } from "./reconciler.ts";
import { handleResult, type OrchestratorDeps } from "./results.ts";

/** The channel migration 0009's trigger NOTIFYs when a statement queues tasks. */
export const TASKS_CHANNEL = "webencode_tasks";

export function startOrchestrator(ctx: KernelContext, pipeline: Pick<OrchestratorDeps, "advance" | "onJobEnded">): Orchestrator {
  const { db, bus, logger } = ctx;
  let kicking = false;
  let again = false;
  const kick = () => {
    // Queued work ends the reconciler's idle back-off (its named hook; declared below, called only later).
    reconciler.wake();
    // Coalesce bursts of kicks into sequential publish passes.
    if (kicking) {
      again = true;
      return;
    }
    kicking = true;
    void (async () => {
      do {
        again = false;
        await publishReady(db, bus, logger).catch((error) => logger.warn({ error: errorMessage(error) }, "publish failed; the reconciler retries"));
      } while (again);
      kicking = false;
    })();
  };
  const progress = createProgressPublisher(bus, logger);
  // lostOutputs: a retry re-runs finished tasks whose outputs storage no longer has (pipeline/cleanup.ts).
  const deps: OrchestratorDeps = { db, bus, logger, metrics: ctx.metrics, kick, leaseTtlMs: ctx.config.LEASE_TTL, publishProgress: (p) => progress.publish(p), lostOutputs: createLostOutputs(ctx), ...pipeline };

  const unserve: Unsubscribe = serveClaims(db, bus, logger, ctx.config.LEASE_TTL);
  const results: Consumer = bus.consume<ResultMessage>(RESULTS_QUEUE, { slots: new Slots(8) }, async (msg) => {
    // A failed report is redelivered by the bus; the error still counts (the runbook's error-rate alert).
    await handleResult(deps, msg.data).catch((error) => {
      ctx.metrics.errors.inc({ source: "results", code: isAppError(error) ? error.code : "WE-SYS-001" });
      throw error;
    });
  });
  const reconciler = new Reconciler({
    database: ctx.database,
    deps,
    syncWorkers: async () => {
      const present = validPresence(await bus.presence.list(), logger);
      const { joined, left } = await syncWorkers(db, present);
      for (const id of joined) logger.info({ worker_id: id }, "worker joined");
      for (const id of left) logger.warn({ worker_id: id }, "worker offline: heartbeats stopped");
    },
    onLeaseExpired: (pool) => ctx.metrics.leaseExpiries.inc({ pool }),
    listening: () => tasksListener?.healthy() ?? false,
  });
  // Tasks queued by any kernel (or by SQL behind their backs) NOTIFY at commit (migration 0009): the idle
  // reconciler sleeps on that instead of asking every second. A wake-up only; the passes stay the safety net.
  let tasksListener: Listener | undefined;
  const listening = ctx.database.listen?.(TASKS_CHANNEL, () => reconciler.notified()).then(
    (l) => (tasksListener = l),
    (error) => logger.warn({ error: errorMessage(error) }, "LISTEN for queued tasks failed; the reconciler polls every second"),
  );
  reconciler.start();
  kick();
  return {
    deps,
    reconciler,
    async stop() {
      unserve();
      await results.stop();
      await listening;
      await tasksListener?.close();
      await reconciler.stop();
      progress.stop();
    },
  };
}
