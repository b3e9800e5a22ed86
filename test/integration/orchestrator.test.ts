/**
 * The orchestration core (docs/architecture.md §5) against a real PostgreSQL and the in-process bus, driven directly
 * (no HTTP, no worker processes): guarded transitions, lease grants once per attempt, idempotent result
 * handling, "package once" with two kernels sharing the database, failure classification → retry/backoff or
 * job failure, cancel/retry, and the publish outbox.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, asc, eq, sql } from "drizzle-orm";
import { MemoryBus } from "../../src/bus/memory.ts";
import { type BusMessage, Slots } from "../../src/bus/types.ts";
import { AppError } from "../../src/core/errors.ts";
import { createLogger } from "../../src/core/logger.ts";
import { JOB_CANCEL_EVENT, type JobCancel, type Lease, type TaskDelivery, type TaskError, type TaskOutcome } from "../../src/core/messages.ts";
import type { PackageParams } from "../../src/media/task-params.ts";
import { queueSpecs } from "../../src/bus/queues.ts";
import { workQueue } from "../../src/core/topology.ts";
import { type Database, type Db, openDatabase } from "../../src/db/client.ts";
import { type Exec, rowsOf } from "../../src/db/exec.ts";
import { jobEvents, jobs, outputs, taskAttempts, tasks, workers } from "../../src/db/schema.ts";
import { createJob } from "../../src/kernel/jobs/create.ts";
import { claimTask } from "../../src/kernel/orchestrator/claims.ts";
import { cancelJob, retryJob } from "../../src/kernel/orchestrator/control.ts";
import { publishReady } from "../../src/kernel/orchestrator/dispatch.ts";
import { type AdvanceResult, handleResult, type OrchestratorDeps } from "../../src/kernel/orchestrator/results.ts";
import { retryDelayMs } from "../../src/kernel/orchestrator/states.ts";
import { type JobRow, lockJob, moveJob, moveTask, type TaskRow } from "../../src/kernel/orchestrator/transitions.ts";
import { createAdvance } from "../../src/kernel/pipeline/advance.ts";
import type { SourceSummary } from "../../src/media/source.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const logger = createLogger("test", "silent");
const LEASE_TTL = 60_000;

let tdb: TestDatabase;
let db: Db;
let bus: MemoryBus;
const extraDatabases: Database[] = [];
const cancels: JobCancel[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.database.db;
  bus = new MemoryBus({ presenceTtlMs: 15_000 });
  await bus.ensureQueues(queueSpecs());
  bus.subscribe<JobCancel>(JOB_CANCEL_EVENT, (ev) => cancels.push(ev));
});

afterAll(async () => {
  await bus?.close();
  for (const d of extraDatabases) await d.close().catch(() => {});
  await tdb?.drop();
});

// ---------------------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------------------

type TaskInsert = typeof tasks.$inferInsert;

async function insertJob(over: Partial<typeof jobs.$inferInsert> = {}): Promise<JobRow> {
  const [row] = await db
    .insert(jobs)
    .values({ sourceUrl: "https://example.com/in.mp4", profiles: ["360p_h264"], options: { storage: "storage-fs" }, status: "processing", ...over })
    .returning();
  return row!;
}

async function insertTask(jobId: string, over: Partial<TaskInsert> = {}): Promise<TaskRow> {
  const [row] = await db.insert(tasks).values({ jobId, type: "video", seq: 0, pool: "cpu", mediaSeconds: 10, ...over }).returning();
  return row!;
}

const jobRow = async (id: string) => (await db.select().from(jobs).where(eq(jobs.id, id)))[0]!;
const taskRow = async (id: string) => (await db.select().from(tasks).where(eq(tasks.id, id)))[0]!;
const eventsOf = (jobId: string) => db.select().from(jobEvents).where(eq(jobEvents.jobId, jobId)).orderBy(asc(jobEvents.id));
const attemptsOf = (taskId: string) => db.select().from(taskAttempts).where(eq(taskAttempts.taskId, taskId)).orderBy(asc(taskAttempts.attempt));
const tasksOf = (jobId: string) => db.select().from(tasks).where(eq(tasks.jobId, jobId)).orderBy(asc(tasks.type), asc(tasks.seq));

/** Milliseconds from the database's now() to a timestamp column of a task. */
async function msFromNow(taskId: string, column: "not_before" | "lease_expires_at" | "deadline_at"): Promise<number> {
  const [r] = rowsOf<{ ms: number }>(await db.execute(sql`select (extract(epoch from (${sql.raw(column)} - now())) * 1000)::float8 as ms from tasks where id = ${taskId}`));
  return Number(r!.ms);
}

interface TestDeps extends OrchestratorDeps {
  kicks: number;
  advanced: Array<{ jobId: string; taskId: string }>;
  ended: Array<{ jobId: string; status: string }>;
}

function makeDeps(database: Db = db, advance?: OrchestratorDeps["advance"]): TestDeps {
  const d: TestDeps = {
    db: database,
    bus,
    logger,
    leaseTtlMs: LEASE_TTL,
    kicks: 0,
    advanced: [],
    ended: [],
    async advance(x: Exec, job: JobRow, task: TaskRow): Promise<AdvanceResult> {
      d.advanced.push({ jobId: job.id, taskId: task.id });
      return advance ? advance(x, job, task) : {};
    },
    async onJobEnded(jobId, status) {
      d.ended.push({ jobId, status });
    },
    kick() {
      d.kicks++;
    },
  };
  return d;
}

async function lease(task: { id: string; attempt: number }, workerId: string, database: Db = db): Promise<Lease> {
  const reply = await claimTask(database, { task_id: task.id, attempt: task.attempt, worker_id: workerId }, LEASE_TTL);
  if (!reply.granted) throw new Error(`claim refused: ${reply.reason}`);
  return reply.lease;
}

/** A completed report; the default result is a valid one for insertTask's default type (video): the kernel checks it. */
const completed = (l: Lease, result: unknown = { parts: [] }): TaskOutcome => ({ kind: "outcome", lease: l, outcome: "completed", result, elapsed_ms: 1000 });
const failed = (l: Lease, error: TaskError): TaskOutcome => ({ kind: "outcome", lease: l, outcome: "failed", error, elapsed_ms: 1000 });

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(10);
  }
}

async function expectAppError(p: Promise<unknown>, code: string, message?: RegExp): Promise<AppError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(AppError);
  expect((caught as AppError).code).toBe(code as AppError["code"]);
  if (message) expect((caught as AppError).message).toMatch(message);
  return caught as AppError;
}

// ---------------------------------------------------------------------------------------------------------
// (a) guarded transitions
// ---------------------------------------------------------------------------------------------------------

