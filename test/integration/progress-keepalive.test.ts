/**
 * What a progress report costs the kernel (issue 20, kernel CPU while a job runs): a report that does not move
 * the task (a keep-alive, the same percent again) renews the lease and touches nothing else — no job progress
 * recompute, no job row write, no published update — while a report that moves it still updates the job, and
 * a stale lease token still changes nothing at all. Real PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { MemoryBus } from "../../src/bus/memory.ts";
import { createLogger } from "../../src/core/logger.ts";
import type { Lease } from "../../src/core/messages.ts";
import type { Db } from "../../src/db/client.ts";
import { rowsOf } from "../../src/db/exec.ts";
import { jobs, tasks } from "../../src/db/schema.ts";
import type { JobProgressUpdate } from "../../src/kernel/events/progress.ts";
import { claimTask } from "../../src/kernel/orchestrator/claims.ts";
import { handleResult, type OrchestratorDeps } from "../../src/kernel/orchestrator/results.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const LEASE_TTL = 60_000;
let tdb: TestDatabase;
let db: Db;
let bus: MemoryBus;

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.database.db;
  bus = new MemoryBus({ presenceTtlMs: 15_000 });
});

afterAll(async () => {
  await bus?.close();
  await tdb?.drop();
});

function deps(published: JobProgressUpdate[]): OrchestratorDeps {
  return { db, bus, logger: createLogger("test", "silent"), leaseTtlMs: LEASE_TTL, advance: async () => ({}), kick() {}, publishProgress: (p) => published.push(p) };
}

async function leasedTask(): Promise<{ jobId: string; taskId: string; lease: Lease }> {
  const [job] = await db.insert(jobs).values({ sourceUrl: "https://example.com/in.mp4", profiles: ["360p_h264"], options: { storage: "storage-fs" }, status: "processing" }).returning();
  const [task] = await db.insert(tasks).values({ jobId: job!.id, type: "video", seq: 0, pool: "cpu", mediaSeconds: 10 }).returning();
  const reply = await claimTask(db, { task_id: task!.id, attempt: task!.attempt, worker_id: "w-1" }, LEASE_TTL);
  if (!reply.granted) throw new Error(`claim refused: ${reply.reason}`);
  return { jobId: job!.id, taskId: task!.id, lease: reply.lease };
}

/** The lease's remaining time in ms, and the job row's updated_at (as text, exact to the microsecond). */
async function state(jobId: string, taskId: string): Promise<{ leaseMs: number; jobUpdatedAt: string; jobProgress: number; taskProgress: number }> {
  const [r] = rowsOf<{ lease_ms: number; job_updated_at: string; job_progress: number; task_progress: number }>(
    await db.execute(sql`
      select (extract(epoch from (t.lease_expires_at - now())) * 1000)::float8 as lease_ms, j.updated_at::text as job_updated_at,
             j.progress as job_progress, t.progress as task_progress
      from tasks t join jobs j on j.id = t.job_id where t.id = ${taskId} and j.id = ${jobId}`),
  );
  return { leaseMs: Number(r!.lease_ms), jobUpdatedAt: r!.job_updated_at, jobProgress: Number(r!.job_progress), taskProgress: Number(r!.task_progress) };
}

const shortenLease = (taskId: string) => db.update(tasks).set({ leaseExpiresAt: sql`now() + interval '1 second'` }).where(eq(tasks.id, taskId));

describe("progress reports", () => {
  test("a report that moves the task updates the job and publishes; the same percent again only renews the lease", async () => {
    const published: JobProgressUpdate[] = [];
    const d = deps(published);
    const { jobId, taskId, lease } = await leasedTask();
    await handleResult(d, { kind: "progress", lease, percent: 40 });
    const first = await state(jobId, taskId);
    expect(first.taskProgress).toBe(40);
    expect(first.jobProgress).toBe(34); // 85 · 40 %
    expect(published.map((p) => p.progress)).toEqual([34]);

    for (const percent of [40, 0, 12.5]) {
      await shortenLease(taskId);
      await handleResult(d, { kind: "progress", lease, percent });
      const now = await state(jobId, taskId);
      expect(now.leaseMs).toBeGreaterThan(LEASE_TTL - 5000); // renewed
      expect(now.taskProgress).toBe(40); // never backwards
      expect(now.jobUpdatedAt).toBe(first.jobUpdatedAt); // the job row was not written
    }
    expect(published.map((p) => p.progress)).toEqual([34]);

    await handleResult(d, { kind: "progress", lease, percent: 60 });
    const moved = await state(jobId, taskId);
    expect(moved.taskProgress).toBe(60);
    expect(moved.jobProgress).toBe(51);
    expect(moved.jobUpdatedAt).not.toBe(first.jobUpdatedAt);
    expect(published.map((p) => p.progress)).toEqual([34, 51]);
  });

  test("a report with a stale lease token neither renews the lease nor moves anything", async () => {
    const published: JobProgressUpdate[] = [];
    const d = deps(published);
    const { jobId, taskId, lease } = await leasedTask();
    await shortenLease(taskId);
    const before = await state(jobId, taskId);
    for (const percent of [0, 80]) await handleResult(d, { kind: "progress", lease: { ...lease, token: crypto.randomUUID() }, percent });
    const after = await state(jobId, taskId);
    expect(after.leaseMs).toBeLessThan(1500);
    expect(after.taskProgress).toBe(0);
    expect(after.jobUpdatedAt).toBe(before.jobUpdatedAt);
    expect(published).toEqual([]);
  });
});
