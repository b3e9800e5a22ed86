/**
 * Publishing queued tasks to their pool's work queue (a transactional outbox in all but name): a task row
 * with `published_at IS NULL` is work the bus has not been given yet. The kernel publishes right after the
 * transaction that queued it; the reconciler publishes whatever a crash left behind. Publishing twice is
 * harmless: the message id is `task:<id>:<attempt>` (JetStream drops the duplicate) and a lease is granted
 * once per attempt anyway.
 */
import { and, asc, desc, eq, isNull, lte, or, sql } from "drizzle-orm";
import type { Bus } from "../../bus/types.ts";
import type { Logger } from "../../core/logger.ts";
import type { TaskDelivery } from "../../core/messages.ts";
import { workQueue } from "../../core/topology.ts";
import type { Db } from "../../db/client.ts";
import { jobs, tasks } from "../../db/schema.ts";

export const taskMsgId = (taskId: string, attempt: number) => `task:${taskId}:${attempt}`;

export async function publishReady(db: Db, bus: Bus, logger: Logger, limit = 200): Promise<number> {
  const ready = await db
    .select({ id: tasks.id, jobId: tasks.jobId, type: tasks.type, attempt: tasks.attempt, pool: tasks.pool })
    .from(tasks)
    .innerJoin(jobs, eq(jobs.id, tasks.jobId))
    .where(and(eq(tasks.status, "queued"), isNull(tasks.publishedAt), or(isNull(tasks.notBefore), lte(tasks.notBefore, sql`now()`))))
    .orderBy(desc(jobs.priority), asc(jobs.createdAt), asc(tasks.seq))
    .limit(limit);
  if (!ready.length) return 0;
  // All publications of a pass at once: one connection, written in this order (the priority order above),
  // acknowledged by JetStream together instead of one round trip after the other.
  const outcomes = await Promise.allSettled(
    ready.map((t) => {
      const delivery: TaskDelivery = { task_id: t.id, job_id: t.jobId, type: t.type, attempt: t.attempt };
      return bus.enqueue(workQueue(t.pool), delivery, { msgId: taskMsgId(t.id, t.attempt) });
    }),
  );
  const published = ready.filter((t, i) => {
    const outcome = outcomes[i]!;
    if (outcome.status === "rejected") logger.warn({ error: outcome.reason, task_id: t.id, job_id: t.jobId }, "could not publish task; the reconciler will retry");
    return outcome.status === "fulfilled";
  });
  if (!published.length) return 0;
  // One statement marks the whole pass. Only the attempt that was published, and only while still queued: a
  // task that moved on (leased already, requeued as a new attempt) keeps its own published_at.
  const pairs = sql.join(published.map((t) => sql`(${t.id}::uuid, ${t.attempt}::int)`), sql`, `);
  await db.update(tasks).set({ publishedAt: sql`now()` }).where(and(eq(tasks.status, "queued"), sql`(${tasks.id}, ${tasks.attempt}) in (${pairs})`));
  return published.length;
}
