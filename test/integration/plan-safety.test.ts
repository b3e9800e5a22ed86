/**
 * The kernel's side of a bad analysis (issue 12, item 10), against a real PostgreSQL: the result handler
 * never throws on what a worker reported. An analysis that cannot be planned (repeated timestamps, no
 * video) fails the job at once with WE-JOB-007 naming the cause; a pipeline step that throws for any other
 * reason fails the job with WE-JOB-008 instead of being redelivered until the deliveries run out; only an
 * unavailable database still rolls back for a redelivery. And a long source never becomes more than
 * MAX_TASKS_PER_JOB tasks: its chunks get longer instead. The whole file runs on PostgreSQL and on PGlite
 * (standalone mode's embedded database: the failed step is rolled back to a savepoint on both).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asc, eq } from "drizzle-orm";
import { MemoryBus } from "../../src/bus/memory.ts";
import { createLogger } from "../../src/core/logger.ts";
import type { Lease, TaskOutcome } from "../../src/core/messages.ts";
import type { VideoParams } from "../../src/media/task-params.ts";
import { queueSpecs } from "../../src/bus/queues.ts";
import { type Database, type Db, openDatabase } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { jobs, tasks } from "../../src/db/schema.ts";
import { createJob } from "../../src/kernel/jobs/create.ts";
import { claimTask } from "../../src/kernel/orchestrator/claims.ts";
import { handleResult, type OrchestratorDeps } from "../../src/kernel/orchestrator/results.ts";
import { createAdvance, DEFAULT_PIPELINE } from "../../src/kernel/pipeline/advance.ts";
import type { SourceSummary } from "../../src/media/source.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

/** The database of the describe block running now (each opens its own: PostgreSQL, then PGlite). */
let current: Db;
let bus: MemoryBus;

beforeAll(async () => {
  bus = new MemoryBus({ presenceTtlMs: 15_000 });
  await bus.ensureQueues(queueSpecs());
});
afterAll(async () => {
  await bus?.close();
});

const db = (): Db => current;

function deps(advance: OrchestratorDeps["advance"]): OrchestratorDeps {
  return { db: db(), bus, logger: createLogger("test", "silent"), leaseTtlMs: 60_000, advance, kick() {} };
}

/** A source of `seconds` at 10 fps with a keyframe every second. */
function source(seconds: number, over: Partial<SourceSummary> = {}): SourceSummary {
  return {
    duration_s: seconds,
    size_bytes: 1_000_000,
    bit_rate: 100_000,
    format: "mpegts",
    video: { codec: "h264", width: 320, height: 240, fps: 10, frames: seconds * 10, rotation: 0, sar: 1, pix_fmt: "yuv420p", profile: "High" },
    audio: { codec: "aac", channels: 2, sample_rate: 48000, duration_s: seconds },
    keyframes: Array.from({ length: seconds }, (_, i) => ({ pts: i, frame: i * 10 })),
    ...over,
  };
}

/** A new job whose analyze task a worker reports completed with `result`; returns the job id and that report. */
async function analyzeReport(result: unknown): Promise<{ jobId: string; outcome: TaskOutcome; lease: Lease }> {
  const { job } = await createJob(db(), { source_url: "https://example.com/src.ts", profiles: ["360p_h264"] }, { storage: "storage-fs" });
  const [analyze] = await db().select().from(tasks).where(eq(tasks.jobId, job.id));
  const reply = await claimTask(db(), { task_id: analyze!.id, attempt: analyze!.attempt, worker_id: "w-1" }, 60_000);
  if (!reply.granted) throw new Error(`claim refused: ${reply.reason}`);
  return { jobId: job.id, lease: reply.lease, outcome: { kind: "outcome", lease: reply.lease, outcome: "completed", result: result as Record<string, unknown>, elapsed_ms: 100 } };
}

const jobOf = async (id: string) => (await db().select().from(jobs).where(eq(jobs.id, id)))[0]!;
const tasksOf = (id: string) => db().select().from(tasks).where(eq(tasks.jobId, id)).orderBy(asc(tasks.type), asc(tasks.seq));

