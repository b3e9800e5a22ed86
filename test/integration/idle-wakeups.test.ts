/**
 * Idle kernels sleep on LISTEN/NOTIFY instead of polling (issue 20), against a real PostgreSQL (migration
 * 0009's triggers):
 * - the webhook sender of an idle kernel makes no query between its 5 s safety passes, and a delivery
 *   inserted by someone else (plain SQL on another connection, as another kernel would) is sent at once;
 * - the reconciler, while its LISTEN connection is healthy, skips its idle per-second query, and a task
 *   queued behind its back is published on the NOTIFY, long before the next tick;
 * - with the LISTEN connection killed (pg_terminate_backend), the listener reports itself unhealthy, the
 *   reconciler falls back to its per-second check, LISTEN comes back, and nothing is lost.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import postgres from "postgres";
import { MemoryBus } from "../../src/bus/memory.ts";
import { queueSpecs } from "../../src/bus/queues.ts";
import { createLogger } from "../../src/core/logger.ts";
import type { Listener } from "../../src/db/notify.ts";
import { jobs, tasks } from "../../src/db/schema.ts";
import { TASKS_CHANNEL } from "../../src/kernel/orchestrator/index.ts";
import { Reconciler } from "../../src/kernel/orchestrator/reconciler.ts";
import type { OrchestratorDeps } from "../../src/kernel/orchestrator/results.ts";
import { webhookSenderOf } from "../../src/kernel/webhooks/sender.ts";
import { withAuth } from "../helpers/auth.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

describe("webhook sender: idle without queries, woken by NOTIFY", () => {
  let k: TestKernel;
  let other: postgres.Sql;
  const hits: number[] = [];
  const rx = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: async (req) => {
      hits.push(Date.now());
      await req.text();
      return new Response("ok");
    },
  });

  beforeAll(async () => {
    k = await startTestKernel();
    other = postgres(k.db.url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await other?.end({ timeout: 1 });
    await k?.stop();
    rx.stop(true);
  });

  test("an idle sender makes no query for seconds; a delivery inserted by another connection is sent at once", async () => {
    const res = await k.fetch("/v1/webhooks", withAuth({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ url: `http://127.0.0.1:${rx.port}/hook`, event_types: ["*"] }) }));
    expect(res.status).toBe(201);
    const hook = (await res.json()) as { id: string };
    const sender = webhookSenderOf(k.handle.ctx)!;
    // Settle: the webhook's creation kicked the sender; it then looks ahead once and sleeps.
    let last = sender.queryCount();
    await waitFor(
      async () => {
        await Bun.sleep(1_200);
        const now = sender.queryCount();
        const quiet = now === last;
        last = now;
        return quiet;
      },
      30_000,
      "the sender to go quiet",
    );
    const before = sender.queryCount();
    await Bun.sleep(4_000); // an observation window, not a wait: polling every second would show 4 claims
    const during = sender.queryCount() - before;
    expect(during).toBeLessThanOrEqual(1); // at most one 5 s safety pass
    console.log(`[idle-wakeups] idle sender: ${during} queries in 4 s`);

    const [ev] = await other<{ id: string }[]>`insert into events (type, data) values ('job.created', '{}'::jsonb) returning id`;
    const inserted = Date.now();
    await other`insert into webhook_deliveries (webhook_id, event_id, event_type) values (${hook.id}, ${ev!.id}, 'job.created')`;
    await waitFor(() => hits.length >= 1, 15_000, "the delivery to reach the receiver");
    const latency = hits[0]! - inserted;
    console.log(`[idle-wakeups] delivery inserted behind the kernel's back sent ${latency} ms later (safety pass 5 s)`);
    expect(latency).toBeLessThan(2_500);
  }, 90_000);
});

describe("reconciler: LISTEN/NOTIFY wake-ups and the polling fallback", () => {
  /** Far longer than the test waits: a full pass in between came from a NOTIFY or a found task. */
  const TICK_MS = 3_000;
  const IDLE_MS = 60_000;
  let tdb: TestDatabase;
  let bus: MemoryBus;
  let reconciler: Reconciler;
  let listener: Listener;
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
    reconciler = new Reconciler({
      database: tdb.database,
      deps,
      intervalMs: TICK_MS,
      idleIntervalMs: IDLE_MS,
      syncWorkers: async () => void fullPasses++,
      listening: () => listener?.healthy() ?? false,
    });
    listener = await tdb.database.listen!(TASKS_CHANNEL, () => reconciler.notified());
    expect(listener.healthy()).toBe(true);
    reconciler.start();
    await waitFor(() => fullPasses >= 1, 30_000, "the first full pass");
  });

  afterAll(async () => {
    await listener?.close();
    await reconciler?.stop();
    await bus?.close();
    await tdb?.drop();
  });

  async function queueTask(): Promise<string> {
    const db = tdb.database.db;
    const [job] = await db.insert(jobs).values({ sourceUrl: "https://example.com/in.mp4", profiles: ["360p_h264"], options: { storage: "storage-fs" }, status: "processing" }).returning();
    const [task] = await db.insert(tasks).values({ jobId: job!.id, type: "video", seq: 0, pool: "cpu", mediaSeconds: 10 }).returning();
    return task!.id;
  }
  async function published(id: string): Promise<boolean> {
    return (await tdb.database.db.select({ at: tasks.publishedAt }).from(tasks).where(eq(tasks.id, id)))[0]?.at != null;
  }
  async function settle(): Promise<void> {
    // Finish the test's task so the reconciler backs off again (nothing queued or leased).
    await tdb.database.db.update(tasks).set({ status: "completed" });
    const n = fullPasses;
    reconciler.wake();
    await waitFor(() => fullPasses > n, 15_000, "the full pass after wake()");
    await Bun.sleep(500); // that pass ends (milliseconds) and sets the back-off: a NOTIFY then runs one at once
  }

  test("with LISTEN healthy, a task queued behind its back is published on the NOTIFY, before the next tick", async () => {
    const id = await queueTask();
    const inserted = performance.now();
    await waitFor(() => published(id), 10_000, "the task to be published", 20);
    const ms = performance.now() - inserted;
    console.log(`[idle-wakeups] queued task published ${ms.toFixed(0)} ms after its commit via NOTIFY (tick ${TICK_MS} ms)`);
    expect(ms).toBeLessThan(TICK_MS - 500);
    await settle();
  }, 60_000);

  test("the LISTEN connection killed: unhealthy, the fallback still publishes, LISTEN comes back", async () => {
    const admin = postgres(tdb.url, { max: 1, onnotice: () => {} });
    try {
      const killed = await admin<{ pid: number }[]>`
        select pg_terminate_backend(pid) as ok, pid from pg_stat_activity
        where datname = current_database() and query ilike 'listen %' and pid <> pg_backend_pid()`;
      expect(killed.length).toBe(1);
      await waitFor(() => !listener.healthy(), 10_000, "the listener to notice its connection is gone");
      const id = await queueTask();
      await waitFor(() => published(id), 15_000, "the task to be published without LISTEN");
      await waitFor(() => listener.healthy(), 15_000, "LISTEN to be re-established");
      await settle();
      // And NOTIFY works again on the new connection.
      const id2 = await queueTask();
      const t = performance.now();
      await waitFor(() => published(id2), 10_000, "the task queued after the reconnect to be published");
      expect(performance.now() - t).toBeLessThan(TICK_MS - 500);
    } finally {
      await admin.end({ timeout: 1 });
    }
  }, 90_000);
});
