/**
 * Live task failover in the kernel's orchestration (real PostgreSQL, in-process bus, no worker processes):
 * a live lease is short (4 s) and renewed by the live TTL; a live attempt whose worker stopped reporting is
 * re-queued by the reconciler for IMMEDIATE re-delivery as the next attempt (= the next epoch), which
 * another worker can claim; the progress `live` object reaches the telemetry hook only when it matches the
 * contract; and a live task that fails quickly every time still ends, with its last error, after
 * LIVE_MAX_ATTEMPTS, while one that ran a while before failing starts its count again.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { MemoryBus } from "../../src/bus/memory.ts";
import { queueSpecs } from "../../src/bus/queues.ts";
import { createLogger } from "../../src/core/logger.ts";
import type { Lease, TaskError } from "../../src/core/messages.ts";
import type { LiveParams } from "../../src/core/task-contracts.ts";
import { LIVE_MAX_ATTEMPTS } from "../../src/core/topology.ts";
import type { Db } from "../../src/db/client.ts";
import { rowsOf } from "../../src/db/exec.ts";
import { jobs, tasks, workers } from "../../src/db/schema.ts";
import { claimTask } from "../../src/kernel/orchestrator/claims.ts";
import { Reconciler } from "../../src/kernel/orchestrator/reconciler.ts";
import { handleResult, type LiveProgressUpdate, type OrchestratorDeps } from "../../src/kernel/orchestrator/results.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const logger = createLogger("test", "silent");
const LEASE_TTL = 30_000;
const PARAMS: LiveParams = {
  stream_id: "st1",
  session_id: "ss1",
  source_url: "http://127.0.0.1:8080/internal/live/ss1/source.flv",
  push_url: "http://127.0.0.1:8080/internal/live/ss1",
  token: "t",
  segment_seconds: 2,
  rungs: [{ name: "360p", width: 640, height: 360, video_kbps: 700 }],
  audio_kbps: 128,
};

let tdb: TestDatabase;
let db: Db;
let bus: MemoryBus;
const telemetry: LiveProgressUpdate[] = [];

beforeAll(async () => {
  tdb = await createTestDatabase();
  db = tdb.database.db;
  bus = new MemoryBus({ presenceTtlMs: 15_000 });
  await bus.ensureQueues(queueSpecs());
});

afterAll(async () => {
  await bus?.close();
  await tdb?.drop();
});

const deps: OrchestratorDeps = {
  get db() {
    return db;
  },
  get bus() {
    return bus;
  },
  logger,
  leaseTtlMs: LEASE_TTL,
  advance: async () => ({}),
  kick() {},
  onLiveProgress: (update) => telemetry.push(update),
};

async function liveTask(over: Partial<typeof tasks.$inferInsert> = {}) {
  const [job] = await db.insert(jobs).values({ sourceUrl: "live:st1", profiles: [], options: { storage: "storage-fs" }, status: "processing" }).returning();
  const [task] = await db
    .insert(tasks)
    .values({ jobId: job!.id, type: "live", seq: 0, pool: "live", params: PARAMS, mediaSeconds: 0, maxAttempts: LIVE_MAX_ATTEMPTS, ...over })
    .returning();
  return { job: job!, task: task! };
}

const taskRow = async (id: string) => (await db.select().from(tasks).where(eq(tasks.id, id)))[0]!;
const jobRow = async (id: string) => (await db.select().from(jobs).where(eq(jobs.id, id)))[0]!;

async function msFromNow(taskId: string, column: "not_before" | "lease_expires_at"): Promise<number> {
  const [row] = rowsOf<{ ms: number }>(await db.execute(sql`select (extract(epoch from (${sql.raw(column)} - now())) * 1000)::float8 as ms from tasks where id = ${taskId}`));
  return Number(row!.ms);
}

async function claim(task: { id: string; attempt: number }, workerId: string): Promise<{ lease: Lease; ttl: number }> {
  const reply = await claimTask(db, { task_id: task.id, attempt: task.attempt, worker_id: workerId }, LEASE_TTL);
  if (!reply.granted) throw new Error(`claim refused: ${reply.reason}`);
  return { lease: reply.lease, ttl: reply.lease_ttl_ms };
}

const crash: TaskError = { class: "retryable", code: "WE-JOB-008", message: "live transcode (epoch 1): FFmpeg was killed by SIGSEGV" };

describe("live leases", () => {
  test("a live task is leased for 4 s and progress renews it by 4 s; a video task keeps LEASE_TTL", async () => {
    const { task } = await liveTask();
    const { lease, ttl } = await claim(task, "w1");
    expect(ttl).toBe(4_000);
    expect(await msFromNow(task.id, "lease_expires_at")).toBeLessThanOrEqual(4_000);
    expect(await msFromNow(task.id, "lease_expires_at")).toBeGreaterThan(2_000);

    const live = { speed: 1.01, fps: 30, dropped_frames: 0, segments: 3, epoch: 1 };
    await handleResult(deps, { kind: "progress", lease, percent: 0, speed: 1.01, live });
    expect(await msFromNow(task.id, "lease_expires_at")).toBeLessThanOrEqual(4_000);
    expect(await msFromNow(task.id, "lease_expires_at")).toBeGreaterThan(2_000);
    expect(telemetry.at(-1)).toEqual({ task_id: task.id, job_id: task.jobId, attempt: 1, worker_id: "w1", live });

    // Telemetry that breaks the contract renews the lease but never reaches the hook.
    const before = telemetry.length;
    await handleResult(deps, { kind: "progress", lease, percent: 0, live: { ...live, epoch: 0 } });
    expect(telemetry.length).toBe(before);

    const { job } = await liveTask();
    const [video] = await db.insert(tasks).values({ jobId: job.id, type: "video", seq: 1, pool: "cpu", mediaSeconds: 10 }).returning();
    const videoLease = await claim(video!, "w1");
    expect(videoLease.ttl).toBe(LEASE_TTL);
    await handleResult(deps, { kind: "progress", lease: videoLease.lease, percent: 10 });
    expect(await msFromNow(video!.id, "lease_expires_at")).toBeGreaterThan(25_000);
  });

  test("the worker stops reporting: the reconciler re-queues the live task at once as the next epoch and another worker claims it", async () => {
    const { task } = await liveTask();
    await claim(task, "w1");
    await db.update(tasks).set({ leaseExpiresAt: sql`now() - interval '1 millisecond'` }).where(eq(tasks.id, task.id));
    const reconciler = new Reconciler({ database: tdb.database, deps, syncWorkers: async () => {} });
    try {
      await reconciler.tick();
    } finally {
      await reconciler.stop();
    }
    const requeued = await taskRow(task.id);
    expect({ status: requeued.status, attempt: requeued.attempt, failures: requeued.failures, code: requeued.errorCode }).toEqual({ status: "queued", attempt: 2, failures: 1, code: "WE-WRK-003" });
    // No backoff for the first live failure: the next worker may start it now.
    expect(await msFromNow(task.id, "not_before")).toBeLessThanOrEqual(0);
    const second = await claim(requeued, "w2");
    expect(second.lease).toMatchObject({ attempt: 2, worker_id: "w2" });
  });
});

describe("live tasks waiting for a live worker", () => {
  test("the job says that no worker has live slots", async () => {
    const { job } = await liveTask();
    await db.insert(workers).values({ id: "cpu-only", hostname: "h", version: "test", pools: ["cpu"], slots: 1, status: "healthy" }).onConflictDoNothing();
    const reconciler = new Reconciler({ database: tdb.database, deps, syncWorkers: async () => {} });
    try {
      await reconciler.tick();
    } finally {
      await reconciler.stop();
    }
    expect((await jobRow(job.id)).statusReason).toBe(
      "waiting: no healthy worker has live slots (pool live: a worker started with LIVE_SLOTS=1 or more; the standalone kernel's embedded worker has one) (workers offer: cpu)",
    );
  });
});

describe("live attempts", () => {
  test("a live task that fails at once every time fails its job after LIVE_MAX_ATTEMPTS, with the last error", async () => {
    const { job, task } = await liveTask();
    let attempt = task.attempt;
    for (let n = 1; n <= LIVE_MAX_ATTEMPTS; n++) {
      const { lease } = await claim({ id: task.id, attempt }, `w${n}`);
      await handleResult(deps, { kind: "outcome", lease, outcome: "failed", error: crash, elapsed_ms: 500 });
      const row = await taskRow(task.id);
      if (n < LIVE_MAX_ATTEMPTS) {
        expect({ status: row.status, failures: row.failures }).toEqual({ status: "queued", failures: n });
        // First retry at once, then 1 s, 2 s, 4 s.
        const delay = await msFromNow(task.id, "not_before");
        expect(delay).toBeLessThanOrEqual(n === 1 ? 0 : 1000 * 2 ** (n - 2));
        expect(delay).toBeGreaterThan(n === 1 ? -5_000 : 1000 * 2 ** (n - 2) - 2_000);
        attempt = row.attempt;
        // Skip the wait (the delay is checked above): the next attempt is claimable once not_before passed.
        await db.update(tasks).set({ notBefore: sql`now()` }).where(eq(tasks.id, task.id));
      } else {
        expect(row.status).toBe("failed");
      }
    }
    const failed = await jobRow(job.id);
    expect(failed.status).toBe("failed");
    expect(failed.errorMessage).toBe(`live task failed ${LIVE_MAX_ATTEMPTS} times; last error: ${crash.message}`);
  });

  test("a failure after the stream ran a minute counts as the first again (worker deaths over a long stream never exhaust the attempts)", async () => {
    const { task } = await liveTask({ failures: LIVE_MAX_ATTEMPTS - 1 });
    const { lease } = await claim(task, "w1");
    await db.update(tasks).set({ startedAt: sql`now() - interval '61 seconds'` }).where(eq(tasks.id, task.id));
    await handleResult(deps, { kind: "outcome", lease, outcome: "failed", error: crash, elapsed_ms: 61_000 });
    const row = await taskRow(task.id);
    expect({ status: row.status, attempt: row.attempt, failures: row.failures }).toEqual({ status: "queued", attempt: 2, failures: 1 });
  });
});
