/**
 * The audit log: every state-changing call (POST, PUT, PATCH, DELETE) — who, what, which target, from where,
 * with which user agent, and how it ended (including refused ones: 401/403 are exactly what an auditor looks
 * for). Written to the database (`GET /v1/audit`) and appended to the bus's audit stream (kept
 * AUDIT_RETENTION, 90 days by default). Writing is off the request path: a slow audit write never delays or
 * fails the call it describes, and a failed write is logged and counted. Under load the entries are written
 * in batches (AuditWriter: one INSERT and one burst of appends for many calls).
 */
import { and, desc, eq, gte, lt, lte, sql, type SQL } from "drizzle-orm";
import { errorMessage } from "../../core/errors.ts";
import { GroupCommit } from "../../core/group-commit.ts";
import type { Db } from "../../db/client.ts";
import { auditLog } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";
import { accessFor } from "./policy.ts";
import type { Principal } from "./principal.ts";

export const AUDITED_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export interface AuditInput {
  principal: Principal | undefined;
  method: string;
  route: string;
  params: Record<string, string | undefined>;
  /** The created resource's id, when the response names one (POST /v1/jobs → the job id). */
  createdId?: string;
  status: number;
  clientIp: string | null;
  userAgent: string | null;
  requestId: string;
}

/**
 * A text column's value as PostgreSQL will take it: NUL (which it refuses in text, failing the whole insert)
 * and lone surrogates become U+FFFD, and the length is capped. An entry is always written, sanitized, never
 * dropped: a refused attempt with a hostile parameter is exactly what the log is for. Pure.
 */
export function auditText(value: string, max = 512): string {
  return value.slice(0, max).replace(/\0/g, "\uFFFD").toWellFormed();
}

/** The row for one call. Pure. */
export function auditEntry(input: AuditInput): typeof auditLog.$inferInsert {
  const target = input.params.id ?? input.params.deliveryId ?? input.params.name ?? input.createdId ?? null;
  const text = (v: string | null | undefined, max?: number) => (v == null ? null : auditText(v, max));
  return {
    actor: auditText(input.principal?.id ?? "anonymous"),
    actorRole: text(input.principal?.role),
    method: auditText(input.method, 16),
    route: auditText(input.route),
    action: auditText(accessFor(input.method, input.route)?.action ?? "unknown"),
    target: text(target),
    status: input.status,
    clientIp: text(input.clientIp, 64),
    userAgent: text(input.userAgent),
    requestId: auditText(input.requestId, 128),
  };
}

type AuditRow = typeof auditLog.$inferInsert;
type AuditCtx = Pick<KernelContext, "db" | "bus" | "config" | "metrics" | "logger">;

/** Most rows one INSERT carries. */
export const AUDIT_BATCH_MAX = 500;

/**
 * Group commit for the audit log (core/group-commit.ts): under load many entries share one multi-row INSERT
 * and their JetStream appends are sent together; an entry arriving alone is written at once. Per kernel
 * context. A batch PostgreSQL refuses is written again entry by entry, so one refused entry spares the others.
 */
class AuditWriter {
  private readonly commits: GroupCommit<AuditRow, void>;

  constructor(private readonly ctx: AuditCtx) {
    this.commits = new GroupCommit({ max: AUDIT_BATCH_MAX, writeBatch: (rows) => this.write(rows), writeOne: (row) => this.write([row]).then(() => undefined) });
  }

  /** Never rejects: a failed entry is logged and counted. */
  add(row: AuditRow): Promise<void> {
    return this.commits.add(row).catch((error) => this.failed(row, error));
  }

  /** Rejects only when the INSERT failed (nothing of the batch written); a failed append is logged here. */
  private async write(rows: AuditRow[]): Promise<void[]> {
    const { db, bus, config } = this.ctx;
    const ids = await db.insert(auditLog).values(rows).returning({ id: auditLog.id, at: auditLog.at });
    return Promise.all(
      rows.map((row, i) => bus.appendAudit({ ...row, id: ids[i]!.id, at: ids[i]!.at.toISOString() }, config.AUDIT_RETENTION).catch((error) => this.failed(row, error))),
    );
  }

  private failed(row: AuditRow, error: unknown): void {
    this.ctx.metrics.errors.inc({ source: "audit", code: "WE-SYS-002" });
    this.ctx.logger.error({ error: errorMessage(error), action: row.action, request_id: row.requestId }, "audit entry not written");
  }
}

const writers = new WeakMap<AuditCtx, AuditWriter>();

/** Writes the entry (database, then the bus's audit stream); resolves once it is written or its failure logged. Never rejects. */
export function recordAudit(ctx: AuditCtx, input: AuditInput): Promise<void> {
  let writer = writers.get(ctx);
  if (!writer) writers.set(ctx, (writer = new AuditWriter(ctx)));
  return writer.add(auditEntry(input));
}

export interface AuditQuery {
  actor?: string;
  action?: string;
  target?: string;
  since?: Date;
  until?: Date;
  /** Entries with an id below this (the next page of a newest-first list). */
  before?: number;
  limit: number;
}

export async function listAudit(db: Db, query: AuditQuery) {
  const conds: SQL[] = [];
  if (query.actor) conds.push(eq(auditLog.actor, query.actor));
  if (query.action) conds.push(query.action.endsWith("*") ? sql`${auditLog.action} like ${`${query.action.slice(0, -1).replace(/[%_\\]/g, "\\$&")}%`}` : eq(auditLog.action, query.action));
  if (query.target) conds.push(eq(auditLog.target, query.target));
  if (query.since) conds.push(gte(auditLog.at, query.since));
  if (query.until) conds.push(lte(auditLog.at, query.until));
  if (query.before) conds.push(lt(auditLog.id, query.before));
  const rows = await db
    .select()
    .from(auditLog)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  return {
    items: page.map((row) => ({
      id: row.id,
      at: row.at.toISOString(),
      actor: row.actor,
      actor_role: row.actorRole,
      method: row.method,
      route: row.route,
      action: row.action,
      target: row.target,
      status: row.status,
      client_ip: row.clientIp,
      user_agent: row.userAgent,
      request_id: row.requestId,
    })),
    next_before: rows.length > query.limit ? page[page.length - 1]!.id : null,
  };
}

/** Deletes entries older than AUDIT_RETENTION (the reconciler's housekeeping calls it). */
export async function pruneAudit(db: Db, retentionMs: number): Promise<void> {
  await db.delete(auditLog).where(lt(auditLog.at, sql`now() - make_interval(secs => ${retentionMs / 1000})`));
}
