/**
 * The reconciler's idle back-off (issue 20) against a real PostgreSQL and the in-process bus: while nothing is
 * queued or leased it makes no full pass between its slow safety passes (one indexed query per tick), its named
 * hook `wake()` (called by every kick) ends the back-off at once, and a task committed behind its back (a
 * crashed kernel's unpublished work, no kick) is still found and published on the next tick.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { MemoryBus } from "../../src/bus/memory.ts";
import { queueSpecs } from "../../src/bus/queues.ts";
import { createLogger } from "../../src/core/logger.ts";
import { jobs, tasks } from "../../src/db/schema.ts";
import { Reconciler } from "../../src/kernel/orchestrator/reconciler.ts";
import type { OrchestratorDeps } from "../../src/kernel/orchestrator/results.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { waitFor } from "../helpers/wait.ts";

const TICK_MS = 100;
/** Far longer than the test waits: a full pass seen in between came from a wake or a found task, not the timer. */
const IDLE_MS = 60_000;

let tdb: TestDatabase;
let bus: MemoryBus;
let reconciler: Reconciler;
let fullPasses = 0;

beforeAll(async () => {
  tdb = await createTestDatabase();
  bus = new MemoryBus({ presenceTtlMs: 15_000 });
  await bus.ensureQueues(queueSpecs());
  const deps: OrchestratorDeps = {
    db: tdb.database.db,
    bus,
    logger: createLogger("test", "silent"),
    leaseTtlMs: 60_000,
    kick: () => {},
    advance: async () => {
      throw new Error("not used");
    },
  };
  // syncWorkers runs once per full pass (and only there): it counts them.
  reconciler = new Reconciler({ database: tdb.database, deps, intervalMs: TICK_MS, idleIntervalMs: IDLE_MS, syncWorkers: async () => void fullPasses++ });
  reconciler.start();
  await waitFor(() => fullPasses >= 1, 30_000, "the first full pass");
});

afterAll(async () => {
  await reconciler?.stop();
  await bus?.close();
  await tdb?.drop();
});

describe("reconciler idle back-off", () => {
  test("idle: no full pass between safety passes; wake() makes the next tick one", async () => {
    const before = fullPasses;
    await Bun.sleep(10 * TICK_MS); // an observation window (ten ticks), not a wait: nothing may happen in it
    expect(fullPasses).toBe(before);
    reconciler.wake();
    await waitFor(() => fullPasses > before, 5_000, "a full pass after wake()", 10);
  });

  test("a queued task committed behind its back (no kick) is published on the next tick, not at the safety pass", async () => {
    const db = tdb.database.db;
    const [job] = await db.insert(jobs).values({ sourceUrl: "https://example.com/in.mp4", profiles: ["360p_h264"], options: { storage: "storage-fs" }, status: "processing" }).returning();
    const [task] = await db.insert(tasks).values({ jobId: job!.id, type: "video", seq: 0, pool: "cpu", mediaSeconds: 10 }).returning();
    expect(task!.publishedAt).toBeNull();
    const inserted = performance.now();
    await waitFor(async () => (await db.select({ at: tasks.publishedAt }).from(tasks).where(eq(tasks.id, task!.id)))[0]?.at != null, 10_000, "the task to be published", 20);
    const afterMs = performance.now() - inserted;
    expect(afterMs).toBeLessThan(IDLE_MS);
    console.log(`[reconciler-idle] unpublished task found and published ${afterMs.toFixed(0)} ms after its commit (tick ${TICK_MS} ms, safety pass ${IDLE_MS} ms)`);
  });
});
