/**
 * The outbox pass (src/kernel/orchestrator/dispatch.ts, issue 20): every ready task published at once in
 * priority order, published_at marked for the pass in one statement — and a task whose publication failed
 * stays unpublished for the next pass. Real PostgreSQL and the in-process bus.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { MemoryBus } from "../../src/bus/memory.ts";
import { queueSpecs } from "../../src/bus/queues.ts";
import { Slots } from "../../src/bus/types.ts";
import { createLogger } from "../../src/core/logger.ts";
import type { TaskDelivery } from "../../src/core/messages.ts";
import { workQueue } from "../../src/core/topology.ts";
import { jobs, tasks } from "../../src/db/schema.ts";
import { publishReady } from "../../src/kernel/orchestrator/dispatch.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { waitFor } from "../helpers/wait.ts";

let t: TestDatabase;
let bus: MemoryBus;

beforeAll(async () => {
  t = await createTestDatabase();
  bus = new MemoryBus({ presenceTtlMs: 15_000 });
  await bus.ensureQueues(queueSpecs());
});
afterAll(async () => {
  await bus?.close();
  await t?.drop();
});

test("one pass: all ready tasks published in priority order and marked; a failed publication stays unpublished", async () => {
  const db = t.database.db;
  const ids: Record<string, string> = {};
  for (const [name, priority, pool] of [["low", -5, "cpu"], ["high", 10, "cpu"], ["mid", 0, "cpu"], ["nowhere", 50, "no-such-pool"]] as const) {
    const [job] = await db.insert(jobs).values({ sourceUrl: `outbox/${name}.mp4`, profiles: ["360p_h264"], priority }).returning();
    const [task] = await db.insert(tasks).values({ jobId: job!.id, type: "analyze", pool }).returning();
    ids[name] = task!.id;
  }
  const warnings: string[] = [];
  const logger = createLogger("kernel", "warn", { write: (line: string) => void warnings.push(line) });

  expect(await publishReady(db, bus, logger)).toBe(3);
  const published = async (name: string) => (await db.select({ at: tasks.publishedAt }).from(tasks).where(eq(tasks.id, ids[name]!)))[0]!.at;
  for (const name of ["low", "high", "mid"]) expect(await published(name)).toBeInstanceOf(Date);
  expect(await published("nowhere")).toBeNull();
  expect(warnings.some((l) => l.includes("could not publish task") && l.includes(ids.nowhere!))).toBe(true);

  // Delivered in the pass's order: highest priority first.
  const got: string[] = [];
  const consumer = bus.consume<TaskDelivery>(workQueue("cpu"), { slots: new Slots(1) }, async (msg) => {
    got.push(msg.data.task_id);
    await msg.ack();
  });
  await waitFor(() => got.length === 3, 10_000, "three deliveries");
  await consumer.stop();
  expect(got).toEqual([ids.high!, ids.mid!, ids.low!]);

  // The next pass has nothing new for the bus but the one that failed (it fails again: its queue does not exist).
  expect(await publishReady(db, bus, logger)).toBe(0);
  expect(await published("nowhere")).toBeNull();
});
