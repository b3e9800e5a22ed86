/**
 * Lease grants (`task.claim`, answered by any kernel): a worker that received a task delivery asks for the
 * lease before it runs anything. The grant is the guarded move queued → leased for exactly that attempt, so
 * a redelivered message, a duplicate publication or a stale attempt gets a refusal and the worker drops it.
 */
import { eq, sql } from "drizzle-orm";
import type { Bus, Unsubscribe } from "../../bus/types.ts";
import type { Logger } from "../../core/logger.ts";
import { CLAIM_SUBJECT, type ClaimReply, type ClaimRequest } from "../../core/messages.ts";
import { leaseTtlMsFor, taskDeadlineMs } from "../../core/topology.ts";
import type { Db } from "../../db/client.ts";
import { jobs, taskAttempts, tasks } from "../../db/schema.ts";
import { isJobTerminal } from "./states.ts";
import { lockJob, moveJob, moveTask } from "./transitions.ts";

export async function claimTask(db: Db, req: ClaimRequest, genericLeaseTtlMs: number): Promise<ClaimReply> {
  return db.transaction(async (tx) => {
    const [ref] = await tx.select({ jobId: tasks.jobId }).from(tasks).where(eq(tasks.id, req.task_id));
    if (!ref) return { granted: false, reason: "unknown task" };
    const job = await lockJob(tx, ref.jobId);
    const [t] = await tx.select().from(tasks).where(eq(tasks.id, req.task_id));
    if (!t) return { granted: false, reason: "unknown task" };
    if (!job || isJobTerminal(job.status)) return { granted: false, reason: `job is ${job?.status ?? "gone"}` };
    const token = crypto.randomUUID();
    const deadlineMs = taskDeadlineMs(t.type, t.mediaSeconds);
    // Live tasks get a short lease: a dead worker's stream is re-run within seconds (core/topology.ts).
    const leaseTtlMs = leaseTtlMsFor(t.type, genericLeaseTtlMs);
    const row = await moveTask(
      tx,
      t,
      "leased",
      { attempt: req.attempt, from: ["queued"] },
      {
        leaseToken: token,
        leaseWorkerId: req.worker_id,
        leaseExpiresAt: sql`now() + ${`${leaseTtlMs} milliseconds`}::interval`,
        deadlineAt: sql`now() + ${`${deadlineMs} milliseconds`}::interval`,
        startedAt: sql`now()`,
        progress: 0,
      },
      { worker_id: req.worker_id },
    );
    if (!row) return { granted: false, reason: `task is ${t.status} on attempt ${t.attempt}, not queued on attempt ${req.attempt}` };
    await tx.insert(taskAttempts).values({ taskId: t.id, attempt: row.attempt, workerId: req.worker_id, leaseToken: token }).onConflictDoNothing();
    if (job.status === "queued") await moveJob(tx, job.id, "analyzing", { from: ["queued"] });
    if (job.statusReason) await tx.update(jobs).set({ statusReason: null }).where(eq(jobs.id, job.id));
    return {
      granted: true,
      lease: { task_id: t.id, attempt: row.attempt, token, worker_id: req.worker_id },
      job_id: t.jobId,
      type: t.type,
      params: row.params,
      media_seconds: row.mediaSeconds,
      deadline: new Date(Date.now() + deadlineMs).toISOString(),
      lease_ttl_ms: leaseTtlMs,
    };
  });
}

export function serveClaims(db: Db, bus: Bus, logger: Logger, leaseTtlMs: number): Unsubscribe {
  return bus.respond(CLAIM_SUBJECT, async (data) => {
    const req = data as ClaimRequest;
    const reply = await claimTask(db, req, leaseTtlMs);
    if (reply.granted) logger.info({ task_id: req.task_id, attempt: req.attempt, worker_id: req.worker_id, job_id: reply.job_id }, `lease granted: ${reply.type} task`);
    else logger.info({ task_id: req.task_id, attempt: req.attempt, worker_id: req.worker_id, reason: reply.reason }, "lease refused");
    return reply;
  });
}
