/** The restreams table (SQL of the restream domain; the routes call service.ts). */
import { desc, eq, sql } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import type { Db } from "../../db/client.ts";
import { type Exec, rowsOf } from "../../db/exec.ts";
import { restreams } from "../../db/schema.ts";

export type RestreamRow = typeof restreams.$inferSelect;
export type NewRestream = typeof restreams.$inferInsert;

export async function insertRestream(db: Exec, values: NewRestream): Promise<RestreamRow> {
  const [row] = await db.insert(restreams).values(values).returning();
  return row!;
}

export async function getRestream(db: Exec, id: string): Promise<RestreamRow> {
  const [row] = await db.select().from(restreams).where(eq(restreams.id, id));
  if (!row) throw new AppError("WE-STR-009", `restream ${id} not found`);
  return row;
}

/** The row locked for a state change (the tick, start, stop and delete all go through this). */
export async function lockRestream(db: Exec, id: string): Promise<RestreamRow> {
  const [row] = await db.select().from(restreams).where(eq(restreams.id, id)).for("update");
  if (!row) throw new AppError("WE-STR-009", `restream ${id} not found`);
  return row;
}

export async function listRestreams(db: Exec, limit: number, offset: number): Promise<RestreamRow[]> {
  return db.select().from(restreams).orderBy(desc(restreams.createdAt)).limit(limit).offset(offset);
}

export async function updateRestream(db: Exec, id: string, patch: Partial<NewRestream>): Promise<RestreamRow> {
  const [row] = await db.update(restreams).set({ ...patch, updatedAt: new Date() }).where(eq(restreams.id, id)).returning();
  if (!row) throw new AppError("WE-STR-009", `restream ${id} not found`);
  return row;
}

export async function deleteRestreamRow(db: Exec, id: string): Promise<void> {
  await db.delete(restreams).where(eq(restreams.id, id));
}

/**
 * Rows the tick may act on, locked, skipping rows another kernel's tick holds: scheduled ones and running
 * ones, with their job's status. Uses the partial index restreams_due_idx.
 */
export async function lockDueRestreams(db: Exec, limit: number): Promise<Array<RestreamRow & { jobStatus: string | null; jobError: string | null }>> {
  const rows = await db.execute(sql`
    select r.id, j.status as job_status, j.error_message as job_error from restreams r left join jobs j on j.id = r.job_id
    where r.status in ('scheduled', 'starting', 'live', 'stopping')
    order by r.start_at nulls first limit ${limit}
    for update of r skip locked`);
  const list = rowsOf<{ id: string; job_status: string | null; job_error: string | null }>(rows);
  const out: Array<RestreamRow & { jobStatus: string | null; jobError: string | null }> = [];
  for (const r of list) {
    const [row] = await db.select().from(restreams).where(eq(restreams.id, r.id));
    if (row) out.push({ ...row, jobStatus: r.job_status, jobError: r.job_error });
  }
  return out;
}

/**
 * A restream task's report: the latest destination states and input position, `starting` → `live`. Returns
 * the reports it replaced (to derive the failed/recovered events) or undefined when the task is not the
 * restream's current one (an old attempt, a stopped restream).
 */
export async function recordReport(db: Db, taskId: string, reports: unknown[], positionS: number): Promise<{ row: RestreamRow; before: unknown[] } | undefined> {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(restreams).where(eq(restreams.taskId, taskId)).for("update");
    if (!current || (current.status !== "starting" && current.status !== "live")) return undefined;
    const [row] = await tx
      .update(restreams)
      .set({ reports: reports as Record<string, unknown>[], positionS, status: "live", updatedAt: new Date() })
      .where(eq(restreams.id, current.id))
      .returning();
    return { row: row!, before: current.reports };
  });
}
