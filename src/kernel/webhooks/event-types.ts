/**
 * The event types a webhook may subscribe to (or "*" for all). Job and task types follow the state machine
 * (src/kernel/events/record.ts); stream.* and recording.* come with live streaming and are accepted now so
 * subscriptions can be set up ahead of it.
 */
import { JOB_STATUSES, TASK_STATUSES } from "../../db/schema.ts";
import { jobEventType } from "../events/record.ts";

export const WEBHOOK_EVENT_TYPES: readonly string[] = [
  "job.created",
  ...JOB_STATUSES.map(jobEventType),
  ...TASK_STATUSES.map((s) => `task.${s}`),
  "worker.joined",
  "worker.offline",
  "worker.draining",
  "worker.undrained",
  "plugin.state_changed",
  "stream.started",
  "stream.telemetry",
  "stream.ended",
  "recording.ready",
  "restream.destination.failed",
  "restream.destination.recovered",
  "webhook.muted",
];

export const ALL_EVENTS = "*";

/** The subscription list's problems (unknown names), empty when every entry is known or "*". */
export function unknownEventTypes(types: readonly string[]): string[] {
  return types.filter((t) => t !== ALL_EVENTS && !WEBHOOK_EVENT_TYPES.includes(t));
}
