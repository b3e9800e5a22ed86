/**
 * `GET /v1/events`: platform events as Server-Sent Events (docs/events.md). Filters: `job_id`, `stream_id`,
 * `types` (comma-separated, a trailing `*` matches a prefix). Resume with the `Last-Event-ID` header (what
 * EventSource sends by itself) or `?last_event_id=`: the stored events after it are replayed, then live.
 */
import { Elysia } from "elysia";
import * as v from "valibot";
import type { KernelContext } from "../context.ts";
import { parseLastEventId, parseTypes } from "../events/filters.ts";
import { eventHubOf } from "../events/hub.ts";

const query = v.object({
  job_id: v.optional(v.pipe(v.string(), v.uuid("job ids are UUIDs"))),
  stream_id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  // Elysia may hand a comma-separated value over already split (and `types=a&types=b` is a list too).
  types: v.optional(v.union([v.pipe(v.string(), v.maxLength(2048)), v.pipe(v.array(v.pipe(v.string(), v.maxLength(256))), v.maxLength(32))])),
  last_event_id: v.optional(v.pipe(v.string(), v.maxLength(40))),
});

export function eventRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/events", detail: { tags: ["events"] } } as never).get(
    "",
    async ({ query, request }) => {
      const types = parseTypes(Array.isArray(query.types) ? query.types.join(",") : query.types);
      const lastEventId = parseLastEventId(request.headers.get("last-event-id"), query.last_event_id);
      return eventHubOf(ctx).open({ jobId: query.job_id, streamId: query.stream_id, types }, lastEventId, request.signal);
    },
    {
      query,
      detail: {
        summary: "Stream platform events (Server-Sent Events; resume with Last-Event-ID)",
        description:
          "text/event-stream of job.*, task.*, worker.*, plugin.state_changed (stored, with `id:`) and job.progress (live only). " +
          "Filters: job_id, stream_id, types=job.completed,task.* (a trailing * matches a prefix). After a reconnect the stored events " +
          "after Last-Event-ID are replayed first; `event: reset` means they are no longer kept and the client must reload its state.",
      },
    },
  );
}
