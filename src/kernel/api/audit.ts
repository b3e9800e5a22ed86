/** `GET /v1/audit` (admin): the audit log, newest first, filtered by actor, action (`jobs.*`), target, time. */
import { Elysia } from "elysia";
import * as v from "valibot";
import { listAudit } from "../auth/audit.ts";
import type { KernelContext } from "../context.ts";
import { limitParam } from "./pagination.ts";

const time = v.optional(v.pipe(v.string(), v.isoTimestamp("must be an ISO 8601 timestamp such as 2026-01-31T12:00:00Z"), v.transform((s) => new Date(s))));

const query = v.object({
  actor: v.optional(v.pipe(v.string(), v.maxLength(200))),
  action: v.optional(v.pipe(v.string(), v.regex(/^[a-z_]+(\.[a-z_]+|\.\*)?$|^[a-z_]*\*$/, "action is like jobs.create or jobs.*"))),
  target: v.optional(v.pipe(v.string(), v.maxLength(200))),
  since: time,
  until: time,
  // Entry ids are bigserial: a bigger number than any id could be is refused (it would fail in PostgreSQL: a 500).
  before: v.optional(v.pipe(v.string(), v.digits("before must be an entry id"), v.toNumber(), v.maxValue(Number.MAX_SAFE_INTEGER, "before is too large to be an entry id"))),
  limit: limitParam,
});

export function auditRoutes(ctx: KernelContext) {
  return new Elysia({ detail: { tags: ["auth"] } } as never).get("/v1/audit", async ({ query: q }) => listAudit(ctx.db, { ...q, limit: q.limit ?? 50 }), {
    query,
    detail: { summary: "Audit log of state-changing calls (newest first; page with next_before)" },
  });
}
