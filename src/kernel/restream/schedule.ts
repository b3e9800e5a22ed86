/**
 * What the restream tick does with a row (runtime.ts), as a pure decision so each rule is unit-tested:
 * start a scheduled restream whose start_at has come, stop a running one whose stop_at has come, and follow
 * the restream's job when it ended by itself (input ended → completed, failed → failed, cancelled → stopped).
 */
export type RestreamStatus = "scheduled" | "starting" | "live" | "stopping" | "stopped" | "completed" | "failed";

export const RUNNING_STATUSES: readonly RestreamStatus[] = ["starting", "live", "stopping"];
export const ENDED_STATUSES: readonly RestreamStatus[] = ["stopped", "completed", "failed"];

export interface ScheduleRow {
  status: RestreamStatus;
  startAt: Date | null;
  stopAt: Date | null;
  /** The status of the restream's current job, when it has one. */
  jobStatus: string | null;
}

/**
 * A scheduled restream's task is queued this long before start_at: delivery, the claim, resolving and probing
 * the input, and the FFmpeg processes' start take from about a second on an idle host to several on an
 * overloaded one, so the worker prepares ahead and starts its processes just in time for start_at (the
 * task's `start_at_ms`, src/worker/tasks/restream-task.ts) instead of starting that long after it.
 */
export const RESTREAM_START_LEAD_MS = 8_000;

export type TickAction = { do: "none" } | { do: "start" } | { do: "stop"; reason: "stop_at" } | { do: "end"; status: "completed" | "failed" | "stopped" };

export function tickAction(row: ScheduleRow, now: number, leadMs = 0): TickAction {
  if (row.status === "scheduled") {
    if (row.stopAt && row.stopAt.getTime() <= now) return { do: "end", status: "stopped" };
    return !row.startAt || row.startAt.getTime() <= now + leadMs ? { do: "start" } : { do: "none" };
  }
  if (!RUNNING_STATUSES.includes(row.status)) return { do: "none" };
  // A worker stops at stop_at by itself (its task completes): that is a stop, not the input's end.
  if (row.jobStatus === "completed") return { do: "end", status: row.stopAt && row.stopAt.getTime() <= now ? "stopped" : "completed" };
  if (row.jobStatus === "failed") return { do: "end", status: "failed" };
  if (row.jobStatus === "cancelled") return { do: "end", status: "stopped" };
  if (row.stopAt && row.stopAt.getTime() <= now && row.status !== "stopping") return { do: "stop", reason: "stop_at" };
  return { do: "none" };
}

/** The status a new restream gets: scheduled until its start_at (a start_at in the past or none starts at once). */
export function initialStatus(startAt: Date | null, now: number): "scheduled" | "starting" {
  return startAt && startAt.getTime() > now ? "scheduled" : "starting";
}

/** One destination's change between two reports that is an event: a failure (once per outage) or a recovery. */
export interface DestinationChange {
  type: "restream.destination.failed" | "restream.destination.recovered";
  destination_id: string;
  error: string | null;
  terminal: boolean;
}

interface ReportLike {
  id: string;
  status: string;
  last_error: string | null;
}

const DOWN = new Set(["retrying", "failed"]);

/**
 * Still in an outage: retrying or failed, or `connecting` again after a failure (a reconnect attempt carries the
 * last error; a first connection has none). Reports are snapshots every few seconds, so an outage is often seen
 * as retrying → connecting → live, or retrying → connecting → retrying: without this, the recovery would be
 * missed and the next retry counted as a second outage.
 */
const isDown = (report: ReportLike) => DOWN.has(report.status) || (report.status === "connecting" && report.last_error !== null);

/**
 * The events between the stored reports and the new ones. Derived from states rather than sent by the worker,
 * so a lost progress message loses no event and a repeated one repeats none: `failed` when a destination goes
 * from up (or unknown) to retrying/failed, or from retrying to failed (terminal); `recovered` when it goes from
 * retrying/failed to live.
 */
export function destinationChanges(before: readonly ReportLike[], after: readonly ReportLike[]): DestinationChange[] {
  const changes: DestinationChange[] = [];
  for (const now of after) {
    const previous = before.find((report) => report.id === now.id);
    const wasDown = previous !== undefined && isDown(previous);
    if (DOWN.has(now.status) && (!wasDown || (now.status === "failed" && previous?.status !== "failed"))) {
      changes.push({ type: "restream.destination.failed", destination_id: now.id, error: now.last_error, terminal: now.status === "failed" });
    } else if (now.status === "live" && wasDown) {
      changes.push({ type: "restream.destination.recovered", destination_id: now.id, error: null, terminal: false });
    }
  }
  return changes;
}