describe("guarded transitions", () => {
  test("moveJob never overwrites a terminal state: undefined, row and timeline unchanged", async () => {
    for (const terminal of ["completed", "cancelled", "failed"] as const) {
      const job = await insertJob({ status: terminal });
      const before = await jobRow(job.id);
      const evBefore = await eventsOf(job.id);
      for (const to of ["completed", "failed", "cancelled", "packaging", "analyzing"] as const) {
        expect(await moveJob(db, job.id, to)).toBeUndefined();
      }
      expect(await jobRow(job.id)).toEqual(before);
      expect(await eventsOf(job.id)).toEqual(evBefore);
    }
  });

  test("moveJob with an explicit `from` that does not match the row is refused", async () => {
    const job = await insertJob({ status: "processing" });
    expect(await moveJob(db, job.id, "completed", { from: ["packaging"] })).toBeUndefined();
    // A `from` that is not a legal source of the target is filtered out even if it matches the row.
    expect(await moveJob(db, job.id, "completed", { from: ["processing"] })).toBeUndefined();
    expect((await jobRow(job.id)).status).toBe("processing");
    expect(await eventsOf(job.id)).toEqual([]);
  });

  test("every accepted job move writes one job_events row; terminal moves set finished_at", async () => {
    const job = await insertJob({ status: "queued" });
    const a = await moveJob(db, job.id, "analyzing");
    expect(a?.status).toBe("analyzing");
    expect(a?.startedAt).toBeInstanceOf(Date);
    expect(a?.finishedAt).toBeNull();
    const p = await moveJob(db, job.id, "processing", { detail: { chunks: 2 } });
    expect(p?.status).toBe("processing");
    const f = await moveJob(db, job.id, "failed", { patch: { errorCode: "WE-JOB-008", errorMessage: "boom" } });
    expect(f?.status).toBe("failed");
    expect(f?.errorCode).toBe("WE-JOB-008");
    expect(f?.finishedAt).toBeInstanceOf(Date);
    const ev = await eventsOf(job.id);
    expect(ev.map((e) => [e.toStatus, e.fromStatus, e.taskId])).toEqual([
      ["analyzing", "queued", null],
      ["processing", null, null], // several legal sources (analyzing, packaging, failed): from is not recorded
      ["failed", null, null],
    ]);
    expect(ev[1]!.detail).toEqual({ chunks: 2 });
    // A refused move adds nothing.
    expect(await moveJob(db, job.id, "completed")).toBeUndefined();
    expect((await eventsOf(job.id)).length).toBe(3);
  });

  test("moveTask with a wrong attempt or lease token returns undefined and changes nothing", async () => {
    const job = await insertJob();
    const task = await insertTask(job.id, { attempt: 2 });
    expect(await moveTask(db, task, "leased", { attempt: 1, from: ["queued"] }, { leaseToken: "t1", leaseWorkerId: "w" })).toBeUndefined();
    expect(await moveTask(db, task, "leased", { attempt: 3, from: ["queued"] }, { leaseToken: "t1", leaseWorkerId: "w" })).toBeUndefined();
    expect(await taskRow(task.id)).toEqual(task);
    expect(await eventsOf(job.id)).toEqual([]);

    const leased = await moveTask(db, task, "leased", { attempt: 2, from: ["queued"] }, { leaseToken: "t1", leaseWorkerId: "w" });
    expect(leased?.status).toBe("leased");
    expect(leased?.leaseToken).toBe("t1");
    const snapshot = await taskRow(task.id);
    expect(await moveTask(db, task, "completed", { leaseToken: "someone-else" })).toBeUndefined();
    expect(await moveTask(db, task, "completed", { leaseToken: "t1", attempt: 1 })).toBeUndefined();
    expect(await taskRow(task.id)).toEqual(snapshot);
    expect((await eventsOf(job.id)).length).toBe(1);

    const done = await moveTask(db, task, "completed", { leaseToken: "t1", attempt: 2 }, { progress: 100 });
    expect(done?.status).toBe("completed");
    expect(done?.leaseToken).toBeNull();
    expect(done?.leaseWorkerId).toBeNull();
    expect(done?.finishedAt).toBeInstanceOf(Date);
    // completed is terminal for a task: nothing moves it again
    for (const to of ["queued", "leased", "failed", "cancelled", "completed"] as const) expect(await moveTask(db, task, to)).toBeUndefined();
    const ev = await eventsOf(job.id);
    expect(ev.map((e) => [e.toStatus, e.taskId, (e.detail as { attempt: number }).attempt])).toEqual([
      ["task:leased", task.id, 2],
      ["task:completed", task.id, 2],
    ]);
  });

  test("a task with not_before in the future cannot be leased", async () => {
    const job = await insertJob();
    const task = await insertTask(job.id, { notBefore: sql`now() + interval '1 hour'` as never });
    expect(await moveTask(db, task, "leased", { attempt: 1 }, { leaseToken: "x" })).toBeUndefined();
    await db.update(tasks).set({ notBefore: sql`now() - interval '1 second'` }).where(eq(tasks.id, task.id));
    expect((await moveTask(db, task, "leased", { attempt: 1 }, { leaseToken: "x" }))?.status).toBe("leased");
  });
});

// ---------------------------------------------------------------------------------------------------------
// (b) lease grants
// ---------------------------------------------------------------------------------------------------------

