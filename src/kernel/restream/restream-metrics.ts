/**
 * The restream series of this kernel's metrics (kernel/metrics.ts): set from the task's reports, removed when
 * the restream ends, so a kernel that ran many restreams does not keep a series per past destination.
 */
import type { KernelMetrics } from "../metrics.ts";

const STATUSES = ["connecting", "live", "retrying", "failed", "stopped"] as const;

export function setDestinationMetrics(metrics: KernelMetrics, restreamId: string, report: { id: string; status: string }, addedReconnects: number): void {
  for (const status of STATUSES) metrics.restreamDestinationState.set({ restream_id: restreamId, destination_id: report.id, status }, report.status === status ? 1 : 0);
  if (addedReconnects > 0) metrics.restreamReconnects.inc({ restream_id: restreamId, destination_id: report.id }, addedReconnects);
}

export function forgetRestreamMetrics(metrics: KernelMetrics, restreamId: string, destinationIds: readonly string[]): void {
  for (const id of destinationIds) {
    for (const status of STATUSES) metrics.restreamDestinationState.remove({ restream_id: restreamId, destination_id: id, status });
    metrics.restreamReconnects.remove({ restream_id: restreamId, destination_id: id });
  }
}
