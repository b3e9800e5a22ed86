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
import { AppError } from "../../core/errors.ts";
import { principalOf } from "../auth/middleware.ts";
import { issueStreamToken } from "../auth/stream-tokens.ts";
import { activeApiKeyIds, apiKeyIdOf } from "../auth/api-keys.ts";

const query = v.object({
  job_id: v.optional(v.pipe(v.string(), v.uuid("job ids are UUIDs"))),
  stream_id: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  // Elysia may hand a comma-separated value over already split (and `types=a&types=b` is a list too).
  types: v.optional(v.union([v.pipe(v.string(), v.maxLength(2048)), v.pipe(v.array(v.pipe(v.string(), v.maxLength(256))), v.maxLength(32))])),
  last_event_id: v.optional(v.pipe(v.string(), v.maxLength(40))),
  /** A stream token (POST /v1/events/tokens) for clients that cannot send headers (browsers' EventSource). */
  access_token: v.optional(v.pipe(v.string(), v.maxLength(2048))),
});

const tokenBody = v.optional(v.object({ expires_in: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60, "expires_in is at least 60 s"), v.maxValue(3600, "expires_in is at most 3600 s"))) }));

export function eventRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/events", detail: { tags: ["events"] } } as never)
    .post(
      "/tokens",
      ({ body, request, set }) => {
        const principal = principalOf(request);
        if (!principal) throw new AppError("WE-AUTH-001", "not authenticated");
        const { token, expiresAt } = issueStreamToken(ctx.secrets, principal, body?.expires_in ?? 3600);
        set.status = 201;
        return { token, expires_at: expiresAt.toISOString(), usage: `GET /v1/events?access_token=${token}` };
      },
      {
        body: tokenBody,
        detail: {
          summary: "A short-lived token for GET /v1/events?access_token=… (for browsers' EventSource, which cannot send headers)",
          description: "Valid only for reading events, for expires_in seconds (60-3600, default 3600), with the caller's role at issue time.",
        },
      },
    )
    .get(
    "",
    ({ query, request, set }) => openStream(ctx, query, request, set),
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

/** GET /v1/events: the filters parsed, a stream token's API key checked, then the hub's stream. */
async function openStream(ctx: KernelContext, parsed: v.InferOutput<typeof query>, request: Request, set: { headers: Record<string, unknown> }) {
  const types = parseTypes(Array.isArray(parsed.types) ? parsed.types.join(",") : parsed.types);
  const lastEventId = parseLastEventId(request.headers.get("last-event-id"), parsed.last_event_id);
  // A stream token lives up to an hour; the API key it was issued for may be revoked before (the middleware
  // checks keys sent directly). The open stream keeps following the key (hub.ts recheckCredentials).
  const principal = principalOf(request);
  const apiKeyId = apiKeyIdOf(principal);
  if (apiKeyId && principal?.via.startsWith("stream-token:") && !(await activeApiKeyIds(ctx.db, [apiKeyId])).has(apiKeyId)) {
    set.headers["www-authenticate"] = 'Bearer realm="webencode"';
    throw new AppError("WE-AUTH-001", "the API key this stream token was issued for has been revoked or has expired; request a new token with a valid key");
  }
  return eventHubOf(ctx).open({ jobId: parsed.job_id, streamId: parsed.stream_id, types }, lastEventId, request.signal, { apiKeyId });
}