describe("claimTask", () => {
  test("two concurrent claims of the same attempt: exactly one granted", async () => {
    const job = await insertJob({ status: "queued" });
    const task = await insertTask(job.id, { type: "analyze" });
    const replies = await Promise.all([
      claimTask(db, { task_id: task.id, attempt: 1, worker_id: "w-a" }, LEASE_TTL),
      claimTask(db, { task_id: task.id, attempt: 1, worker_id: "w-b" }, LEASE_TTL),
    ]);
    const granted = replies.filter((r) => r.granted);
    expect(granted.length).toBe(1);
    const g = granted[0]!;
    if (!g.granted) throw new Error("unreachable");
    const loser = replies.find((r) => !r.granted)!;
    expect(loser.granted).toBe(false);
    if (loser.granted) throw new Error("unreachable");
    expect(loser.reason).toMatch(/^task is \w+ on attempt 1, not queued on attempt 1$/);

    const row = await taskRow(task.id);
    expect(row.status).toBe("leased");
    expect(row.leaseToken).toBe(g.lease.token);
    expect(row.leaseWorkerId).toBe(g.lease.worker_id);
    expect(g.lease.attempt).toBe(1);
    expect(g.job_id).toBe(job.id);
    expect(g.type).toBe("analyze");
    expect(g.lease_ttl_ms).toBe(LEASE_TTL);
    const expires = await msFromNow(task.id, "lease_expires_at");
    expect(expires).toBeGreaterThan(LEASE_TTL - 5000);
    expect(expires).toBeLessThanOrEqual(LEASE_TTL);
    const deadline = await msFromNow(task.id, "deadline_at");
    expect(deadline).toBeGreaterThan(10 * 60_000 - 5000); // analyze: 10 minutes
    expect(deadline).toBeLessThanOrEqual(10 * 60_000);

    const attempts = await attemptsOf(task.id);
    expect(attempts.map((a) => [a.attempt, a.workerId, a.leaseToken, a.outcome])).toEqual([[1, g.lease.worker_id, g.lease.token, null]]);
    // The first lease starts the job.
    expect((await jobRow(job.id)).status).toBe("analyzing");
    expect((await eventsOf(job.id)).map((e) => e.toStatus)).toEqual(["task:leased", "analyzing"]);
  });

  test("eight concurrent claims of one attempt: exactly one granted, one attempt row", async () => {
    const job = await insertJob();
    const task = await insertTask(job.id);
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => claimTask(db, { task_id: task.id, attempt: 1, worker_id: `w-${i}` }, LEASE_TTL)));
    expect(replies.filter((r) => r.granted).length).toBe(1);
    expect((await attemptsOf(task.id)).length).toBe(1);
    expect((await eventsOf(job.id)).filter((e) => e.toStatus === "task:leased").length).toBe(1);
  });

  test("a claim for a stale (or future) attempt is refused", async () => {
    const job = await insertJob();
    const task = await insertTask(job.id, { attempt: 3 });
    for (const attempt of [1, 2, 4]) {
      const r = await claimTask(db, { task_id: task.id, attempt, worker_id: "w" }, LEASE_TTL);
      expect(r).toEqual({ granted: false, reason: `task is queued on attempt 3, not queued on attempt ${attempt}` });
    }
    expect(await taskRow(task.id)).toEqual(task);
    expect(await attemptsOf(task.id)).toEqual([]);
    expect((await claimTask(db, { task_id: task.id, attempt: 3, worker_id: "w" }, LEASE_TTL)).granted).toBe(true);
  });

  test("a claim on a cancelled (or otherwise ended) job is refused", async () => {
    for (const status of ["cancelled", "failed", "completed"] as const) {
      const job = await insertJob({ status });
      const task = await insertTask(job.id);
      const r = await claimTask(db, { task_id: task.id, attempt: 1, worker_id: "w" }, LEASE_TTL);
      expect(r).toEqual({ granted: false, reason: `job is ${status}` });
      expect((await taskRow(task.id)).status).toBe("queued");
      expect(await attemptsOf(task.id)).toEqual([]);
    }
  });

  test("a claim for an unknown task is refused", async () => {
    expect(await claimTask(db, { task_id: crypto.randomUUID(), attempt: 1, worker_id: "w" }, LEASE_TTL)).toEqual({ granted: false, reason: "unknown task" });
  });

  test("a task in its retry backoff (not_before in the future) is not leased", async () => {
    const job = await insertJob();
    const task = await insertTask(job.id, { notBefore: sql`now() + interval '10 seconds'` as never });
    const r = await claimTask(db, { task_id: task.id, attempt: 1, worker_id: "w" }, LEASE_TTL);
    expect(r.granted).toBe(false);
    expect((await taskRow(task.id)).status).toBe("queued");
  });
});

// ---------------------------------------------------------------------------------------------------------
// (c) result handling is idempotent
// ---------------------------------------------------------------------------------------------------------

describe("handleResult idempotency", () => {
  test("the same completed outcome twice: the second delivery changes nothing", async () => {
    const d = makeDeps();
    const job = await insertJob({ status: "processing", startedAt: new Date(Date.now() - 10_000) });
    const task = await insertTask(job.id, { mediaSeconds: 10 });
    await insertTask(job.id, { seq: 1, mediaSeconds: 10 });
    const l = await lease(task, "w-1");
    const msg = completed(l, { parts: [{ profile: "360p_h264", key: "k0", frames: 250 }] });

    await handleResult(d, msg);
    const t1 = await taskRow(task.id);
    expect(t1.status).toBe("completed");
    expect(t1.progress).toBe(100);
    expect(t1.result).toEqual({ parts: [{ profile: "360p_h264", key: "k0", frames: 250 }] });
    expect(t1.leaseToken).toBeNull();
    const a1 = await attemptsOf(task.id);
    expect(a1.map((a) => [a.attempt, a.outcome])).toEqual([[1, "completed"]]);
    expect(a1[0]!.finishedAt).toBeInstanceOf(Date);
    const j1 = await jobRow(job.id);
    expect(j1.progress).toBe(42.5); // one of two equal chunks done, no analyze task: 85 / 2
    const ev1 = await eventsOf(job.id);
    expect(ev1.map((e) => e.toStatus)).toEqual(["task:leased", "task:completed"]);
    expect(d.advanced).toEqual([{ jobId: job.id, taskId: task.id }]);
    expect(d.kicks).toBe(1);

    await handleResult(d, msg);
    expect(await taskRow(task.id)).toEqual(t1);
    expect(await attemptsOf(task.id)).toEqual(a1);
    expect(await eventsOf(job.id)).toEqual(ev1);
    expect(await jobRow(job.id)).toEqual(j1);
    expect(d.advanced.length).toBe(1);
    expect(d.kicks).toBe(1);
  });

  test("two concurrent deliveries of one completed outcome: advanced once, one completed event", async () => {
    const d1 = makeDeps();
    const d2 = makeDeps();
    const job = await insertJob();
    const task = await insertTask(job.id);
    const l = await lease(task, "w-1");
    await Promise.all([handleResult(d1, completed(l)), handleResult(d2, completed(l))]);
    expect(d1.advanced.length + d2.advanced.length).toBe(1);
    expect((await eventsOf(job.id)).filter((e) => e.toStatus === "task:completed").length).toBe(1);
    expect((await attemptsOf(task.id)).map((a) => a.outcome)).toEqual(["completed"]);
  });

  test("a report with a stale lease token is refused", async () => {
    const d = makeDeps();
    const job = await insertJob();
    const task = await insertTask(job.id);
    const l = await lease(task, "w-1");
    const before = await taskRow(task.id);
    const evBefore = await eventsOf(job.id);
    await handleResult(d, completed({ ...l, token: crypto.randomUUID() }));
    await handleResult(d, failed({ ...l, token: crypto.randomUUID() }, { class: "permanent", code: "WE-JOB-007", message: "bad" }));
    await handleResult(d, { kind: "outcome", lease: { ...l, token: "nope" }, outcome: "aborted", elapsed_ms: 1 });
    await handleResult(d, { kind: "progress", lease: { ...l, token: "nope" }, percent: 80 });
    expect(await taskRow(task.id)).toEqual(before);
    expect(await eventsOf(job.id)).toEqual(evBefore);
    expect((await attemptsOf(task.id)).map((a) => a.outcome)).toEqual([null]);
    expect((await jobRow(job.id)).status).toBe("processing");
    expect(d.advanced).toEqual([]);
    expect(d.kicks).toBe(0);
  });

  test("the previous attempt's worker cannot complete a task now leased to another worker", async () => {
    const d = makeDeps();
    const job = await insertJob();
    const task = await insertTask(job.id);
    const old = await lease(task, "w-old");
    await handleResult(d, { kind: "outcome", lease: old, outcome: "aborted", elapsed_ms: 1 });
    const requeued = await taskRow(task.id);
    expect([requeued.status, requeued.attempt, requeued.failures, requeued.publishedAt, requeued.notBefore]).toEqual(["queued", 2, 0, null, null]);
    const current = await lease(requeued, "w-new");
    expect(current.attempt).toBe(2);
    await handleResult(d, completed(old));
    const row = await taskRow(task.id);
    expect([row.status, row.leaseWorkerId, row.leaseToken]).toEqual(["leased", "w-new", current.token]);
    expect((await attemptsOf(task.id)).map((a) => [a.attempt, a.workerId, a.outcome])).toEqual([
      [1, "w-old", "aborted"],
      [2, "w-new", null],
    ]);
    expect(d.advanced).toEqual([]);
  });

  test("progress: accepted only for the current lease, monotonic, and extends the lease", async () => {
    const d = makeDeps();
    const job = await insertJob({ startedAt: new Date(Date.now() - 60_000) });
    const task = await insertTask(job.id, { mediaSeconds: 10 });
    const l = await lease(task, "w-1");
    await db.update(tasks).set({ leaseExpiresAt: sql`now() + interval '1 second'` }).where(eq(tasks.id, task.id));
    await handleResult(d, { kind: "progress", lease: l, percent: 40 });
    expect((await taskRow(task.id)).progress).toBe(40);
    expect(await msFromNow(task.id, "lease_expires_at")).toBeGreaterThan(LEASE_TTL - 5000);
    expect((await jobRow(job.id)).progress).toBe(34); // 85 · 40 %
    await handleResult(d, { kind: "progress", lease: l, percent: 20 });
    expect((await taskRow(task.id)).progress).toBe(40);
    expect((await jobRow(job.id)).progress).toBe(34);
    await handleResult(d, { kind: "progress", lease: l, percent: 250 });
    expect((await taskRow(task.id)).progress).toBe(100);
    expect((await jobRow(job.id)).progress).toBe(85);
    expect((await taskRow(task.id)).status).toBe("leased"); // progress never completes a task
  });
});

