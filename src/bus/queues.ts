/** The queues of the bus layout (core/topology.ts) as a bus declares them: one per worker pool, and results. */
import { RESULTS_ACK_WAIT_MS, RESULTS_MAX_DELIVER, RESULTS_QUEUE, WORK_ACK_WAIT_MS, WORK_MAX_DELIVER, WORK_POOLS, workQueue } from "../core/topology.ts";
import type { QueueSpec } from "./types.ts";

export function queueSpecs(workAckWaitMs = WORK_ACK_WAIT_MS): QueueSpec[] {
  return [
    ...WORK_POOLS.map((p) => ({ name: workQueue(p), ackWaitMs: workAckWaitMs, maxDeliver: WORK_MAX_DELIVER })),
    { name: RESULTS_QUEUE, ackWaitMs: RESULTS_ACK_WAIT_MS, maxDeliver: RESULTS_MAX_DELIVER },
  ];
}
