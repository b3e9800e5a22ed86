/**
 * The submission path made cheap (issue 20): createJob writes the job, its timeline entry, its job.created
 * event with the webhook deliveries and its analyze task in one statement. What it returns must be exactly
 * the row drizzle reads back (every column, with its type), and everything a job needs must exist, on
 * PostgreSQL and on PGlite (standalone mode).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Database, openDatabase } from "../../src/db/client.ts";
import { migrate } from "../../src/db/migrate.ts";
import { events, jobEvents, jobs, tasks, webhookDeliveries, webhooks } from "../../src/db/schema.ts";
import { createJob } from "../../src/kernel/jobs/create.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function postgresDb(): Promise<Database> {
  const t: TestDatabase = await createTestDatabase();
  cleanups.push(() => t.drop());
  return t.database;
}

async function pgliteDb(): Promise<Database> {
  const dir = mkdtempSync(join(tmpdir(), "webencode-submit-pglite-"));
  const database = await openDatabase({ dataDir: dir });
  cleanups.push(async () => {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await migrate(database.db);
  return database;
}

for (const [name, open] of [["PostgreSQL", postgresDb], ["PGlite", pgliteDb]] as const) {
  describe(`createJob on ${name}`, () => {
    test("returns the row as drizzle reads it; timeline, job.created event, webhook delivery and analyze task exist", async () => {
      const { db } = await open();
      const [hook] = await db.insert(webhooks).values({ url: "https://hooks.example.com/x", secretEnc: "sealed", eventTypes: ["job.created"] }).returning();
      const { job, replayed } = await createJob(
        db,
        { source_url: " https://example.com/a.mp4 ", profiles: ["360p_h264"], outputs: ["mp4", "hls"], priority: 5, metadata: { order: 7 }, thumbnails: true },
        { storage: "storage-fs", maxAttempts: 4, idempotencyKey: `k-${name}` },
      );
      expect(replayed).toBe(false);
      const [read] = await db.select().from(jobs).where(eq(jobs.id, job.id));
      expect(job).toEqual(read!);
      expect(job.createdAt).toBeInstanceOf(Date);
      expect(job.options).toEqual({ thumbnails: { poster: true, sprite: false, interval_s: 10 }, storage: "storage-fs", source_kind: "url" });

      const timeline = await db.select().from(jobEvents).where(eq(jobEvents.jobId, job.id));
      expect(timeline.map((e) => [e.toStatus, e.detail])).toEqual([["queued", { profiles: ["360p_h264"], outputs: ["mp4", "hls"] }]]);
      const evs = await db.select().from(events).where(eq(events.jobId, job.id));
      expect(evs.map((e) => [e.type, e.data])).toEqual([["job.created", { job_id: job.id, status: "queued", profiles: ["360p_h264"], outputs: ["mp4", "hls"] }]]);
      const deliveries = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.eventId, evs[0]!.id));
      expect(deliveries.map((d) => [d.webhookId, d.eventType])).toEqual([[hook!.id, "job.created"]]);
      const ts = await db.select().from(tasks).where(eq(tasks.jobId, job.id));
      expect(ts.map((t) => [t.type, t.seq, t.pool, t.status, t.attempt, t.maxAttempts, t.params, t.publishedAt])).toEqual([
        ["analyze", 0, "cpu", "queued", 1, 4, { source_url: "https://example.com/a.mp4", storage: "storage-fs" }, null],
      ]);

      // The same Idempotency-Key: the original job, nothing new written.
      const again = await createJob(db, { source_url: "https://example.com/other.mp4", profiles: ["360p_h264"] }, { storage: "storage-fs", idempotencyKey: `k-${name}` });
      expect(again.replayed).toBe(true);
      expect(again.job.id).toBe(job.id);
      expect((await db.select().from(jobs)).length).toBe(1);
    });
  });
}

describe("concurrent submissions (one statement per batch)", () => {
  test("60 at once, two sharing an Idempotency-Key: 59 jobs, each with its own rows; the key's second caller gets the first's job", async () => {
    const { db } = await postgresDb();
    const submit = (i: number, key?: string) => createJob(db, { source_url: `https://example.com/${i}.mp4`, profiles: ["360p_h264"], metadata: { i } }, { storage: "storage-fs", ...(key ? { idempotencyKey: key } : {}) });
    const answers = await Promise.all([...Array.from({ length: 58 }, (_, i) => submit(i)), submit(100, "same-key"), submit(101, "same-key")]);
    // Each caller got the job it submitted (its own metadata), except the key's loser, who got the winner's.
    for (let i = 0; i < 58; i++) expect(answers[i]!.job.metadata).toEqual({ i });
    const [a, b] = [answers[58]!, answers[59]!];
    expect(a.job.id).toBe(b.job.id);
    expect([a.replayed, b.replayed].sort()).toEqual([false, true]);
    expect(new Set(answers.map((x) => x.job.id)).size).toBe(59);
    expect((await db.select().from(jobs)).length).toBe(59);
    const perJob = async (table: typeof tasks | typeof jobEvents | typeof events) => {
      const rows = (await db.select({ jobId: table.jobId }).from(table)) as Array<{ jobId: string | null }>;
      const counts = new Map<string, number>();
      for (const r of rows) counts.set(r.jobId!, (counts.get(r.jobId!) ?? 0) + 1);
      return [...counts.values()];
    };
    for (const table of [tasks, jobEvents, events]) {
      const counts = await perJob(table);
      expect(counts.length).toBe(59);
      expect(counts.every((n) => n === 1)).toBe(true);
    }
  });
});

