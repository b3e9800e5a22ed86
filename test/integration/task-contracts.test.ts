/**
 * A worker's result crosses a process boundary: the kernel checks it against the task type's contract
 * (src/core/task-contracts.ts) before storing or using it. Here the test is the worker: it claims leases on
 * the running kernel's bus and reports forged outcomes through the results queue, as a worker of another
 * version (or with a bug) would. A malformed result is refused — never stored, the attempt failed with the
 * reason — and the kernel's log and the job's timeline say why. The other way round, a worker (the kernel's
 * embedded one) refuses params it cannot read before it runs anything.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, asc, eq, sql } from "drizzle-orm";
import { CLAIM_SUBJECT, type ClaimReply, type Lease, type TaskOutcome } from "../../src/core/messages.ts";
import { RESULTS_QUEUE } from "../../src/core/topology.ts";
import { jobEvents, jobs, taskAttempts, tasks } from "../../src/db/schema.ts";
import { createJob } from "../../src/kernel/jobs/create.ts";
import { sampleAnalysis } from "../fixtures/task-samples.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

let k: TestKernel;
const logs: string[] = [];

beforeAll(async () => {
  k = await startTestKernel({ logSink: logs, logLevel: "info" });
}, 60_000);
afterAll(async () => {
  await k?.stop();
});

const db = () => k.handle.ctx.db;
const bus = () => k.handle.ctx.bus;

/** What a worker gets for a 10 s, 25 fps, 640×360 clip with a keyframe every 2 s. */
const ANALYSIS = sampleAnalysis({ format_name: "mpegts", size: "400000", bit_rate: "320000" });

async function newJob(): Promise<string> {
  const { job } = await createJob(db(), { source_url: "https://example.com/clip.ts", profiles: ["360p_h264"] }, { storage: "storage-fs" });
  return job.id;
}

const taskOf = async (jobId: string, type: "analyze" | "video") =>
  (await db().select().from(tasks).where(and(eq(tasks.jobId, jobId), eq(tasks.type, type))).orderBy(asc(tasks.seq)))[0];

/** Claims the task's current attempt the way a worker does (task.claim on the bus). */
async function claim(taskId: string, attempt: number): Promise<Lease> {
  const reply = await bus().request<ClaimReply>(CLAIM_SUBJECT, { task_id: taskId, attempt, worker_id: "w-forger" }, 10_000);
  if (!reply.granted) throw new Error(`claim refused: ${reply.reason}`);
  return reply.lease;
}

async function reportCompleted(lease: Lease, result: unknown): Promise<void> {
  const outcome: TaskOutcome = { kind: "outcome", lease, outcome: "completed", result, elapsed_ms: 1234 };
  await bus().enqueue(RESULTS_QUEUE, outcome, { msgId: `result:${lease.task_id}:${lease.attempt}` });
}

const logLines = () => logs.map((line) => JSON.parse(line) as Record<string, unknown>);