for (const kind of ["PostgreSQL", "PGlite"] as const) {
  describe(kind, () => {
    let tdb: TestDatabase | undefined;
    let embedded: Database | undefined;
    let dir = "";
    beforeAll(async () => {
      if (kind === "PGlite") {
        dir = mkdtempSync(join(tmpdir(), "we-plan-safety-"));
        embedded = await openDatabase({ dataDir: dir });
        await migrate(embedded.db);
        current = embedded.db;
      } else {
        tdb = await createTestDatabase();
        current = tdb.database.db;
      }
    }, 60_000);
    afterAll(async () => {
      await tdb?.drop();
      await embedded?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    describe("an analysis that cannot be planned fails the job at once (WE-JOB-007)", () => {
      test("repeated timestamps (one segment concatenated 300 times): the handler returns, the job names the cause", async () => {
        // What the keyframe index of such a file looks like: 300 keyframes on the same pts and frame.
        const bad = source(300, { keyframes: Array.from({ length: 300 }, () => ({ pts: 1.4, frame: 0 })) });
        const { jobId, outcome } = await analyzeReport(bad);
        await handleResult(deps(createAdvance()), outcome);
        const job = await jobOf(jobId);
        expect({ status: job.status, code: job.errorCode }).toEqual({ status: "failed", code: "WE-JOB-007" });
        expect(job.errorMessage).toMatch(/^unsupported source: the video timestamps repeat: the keyframe index lists frame 0 twice \(pts 1\.4\)/);
        expect((await tasksOf(jobId)).map((t) => [t.type, t.status])).toEqual([["analyze", "completed"]]);
      });

      test.each([
        ["no video", source(10, { video: undefined as never }), /^unsupported source: the analysis found no video stream$/],
        ["a zero frame rate", source(10, { video: { ...source(10).video, fps: 0 } }), /no usable video fps \(0\)/],
        ["no keyframe index", source(10, { keyframes: "x" as never }), /no usable keyframe index/],
        ["an empty result", null, /^unsupported source: the analysis gave no usable duration \(undefined\)$/],
      ])("%s", async (_name, result, message) => {
        const { jobId, outcome } = await analyzeReport(result);
        await handleResult(deps(createAdvance()), outcome);
        const job = await jobOf(jobId);
        expect({ status: job.status, code: job.errorCode }).toEqual({ status: "failed", code: "WE-JOB-007" });
        expect(job.errorMessage).toMatch(message);
      });
    });

    describe("a pipeline step that throws", () => {
      test("anything but the database: the job fails with WE-JOB-008 and the reason, nothing is redelivered", async () => {
        const { jobId, outcome } = await analyzeReport(source(10));
        await handleResult(
          deps(async () => {
            throw new Error("boom in the planner");
          }),
          outcome,
        );
        const job = await jobOf(jobId);
        expect({ status: job.status, code: job.errorCode, message: job.errorMessage }).toEqual({
          status: "failed",
          code: "WE-JOB-008",
          message: "the kernel could not continue the job after its analyze task: boom in the planner",
        });
        // The report itself was taken: the task stays completed with its result.
        expect((await tasksOf(jobId)).map((t) => t.status)).toEqual(["completed"]);
      });

      test("what the step wrote before it threw is rolled back (savepoint)", async () => {
        const { jobId, outcome } = await analyzeReport(source(10));
        await handleResult(
          deps(async (x, job) => {
            await x.update(jobs).set({ probe: { written: true } }).where(eq(jobs.id, job.id));
            throw new TypeError("cannot read properties of undefined");
          }),
          outcome,
        );
        const job = await jobOf(jobId);
        expect(job.status).toBe("failed");
        expect(job.probe).toBeNull();
      });

      const transient: Array<[string, Error]> = [
        ["an unavailable database", Object.assign(new Error("connection closed"), { code: "CONNECTION_CLOSED" })],
        ["a serialization failure wrapped by the driver", new Error("query failed", { cause: Object.assign(new Error("could not serialize access"), { code: "40001" }) })],
      ];
      test.each(transient)("%s: the handler throws, nothing is decided, the report can be redelivered", async (_name, error) => {
        const { jobId, outcome } = await analyzeReport(source(10));
        const e = await handleResult(
          deps(async () => {
            throw error;
          }),
          outcome,
        ).catch((x: unknown) => x);
        expect(e).toBe(error);
        expect((await jobOf(jobId)).status).toBe("analyzing");
        expect((await tasksOf(jobId)).map((t) => t.status)).toEqual(["leased"]);
        // The redelivery, with a working step, goes through.
        await handleResult(deps(createAdvance()), outcome);
        expect((await jobOf(jobId)).status).toBe("processing");
      });
    });

    describe("MAX_TASKS_PER_JOB", () => {
      const videoChunks = async (jobId: string) => (await tasksOf(jobId)).filter((t) => t.type === "video").map((t) => (t.params as unknown as VideoParams).chunk);

      test("a 2-hour source with a cap of 20: 20 tasks in all, longer chunks covering every frame once", async () => {
        const long = source(7200);
        const { jobId, outcome } = await analyzeReport(long);
        await handleResult(deps(createAdvance({ ...DEFAULT_PIPELINE, maxTasksPerJob: 20 })), outcome);
        expect((await jobOf(jobId)).status).toBe("processing");
        const all = await tasksOf(jobId);
        // analyze + audio + 17 video now; the package task comes later and is the 20th.
        expect(all.map((t) => t.type).filter((t) => t !== "video")).toEqual(["analyze", "audio"]);
        const chunks = await videoChunks(jobId);
        expect(chunks.length).toBe(17);
        expect(all.length + 1).toBeLessThanOrEqual(20);
        expect(chunks.reduce((n, c) => n + c.frames, 0)).toBe(long.video.frames);
        expect(chunks.every((c, i) => i === 0 || c.start_frame === chunks[i - 1]!.start_frame + chunks[i - 1]!.frames)).toBe(true);
        expect(Math.max(...chunks.map((c) => c.duration_s))).toBeGreaterThan(DEFAULT_PIPELINE.maxChunkS);
      });

      test("the default (200) leaves a 20-minute source as it was: 60 s chunks", async () => {
        const { jobId, outcome } = await analyzeReport(source(1200));
        await handleResult(deps(createAdvance()), outcome);
        const chunks = await videoChunks(jobId);
        expect(chunks.length).toBe(20);
        expect(chunks.every((c) => c.duration_s === 60)).toBe(true);
      });
    });
  });
}