// ---------------------------------------------------------------------------------------------------------
// (d) package once, with two kernels and the real pipeline
// ---------------------------------------------------------------------------------------------------------

describe("package once (real pipeline, two kernels sharing the database)", () => {
  let second: Db;
  beforeAll(async () => {
    const database = await openDatabase({ url: tdb.url, dataDir: "", maxConnections: 4 });
    extraDatabases.push(database);
    second = database.db;
    // Two free CPU slots → a 40 s source is planned as two chunks.
    await db.insert(workers).values({ id: "pkg-test-worker", hostname: "h", version: "test", slots: 2, pools: ["cpu"], status: "healthy" }).onConflictDoNothing();
  });

  /** 40 s, 25 fps, 640x360, a keyframe every 2 s, AAC audio. */
  const SOURCE: SourceSummary = {
    duration_s: 40,
    size_bytes: 5_000_000,
    bit_rate: 1_000_000,
    format: "mov,mp4,m4a,3gp,3g2,mj2",
    video: { codec: "h264", width: 640, height: 360, fps: 25, frames: 1000, rotation: 0, sar: 1, pix_fmt: "yuv420p", profile: "High" },
    audio: { codec: "aac", channels: 2, sample_rate: 48000, duration_s: 40 },
    keyframes: Array.from({ length: 20 }, (_, i) => ({ pts: i * 2, frame: i * 50 })),
  };

  async function analyzedJob(kernel: TestDeps): Promise<{ job: JobRow; video: TaskRow[]; audio: TaskRow[] }> {
    const { job } = await createJob(db, { source_url: "https://example.com/src.mp4", profiles: ["360p_h264"] }, { storage: "storage-fs" });
    const [analyze] = await tasksOf(job.id);
    expect(analyze!.type).toBe("analyze");
    const l = await lease(analyze!, "w-analyze");
    await handleResult(kernel, completed(l, SOURCE));
    const all = await tasksOf(job.id);
    expect((await jobRow(job.id)).status).toBe("processing");
    return { job, video: all.filter((t) => t.type === "video"), audio: all.filter((t) => t.type === "audio") };
  }

  test("analyze → 2 video chunks + 1 audio task; all media outcomes delivered concurrently (each twice, via both kernels) → exactly one package task", async () => {
    const advance = createAdvance();
    for (let round = 0; round < 5; round++) {
      const kA = makeDeps(db, advance);
      const kB = makeDeps(second, advance);
      const { job, video, audio } = await analyzedJob(kA);
      expect(video.map((t) => [t.seq, t.pool, t.status, t.mediaSeconds])).toEqual([
        [0, "cpu", "queued", 20],
        [1, "cpu", "queued", 20],
      ]);
      expect(audio.map((t) => [t.seq, t.pool, t.status, t.mediaSeconds])).toEqual([[0, "cpu", "queued", 40]]);
      const probe = (await jobRow(job.id)).probe as Record<string, unknown>;
      expect(probe.keyframe_count).toBe(20);
      expect(probe.duration_s).toBe(40);

      const [l0, l1, la] = await Promise.all([lease(video[0]!, "w-1"), lease(video[1]!, "w-2", second), lease(audio[0]!, "w-3")]);
      const parts = (seq: number) => ({ parts: [{ profile: "360p_h264", key: `jobs/${job.id}/parts/v${seq}.mp4`, frames: 500 }] });
      const audioResult = { key: `jobs/${job.id}/parts/audio_0.m4a` };
      await Promise.all([
        handleResult(kA, completed(l0!, parts(0))),
        handleResult(kB, completed(l1!, parts(1))),
        handleResult(round % 2 ? kA : kB, completed(la!, audioResult)),
        handleResult(kB, completed(l0!, parts(0))),
        handleResult(kA, completed(l1!, parts(1))),
        handleResult(round % 2 ? kB : kA, completed(la!, audioResult)),
      ]);

      const all = await tasksOf(job.id);
      const pkg = all.filter((t) => t.type === "package");
      expect(pkg.length).toBe(1);
      expect(all.filter((t) => t.type !== "package").every((t) => t.status === "completed")).toBe(true);
      const jr = await jobRow(job.id);
      expect(jr.status).toBe("packaging");
      const ev = await eventsOf(job.id);
      expect(ev.filter((e) => e.toStatus === "packaging").length).toBe(1);
      expect(ev.filter((e) => e.toStatus === "task:completed").length).toBe(4); // analyze + 3 media
      for (const t of [...video, ...audio]) expect((await attemptsOf(t.id)).map((a) => a.outcome)).toEqual(["completed"]);

      const params = pkg[0]!.params as unknown as PackageParams;
      expect(pkg[0]!.status).toBe("queued");
      expect(pkg[0]!.mediaSeconds).toBe(40);
      expect(params.output_prefix).toBe(`jobs/${job.id}/`);
      expect(params.storage).toBe("storage-fs");
      expect(params.outputs).toEqual(["mp4"]);
      // The one audio track is carried, ending where it ends on the video's clock (docs/media.md).
      expect(params.source).toEqual({
        duration_s: 40,
        frames: 1000,
        fps: 25,
        has_audio: true,
        audio_tracks: [{ index: 0, language: "und", title: null, default: true, end_s: 40, frame_s: 1024 / 48000 }],
      });
      expect(params.renditions.length).toBe(1);
      const r = params.renditions[0]!;
      expect([r.profile.id, r.width, r.height, r.encoder]).toEqual(["360p_h264", 640, 360, "libx264"]);
      expect(r.parts).toEqual([
        { key: `jobs/${job.id}/parts/v0.mp4`, frames: 500, seq: 0, duration_s: 20 },
        { key: `jobs/${job.id}/parts/v1.mp4`, frames: 500, seq: 1, duration_s: 20 },
      ]);
      expect(r.audio_key).toBe(audioResult.key);
      expect(r.audio_keys).toEqual([audioResult.key]);
      // The media phase is done: 5 % analyze + 85 % media.
      expect(jr.progress).toBe(90);

      if (round === 0) {
        // …and the package task completes the job with its outputs recorded.
        const lp = await lease(pkg[0]!, "w-4");
        const out = { kind: "mp4", profile: "360p_h264", key: `jobs/${job.id}/360p_h264.mp4`, size_bytes: 123456, duration_s: 40, width: 640, height: 360, video_codec: "h264", audio_codec: "aac" };
        await handleResult(kB, completed(lp, { outputs: [out] }));
        await handleResult(kA, completed(lp, { outputs: [out] }));
        const done = await jobRow(job.id);
        expect([done.status, done.progress, done.etaSeconds]).toEqual(["completed", 100, null]); // an ended job has no ETA
        expect(done.finishedAt).toBeInstanceOf(Date);
        const o = await db.select().from(outputs).where(eq(outputs.jobId, job.id));
        expect(o.map((x) => [x.kind, x.profile, x.storagePlugin, x.storageKey, x.sizeBytes, x.width, x.height])).toEqual([
          ["mp4", "360p_h264", "storage-fs", out.key, 123456, 640, 360],
        ]);
        expect((await eventsOf(job.id)).filter((e) => e.toStatus === "completed").length).toBe(1);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// (e) failures: retry with backoff, give up at max_attempts, permanent errors fail the job at once
// ---------------------------------------------------------------------------------------------------------

describe("failTask via worker reports", () => {
  const crash = (n: number): TaskError => ({
    class: "retryable",
    code: "WE-JOB-008",
    message: `video chunk 0: FFmpeg was killed by SIGKILL (#${n})`,
    exit_code: null,
    signal: "SIGKILL",
    argv: ["ffmpeg", "-i", "in.mp4", "out.mp4"],
    stderr_tail: `frame=  ${n}\n`,
  });

  test("retryable errors requeue with attempt+1, failures+1 and backoff; the third failure fails the job with WE-JOB-008 and cancels the siblings", async () => {
    const d = makeDeps();
    const job = await insertJob();
    const task = await insertTask(job.id, { seq: 0, maxAttempts: 3 });
    const doneSibling = await insertTask(job.id, { seq: 1, status: "completed", progress: 100 });
    const queuedSibling = await insertTask(job.id, { type: "audio", seq: 0 });
    const runningSibling = await insertTask(job.id, { seq: 2 });
    const runningLease = await lease(runningSibling, "w-other");
    const cancelsBefore = cancels.length;

    let current = task;
    for (let n = 1; n <= 2; n++) {
      const l = await lease(current, `w-${n}`);
      await handleResult(d, failed(l, crash(n)));
      const row = await taskRow(task.id);
      expect(row.status).toBe("queued");
      expect(row.attempt).toBe(n + 1);
      expect(row.failures).toBe(n);
      expect(row.publishedAt).toBeNull();
      expect(row.leaseToken).toBeNull();
      expect(row.leaseWorkerId).toBeNull();
      expect(row.progress).toBe(0);
      expect(row.errorCode).toBe("WE-JOB-008");
      expect(row.errorMessage).toBe(crash(n).message);
      const wait = await msFromNow(task.id, "not_before");
      expect(wait).toBeGreaterThan(retryDelayMs(n) - 3000);
      expect(wait).toBeLessThanOrEqual(retryDelayMs(n));
      const ev = (await eventsOf(job.id)).at(-1)!;
      expect([ev.toStatus, ev.taskId]).toEqual(["task:queued", task.id]);
      expect(ev.detail).toMatchObject({ attempt: n + 1, retry_in_ms: retryDelayMs(n), error: crash(n).message });
      expect((await jobRow(job.id)).status).toBe("processing");
      expect(d.kicks).toBe(n);
      // In backoff: not claimable yet; once the time has passed it is.
      expect((await claimTask(db, { task_id: task.id, attempt: n + 1, worker_id: "early" }, LEASE_TTL)).granted).toBe(false);
      await db.update(tasks).set({ notBefore: sql`now() - interval '1 millisecond'` }).where(eq(tasks.id, task.id));
      current = await taskRow(task.id);
    }
    expect(retryDelayMs(1)).toBe(10_000);
    expect(retryDelayMs(2)).toBe(20_000);

    const l3 = await lease(current, "w-3");
    await handleResult(d, failed(l3, crash(3)));
    const t = await taskRow(task.id);
    expect([t.status, t.attempt, t.failures, t.errorCode, t.leaseToken]).toEqual(["failed", 3, 3, "WE-JOB-008", null]);
    const j = await jobRow(job.id);
    expect(j.status).toBe("failed");
    expect(j.errorCode).toBe("WE-JOB-008");
    expect(j.errorMessage).toBe(`video task failed 3 times; last error: ${crash(3).message}`);
    expect(j.errorDetails).toEqual({ task_id: task.id, task_type: "video", attempts: 3, exit_code: null, signal: "SIGKILL" });
    expect(j.finishedAt).toBeInstanceOf(Date);

    expect((await taskRow(doneSibling.id)).status).toBe("completed");
    expect((await taskRow(queuedSibling.id)).status).toBe("cancelled");
    const rs = await taskRow(runningSibling.id);
    expect([rs.status, rs.leaseToken, rs.leaseWorkerId]).toEqual(["cancelled", null, null]);

    // Every attempt's evidence is kept.
    const attempts = await attemptsOf(task.id);
    expect(attempts.map((a) => [a.attempt, a.workerId, a.outcome, a.errorClass, a.errorCode, a.signal, a.stderrTail])).toEqual([
      [1, "w-1", "failed", "retryable", "WE-JOB-008", "SIGKILL", "frame=  1\n"],
      [2, "w-2", "failed", "retryable", "WE-JOB-008", "SIGKILL", "frame=  2\n"],
      [3, "w-3", "failed", "retryable", "WE-JOB-008", "SIGKILL", "frame=  3\n"],
    ]);
    expect(attempts[0]!.argv).toEqual(["ffmpeg", "-i", "in.mp4", "out.mp4"]);

    // Workers are told to stop; cleanup runs.
    await until(() => cancels.length > cancelsBefore, "job.cancel event");
    expect(cancels.slice(cancelsBefore)).toEqual([{ job_id: job.id, reason: "job failed" }]);
    expect(d.ended).toEqual([{ jobId: job.id, status: "failed" }]);
    // The cancelled sibling's late success is refused.
    await handleResult(d, completed(runningLease));
    expect((await taskRow(runningSibling.id)).status).toBe("cancelled");
  });

  test("a permanent error fails the job at once with the error's code and message", async () => {
    const d = makeDeps();
    const job = await insertJob();
    const task = await insertTask(job.id, { maxAttempts: 3 });
    const sibling = await insertTask(job.id, { seq: 1 });
    const l = await lease(task, "w-1");
    const error: TaskError = { class: "permanent", code: "WE-JOB-007", message: "unsupported source: the source has no video stream", exit_code: 1, signal: null };
    await handleResult(d, failed(l, error));
    const t = await taskRow(task.id);
    expect([t.status, t.attempt, t.failures, t.errorCode, t.errorMessage]).toEqual(["failed", 1, 1, "WE-JOB-007", error.message]);
    const j = await jobRow(job.id);
    expect([j.status, j.errorCode, j.errorMessage]).toEqual(["failed", "WE-JOB-007", error.message]);
    expect(j.errorDetails).toEqual({ task_id: task.id, task_type: "video", attempts: 1, exit_code: 1, signal: null });
    expect((await taskRow(sibling.id)).status).toBe("cancelled");
    expect(d.ended).toEqual([{ jobId: job.id, status: "failed" }]);
    expect(d.kicks).toBe(0);
  });

  test("max_attempts 1: the first retryable failure fails the job with WE-JOB-008", async () => {
    const d = makeDeps();
    const job = await insertJob();
    const task = await insertTask(job.id, { maxAttempts: 1 });
    await handleResult(d, failed(await lease(task, "w"), crash(1)));
    expect((await taskRow(task.id)).status).toBe("failed");
    const j = await jobRow(job.id);
    expect([j.status, j.errorCode]).toEqual(["failed", "WE-JOB-008"]);
  });

  test("a failed outcome without an error report counts as a retryable WE-JOB-008", async () => {
    const d = makeDeps();
    const job = await insertJob();
    const task = await insertTask(job.id);
    await handleResult(d, { kind: "outcome", lease: await lease(task, "w"), outcome: "failed", elapsed_ms: 1 });
    const t = await taskRow(task.id);
    expect([t.status, t.attempt, t.failures, t.errorCode, t.errorMessage]).toEqual(["queued", 2, 1, "WE-JOB-008", "task failed without an error report"]);
  });

  test("an aborted (handed back) attempt is requeued at once without counting a failure", async () => {
    const d = makeDeps();
    const job = await insertJob();
    const task = await insertTask(job.id, { failures: 1, attempt: 2 });
    await handleResult(d, { kind: "outcome", lease: await lease(task, "w"), outcome: "aborted", elapsed_ms: 1 });
    const t = await taskRow(task.id);
    expect([t.status, t.attempt, t.failures, t.notBefore, t.publishedAt, t.leaseToken]).toEqual(["queued", 3, 1, null, null, null]);
    expect(d.kicks).toBe(1);
  });

  // Regression: handleOutcome used to read the task BEFORE lockJob and check status/lease on that stale copy,
  // and failTask ignored that its guarded moveTask was refused, failing the job anyway.
  test("a failure report whose lease was revoked while it waited for the job lock does not fail the job", async () => {
    // The lease expired and the reconciler requeued the task (under the job lock) just as the worker's
    // permanent-failure report arrived: the report read the task while it was still leased, then waited for
    // the lock. Once it gets the lock, its lease is gone — it must be refused like any stale report.
    const d = makeDeps();
    const job = await insertJob();
    const task = await insertTask(job.id);
    const sibling = await insertTask(job.id, { seq: 1 });
    const l = await lease(task, "w-slow");
    const holder = await openDatabase({ url: tdb.url, dataDir: "", maxConnections: 1 });
    extraDatabases.push(holder);

    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const reconciler = holder.db.transaction(async (tx) => {
      await lockJob(tx, job.id);
      locked();
      await released;
      // What the reconciler's failLeased does for an expired lease: requeue the attempt.
      const t = (await tx.select().from(tasks).where(eq(tasks.id, task.id)))[0]!;
      await moveTask(tx, t, "queued", { leaseToken: l.token, from: ["leased"] }, { attempt: 2, failures: 1, publishedAt: null });
    });
    await isLocked;
    const report = handleResult(d, failed(l, { class: "permanent", code: "WE-JOB-007", message: "unsupported source" }));
    // Wait until the report's transaction is blocked on the job row lock.
    await until(async () => {
      const [r] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`));
      return Number(r!.n) > 0;
    }, "the report to wait for the job lock");
    release();
    await reconciler;
    await report;

    const t = await taskRow(task.id);
    expect([t.status, t.attempt]).toEqual(["queued", 2]);
    expect((await jobRow(job.id)).status).toBe("processing");
    expect((await taskRow(sibling.id)).status).toBe("queued");
  });
});

// ---------------------------------------------------------------------------------------------------------
// (f) cancel and retry
// ---------------------------------------------------------------------------------------------------------

describe("cancelJob", () => {
  test("a running job → cancelled, open tasks cancelled, finished ones kept, workers told; a second cancel → WE-JOB-005", async () => {
    const d = makeDeps();
    const job = await insertJob({ status: "processing" });
    const done = await insertTask(job.id, { seq: 0, status: "completed", progress: 100 });
    const running = await insertTask(job.id, { seq: 1 });
    const queued = await insertTask(job.id, { seq: 2 });
    const runLease = await lease(running, "w-1");
    const cancelsBefore = cancels.length;

    const row = await cancelJob(d, job.id);
    expect(row.status).toBe("cancelled");
    expect(row.finishedAt).toBeInstanceOf(Date);
    expect((await jobRow(job.id)).status).toBe("cancelled");
    expect((await taskRow(done.id)).status).toBe("completed");
    const r = await taskRow(running.id);
    expect([r.status, r.leaseToken, r.leaseWorkerId, r.errorMessage]).toEqual(["cancelled", null, null, "job cancelled"]);
    expect((await taskRow(queued.id)).status).toBe("cancelled");
    const ev = await eventsOf(job.id);
    expect(ev.map((e) => e.toStatus).filter((s) => s !== "task:leased")).toEqual(["cancelled", "task:cancelled", "task:cancelled"]);
    expect(ev.find((e) => e.toStatus === "cancelled")!.detail).toEqual({ by: "api" });
    await until(() => cancels.length > cancelsBefore, "job.cancel event");
    expect(cancels.slice(cancelsBefore)).toEqual([{ job_id: job.id, reason: "job cancelled" }]);
    expect(d.ended).toEqual([{ jobId: job.id, status: "cancelled" }]);

    const e = await expectAppError(cancelJob(d, job.id), "WE-JOB-005", /already cancelled/);
    expect(e.status).toBe(409);
    expect((await eventsOf(job.id)).length).toBe(ev.length);

    // The worker that was running finishes anyway: its report is refused.
    await handleResult(d, completed(runLease));
    expect((await taskRow(running.id)).status).toBe("cancelled");
    expect(d.advanced).toEqual([]);
  });

  test("cancel of a completed job → WE-JOB-006; of a failed job → WE-JOB-006; of an unknown job → WE-JOB-004", async () => {
    const d = makeDeps();
    const completedJob = await insertJob({ status: "completed" });
    const before = await jobRow(completedJob.id);
    const e = await expectAppError(cancelJob(d, completedJob.id), "WE-JOB-006", /already completed/);
    expect(e.status).toBe(409);
    expect(await jobRow(completedJob.id)).toEqual(before);
    const failedJob = await insertJob({ status: "failed" });
    await expectAppError(cancelJob(d, failedJob.id), "WE-JOB-006", /already ended \(failed\)/);
    await expectAppError(cancelJob(d, crypto.randomUUID()), "WE-JOB-004");
    expect(d.ended).toEqual([]);
  });

  test("a queued job can be cancelled; then its analyze task cannot be claimed", async () => {
    const d = makeDeps();
    const { job } = await createJob(db, { source_url: "https://example.com/x.mp4", profiles: ["360p_h264"] }, { storage: "storage-fs" });
    await cancelJob(d, job.id);
    const [analyze] = await tasksOf(job.id);
    expect(analyze!.status).toBe("cancelled");
    expect((await claimTask(db, { task_id: analyze!.id, attempt: 1, worker_id: "w" }, LEASE_TTL)).granted).toBe(false);
  });
});

describe("retryJob", () => {
  test("a failed job: failed and cancelled tasks requeued with attempt+1 and a fresh failure budget; completed tasks untouched", async () => {
    const d = makeDeps();
    const job = await insertJob({ status: "failed", errorCode: "WE-JOB-008", errorMessage: "video task failed 3 times", errorDetails: { x: 1 } });
    const analyze = await insertTask(job.id, { type: "analyze", status: "completed", progress: 100 });
    const ok = await insertTask(job.id, { seq: 0, status: "completed", progress: 100, result: { parts: [] } });
    const bad = await insertTask(job.id, { seq: 1, status: "failed", attempt: 3, failures: 3, errorCode: "WE-JOB-008", errorMessage: "killed", publishedAt: new Date(), notBefore: new Date(Date.now() + 60_000) });
    const cancelled = await insertTask(job.id, { type: "audio", seq: 0, status: "cancelled", attempt: 1, errorMessage: "job failed", publishedAt: new Date() });

    const row = await retryJob(d, job.id);
    expect(row.status).toBe("processing"); // analyze is done: back to processing
    expect([row.errorCode, row.errorMessage, row.errorDetails, row.finishedAt]).toEqual([null, null, null, null]);
    expect(d.kicks).toBe(1);

    expect(await taskRow(analyze.id)).toEqual(analyze);
    expect(await taskRow(ok.id)).toEqual(ok);
    const b = await taskRow(bad.id);
    expect([b.status, b.attempt, b.failures, b.publishedAt, b.notBefore, b.errorCode, b.errorMessage, b.progress, b.finishedAt]).toEqual([
      "queued",
      4,
      0,
      null,
      null,
      null,
      null,
      0,
      null,
    ]);
    const c = await taskRow(cancelled.id);
    expect([c.status, c.attempt, c.failures, c.publishedAt, c.errorMessage]).toEqual(["queued", 2, 0, null, null]);
    const ev = await eventsOf(job.id);
    expect(ev.map((e) => e.toStatus)).toEqual(["processing", "task:queued", "task:queued"]);
    expect(ev[0]!.detail).toEqual({ by: "api", action: "retry", progress: 0 });

    // The requeued attempts can be leased (the previous attempt numbers cannot).
    expect((await claimTask(db, { task_id: bad.id, attempt: 3, worker_id: "w" }, LEASE_TTL)).granted).toBe(false);
    expect((await claimTask(db, { task_id: bad.id, attempt: 4, worker_id: "w" }, LEASE_TTL)).granted).toBe(true);
  });

  test("a job that failed before analysis finished goes back to queued", async () => {
    const d = makeDeps();
    const job = await insertJob({ status: "failed" });
    const analyze = await insertTask(job.id, { type: "analyze", status: "failed", failures: 3, attempt: 3 });
    const row = await retryJob(d, job.id);
    expect(row.status).toBe("queued");
    const a = await taskRow(analyze.id);
    expect([a.status, a.attempt, a.failures]).toEqual(["queued", 4, 0]);
  });

  test("only a failed or cancelled job can be retried", async () => {
    const d = makeDeps();
    await expectAppError(retryJob(d, (await insertJob({ status: "processing" })).id), "WE-JOB-001", /only a failed or cancelled job can be retried/);
    await expectAppError(retryJob(d, (await insertJob({ status: "completed" })).id), "WE-JOB-006");
    await expectAppError(retryJob(d, crypto.randomUUID()), "WE-JOB-004");
    expect(d.kicks).toBe(0);
    // A cancelled job resumes like a failed one (here: nothing analyzed yet, so from the start).
    expect((await retryJob(d, (await insertJob({ status: "cancelled" })).id)).status).toBe("queued");
  });

  // Regression: retryJob used to move an analyzed job to "processing" even when only the package task was left;
  // afterPackage's move packaging → completed was then refused and the job stayed "processing" forever.
  test("a job that failed while packaging completes after a retry (real pipeline)", async () => {
    const d = makeDeps(db, createAdvance());
    const job = await insertJob({ status: "failed", errorCode: "WE-JOB-008" });
    await insertTask(job.id, {
      type: "analyze",
      status: "completed",
      result: { duration_s: 10, size_bytes: null, bit_rate: null, format: "mpegts", video: { codec: "h264", width: 640, height: 360, fps: 25, frames: 250, rotation: 0, sar: 1, pix_fmt: null, profile: null }, audio: null, keyframes: [{ pts: 0, frame: 0 }] },
    });
    await insertTask(job.id, { seq: 0, status: "completed" });
    const pkg = await insertTask(job.id, { type: "package", status: "failed", failures: 3, attempt: 3 });
    await retryJob(d, job.id);
    const l = await lease(await taskRow(pkg.id), "w");
    await handleResult(d, completed(l, { outputs: [] }));
    expect((await taskRow(pkg.id)).status).toBe("completed");
    expect((await jobRow(job.id)).status).toBe("completed");
  });
});

// ---------------------------------------------------------------------------------------------------------
// (g) publishing queued tasks (its own database and bus: publishReady looks at every job)
// ---------------------------------------------------------------------------------------------------------

describe("publishReady", () => {
  let pdb: TestDatabase;
  let pbus: MemoryBus;
  beforeAll(async () => {
    pdb = await createTestDatabase();
    pbus = new MemoryBus({ presenceTtlMs: 15_000 });
    await pbus.ensureQueues(queueSpecs());
  });
  afterAll(async () => {
    await pbus?.close();
    await pdb?.drop();
  });

  test("publishes queued, unpublished, due tasks to their pool's queue with msgId task:<id>:<attempt>, once", async () => {
    const x = pdb.database.db;
    const ins = async (jobId: string, over: Partial<TaskInsert>) => (await x.insert(tasks).values({ jobId, type: "video", pool: "cpu", ...over }).returning())[0]!;
    const [j1] = await x.insert(jobs).values({ sourceUrl: "https://e.com/a.mp4", profiles: ["360p_h264"], status: "processing", priority: 0 }).returning();
    const [j2] = await x.insert(jobs).values({ sourceUrl: "https://e.com/b.mp4", profiles: ["360p_h264"], status: "processing", priority: 5 }).returning();
    const a0 = await ins(j1!.id, { seq: 0 });
    const a1 = await ins(j1!.id, { seq: 1 });
    const later = await ins(j1!.id, { type: "audio", seq: 0, notBefore: sql`now() + interval '1 hour'` as never });
    const gpu = await ins(j1!.id, { seq: 2, pool: "nvidia", attempt: 2 });
    const leased = await ins(j1!.id, { seq: 3, status: "leased", leaseToken: "t" });
    const already = await ins(j1!.id, { seq: 4, publishedAt: new Date() });
    const done = await ins(j1!.id, { seq: 5, status: "completed" });
    const urgent = await ins(j2!.id, { seq: 0 });

    const got: Record<string, Array<BusMessage<TaskDelivery>>> = { cpu: [], nvidia: [] };
    const consumers = (["cpu", "nvidia"] as const).map((pool) =>
      pbus.consume<TaskDelivery>(workQueue(pool), { slots: new Slots(20) }, async (m) => {
        got[pool]!.push(m);
        await m.ack();
      }),
    );
    try {
      expect(await publishReady(x, pbus, logger)).toBe(4);
      await until(() => got.cpu!.length === 3 && got.nvidia!.length === 1, "4 deliveries");
      // Highest priority first, then by job age and seq.
      expect(got.cpu!.map((m) => [m.msgId, m.data])).toEqual([
        [`task:${urgent.id}:1`, { task_id: urgent.id, job_id: j2!.id, type: "video", attempt: 1 }],
        [`task:${a0.id}:1`, { task_id: a0.id, job_id: j1!.id, type: "video", attempt: 1 }],
        [`task:${a1.id}:1`, { task_id: a1.id, job_id: j1!.id, type: "video", attempt: 1 }],
      ]);
      expect(got.nvidia!.map((m) => [m.msgId, m.data])).toEqual([[`task:${gpu.id}:2`, { task_id: gpu.id, job_id: j1!.id, type: "video", attempt: 2 }]]);

      const published = async (id: string) => (await x.select({ p: tasks.publishedAt }).from(tasks).where(eq(tasks.id, id)))[0]!.p;
      for (const t of [a0, a1, gpu, urgent]) expect(await published(t.id)).toBeInstanceOf(Date);
      for (const t of [later, leased, done]) expect(await published(t.id)).toBeNull();
      expect((await published(already.id))!.getTime()).toBe(already.publishedAt!.getTime());

      // A second pass publishes nothing.
      expect(await publishReady(x, pbus, logger)).toBe(0);
      await Bun.sleep(200);
      expect(got.cpu!.length + got.nvidia!.length).toBe(4);

      // A republication of the same attempt (e.g. the reconciler after a crash between enqueue and the
      // published_at update) is dropped by the bus as a duplicate message id.
      await x.update(tasks).set({ publishedAt: null }).where(eq(tasks.id, a0.id));
      expect(await publishReady(x, pbus, logger)).toBe(1);
      await Bun.sleep(200);
      expect(got.cpu!.length).toBe(3);

      // The backoff elapses: the audio task goes out now, on its own.
      await x.update(tasks).set({ notBefore: sql`now() - interval '1 second'` }).where(eq(tasks.id, later.id));
      expect(await publishReady(x, pbus, logger)).toBe(1);
      await until(() => got.cpu!.length === 4, "the audio delivery");
      expect(got.cpu![3]!.msgId).toBe(`task:${later.id}:1`);
      expect(got.cpu![3]!.data.type).toBe("audio");

      // A new attempt of a task is a new message.
      await x.update(tasks).set({ attempt: 2, publishedAt: null }).where(and(eq(tasks.id, a1.id)));
      expect(await publishReady(x, pbus, logger)).toBe(1);
      await until(() => got.cpu!.length === 5, "the attempt-2 delivery");
      expect(got.cpu![4]!.msgId).toBe(`task:${a1.id}:2`);
      expect(await publishReady(x, pbus, logger)).toBe(0);
    } finally {
      for (const c of consumers) await c.stop();
    }
  });
});