describe("a malformed result from a worker is refused", () => {
  test("a video result with a wrong field: not completed, nothing stored, retried, and the log and timeline say why", async () => {
    const jobId = await newJob();
    const analyze = (await taskOf(jobId, "analyze"))!;
    await reportCompleted(await claim(analyze.id, analyze.attempt), ANALYSIS);
    await waitFor(async () => (await taskOf(jobId, "video")) !== undefined, 30_000, "video tasks planned from a valid analysis");

    const video = (await taskOf(jobId, "video"))!;
    const lease = await claim(video.id, video.attempt);
    await reportCompleted(lease, { parts: [{ profile: "360p_h264", key: 42, frames: 250 }] });
    await waitFor(async () => (await taskOf(jobId, "video"))!.status !== "leased", 30_000, "the kernel handled the forged report");

    const problem = "parts.0.key: Invalid type: Expected string but received 42";
    const after = (await taskOf(jobId, "video"))!;
    expect({ status: after.status, attempt: after.attempt, failures: after.failures, result: after.result, code: after.errorCode }).toEqual({
      status: "queued",
      attempt: lease.attempt + 1,
      failures: 1,
      result: null,
      code: "WE-JOB-008",
    });
    expect(after.errorMessage).toBe(`worker w-forger reported a malformed video result: ${problem}`);

    // The attempt is recorded as failed with the reason, not as completed.
    const [attempt] = await db().select().from(taskAttempts).where(and(eq(taskAttempts.taskId, video.id), eq(taskAttempts.attempt, lease.attempt)));
    expect({ outcome: attempt!.outcome, errorClass: attempt!.errorClass, errorCode: attempt!.errorCode }).toEqual({ outcome: "failed", errorClass: "retryable", errorCode: "WE-JOB-008" });
    expect(attempt!.errorMessage).toContain(problem);

    // The job's timeline: the task went back to the queue because of that result, and never to completed.
    const timeline = await db().select().from(jobEvents).where(eq(jobEvents.taskId, video.id)).orderBy(asc(jobEvents.id));
    expect(timeline.map((e) => e.toStatus)).toEqual(["task:leased", "task:queued"]);
    expect(String(timeline[1]!.detail?.error)).toContain(problem);
    expect((await db().select().from(jobs).where(eq(jobs.id, jobId)))[0]!.status).toBe("processing");

    // The kernel's log names the task, the worker and the problem.
    const refused = logLines().find((l) => l.task_id === video.id && String(l.msg).startsWith("video result refused"));
    expect(refused).toMatchObject({ level: "warn", job_id: jobId, worker_id: "w-forger", code: "WE-JOB-008", problem });
  }, 60_000);

  test("an analysis that is not one: the job fails as an unsupported source at once, naming the problem", async () => {
    const jobId = await newJob();
    const analyze = (await taskOf(jobId, "analyze"))!;
    await reportCompleted(await claim(analyze.id, analyze.attempt), { ...ANALYSIS, video: { ...ANALYSIS.video, fps: "25" } });
    await waitFor(async () => (await db().select().from(jobs).where(eq(jobs.id, jobId)))[0]!.status === "failed", 30_000, "the job failed");

    const job = (await db().select().from(jobs).where(eq(jobs.id, jobId)))[0]!;
    expect({ code: job.errorCode, message: job.errorMessage }).toEqual({ code: "WE-JOB-007", message: "unsupported source: the analysis gave no usable video fps (25)" });
    const after = (await taskOf(jobId, "analyze"))!;
    expect({ status: after.status, result: after.result }).toEqual({ status: "failed", result: null });
    expect(await taskOf(jobId, "video")).toBeUndefined();
    expect(logLines().some((l) => l.task_id === analyze.id && l.code === "WE-JOB-007" && String(l.msg).startsWith("analyze result refused"))).toBe(true);
  }, 60_000);

  test("a valid result is still accepted as it was sent (fields the contract does not know are dropped)", async () => {
    const jobId = await newJob();
    const analyze = (await taskOf(jobId, "analyze"))!;
    await reportCompleted(await claim(analyze.id, analyze.attempt), { ...ANALYSIS, from_a_newer_worker: true });
    await waitFor(async () => (await taskOf(jobId, "analyze"))!.status === "completed", 30_000, "the analysis was accepted");
    expect((await taskOf(jobId, "analyze"))!.result).toEqual(ANALYSIS);
  }, 60_000);
});

describe("params a worker cannot read are refused by the worker", () => {
  let kw: TestKernel;
  beforeAll(async () => {
    kw = await startTestKernel({ env: { EMBEDDED_WORKER: "true", TASK_MAX_ATTEMPTS: "1" } });
  }, 60_000);
  afterAll(async () => {
    await kw?.stop();
  });

  test("an analyze task without its source: the attempt fails before anything runs, naming the field", async () => {
    const wdb = kw.handle.ctx.db;
    // Written the way a kernel of another version might: the job and its task in one go, the params wrong.
    const jobId = await wdb.transaction(async (tx) => {
      const [job] = await tx.insert(jobs).values({ sourceUrl: "https://example.com/clip.ts", profiles: ["360p_h264"], options: { storage: "storage-fs" } }).returning();
      await tx.execute(sql`insert into tasks (job_id, type, seq, pool, params) values (${job!.id}, 'analyze', 0, 'cpu', ${JSON.stringify({ storage: "storage-fs" })}::jsonb)`);
      return job!.id;
    });
    const failed = async () => (await wdb.select().from(jobs).where(eq(jobs.id, jobId)))[0]!.status === "failed";
    await waitFor(failed, 60_000, "the job failed after the worker refused its params");

    const [task] = await wdb.select().from(tasks).where(eq(tasks.jobId, jobId));
    const [attempt] = await wdb.select().from(taskAttempts).where(eq(taskAttempts.taskId, task!.id));
    expect({ status: task!.status, result: task!.result, outcome: attempt!.outcome, errorClass: attempt!.errorClass, errorCode: attempt!.errorCode }).toEqual({
      status: "failed",
      result: null,
      outcome: "failed",
      errorClass: "retryable",
      errorCode: "WE-JOB-008",
    });
    expect(attempt!.errorMessage).toMatch(/^worker \S+ refused the analyze task's params: source_url: required field is missing$/);
    // Refused before anything ran: no FFmpeg command was recorded for the attempt.
    expect(attempt!.argv).toBeNull();
  }, 90_000);
});
