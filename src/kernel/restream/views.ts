/** What the API shows of a restream: never a key (destinations through request.ts destinationViews), never a token. */
import { type DestinationReportLike, destinationViews, type DestinationView, type StoredDestination } from "./request.ts";
import { ENDED_STATUSES, type RestreamStatus } from "./schedule.ts";
import type { StoredInput } from "./service.ts";
import type { RestreamRow } from "./store.ts";

export interface RestreamView {
  id: string;
  name: string | null;
  origin: string;
  status: string;
  input: Record<string, string>;
  loop: boolean;
  start_at: string | null;
  stop_at: string | null;
  position_s: number;
  job_id: string | null;
  task_id: string | null;
  destinations: DestinationView[];
  error: string | null;
  created_by: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The input as the request named it (a live input: the stream and the session it sends). */
export function inputView(input: StoredInput): Record<string, string> {
  if (input.kind === "live") return { live_stream_id: input.stream_id, session_id: input.session_id };
  return { ...(input.from as Record<string, string>) };
}

export function restreamView(row: RestreamRow): RestreamView {
  const ended = ENDED_STATUSES.includes(row.status as RestreamStatus) || row.status === "scheduled";
  return {
    id: row.id,
    name: row.name,
    origin: row.origin,
    status: row.status,
    input: inputView(row.input as StoredInput),
    loop: row.loop,
    start_at: iso(row.startAt),
    stop_at: iso(row.stopAt),
    position_s: row.positionS,
    job_id: row.jobId,
    task_id: row.taskId,
    destinations: destinationViews(row.destinations as unknown as StoredDestination[], row.reports as unknown as DestinationReportLike[], ended),
    error: row.error,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    started_at: iso(row.startedAt),
    ended_at: iso(row.endedAt),
  };
}
