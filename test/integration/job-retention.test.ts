/**
 * JOB_RETENTION (src/kernel/retention.ts): finished jobs that ended longer ago than the retention are deleted
 * with their tasks, attempts, timeline and output rows, in bounded batches; running jobs, recent ones and
 * failed ones whose parts are still in storage stay. Against a real kernel and PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql as dsql } from "drizzle-orm";
import postgres from "postgres";
import { rowsOf } from "../../src/db/exec.ts";
import { PARTS_REMOVED } from "../../src/kernel/pipeline/cleanup.ts";
import { finishedJobsDue, pruneFinishedJobs, runRetention } from "../../src/kernel/retention.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

let k: TestKernel;
let sql: postgres.Sql;
const logs: string[] = [];
const DAY_MS = 86_400_000;

beforeAll(async () => {
  k = await startTestKernel({ logSink: logs, logLevel: "info" });
  sql = postgres(k.db.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await k?.stop();
});

/** A job with one task (and its attempt), two timeline entries and an output row; ages in days. */
async function seed(name: string, status: string, createdDaysAgo: number, finishedDaysAgo: number | null): Promise<string> {
  const finished = finishedDaysAgo === null ? null : new Date(Date.now() - finishedDaysAgo * DAY_MS);
  const [job] = await sql<{ id: string }[]>`
    insert into jobs (source_url, profiles, status, created_at, finished_at)
    values (${`retention/${name}.mp4`}, '["360p_h264"]', ${status}, ${new Date(Date.now() - createdDaysAgo * DAY_MS)}, ${finished})
    returning id`;
  const id = job!.id;
  const taskStatus = status === "processing" ? "leased" : status;
  const [task] = await sql<{ id: string }[]>`insert into tasks (job_id, type, seq, status) values (${id}, 'analyze', 0, ${taskStatus}) returning id`;
  await sql`insert into task_attempts (task_id, attempt, worker_id, lease_token) values (${task!.id}, 1, 'w', 'token')`;
  await sql`insert into job_events (job_id, to_status) values (${id}, 'queued'), (${id}, ${status})`;
  await sql`insert into outputs (job_id, kind, storage_plugin, storage_key, size_bytes) values (${id}, 'mp4', 'storage-fs', ${`jobs/${id}/out.mp4`}, 1)`;
  return id;
}

const names = async () => (await sql<{ source_url: string }[]>`select source_url from jobs where source_url like 'retention/%' order by source_url`).map((r) => r.source_url.slice(10, -4));
const countFor = async (table: "tasks" | "job_events" | "outputs", ids: string[]) => Number((await sql.unsafe(`select count(*)::int as n from ${table} where job_id = any($1::uuid[])`, [ids]))[0]!.n);

describe("JOB_RETENTION", () => {
  test("deletes finished jobs older than the retention with their rows, in batches; keeps running, recent and unswept failed jobs", async () => {
    const oldDone = await seed("a-completed-old", "completed", 10, 9);
    const oldDone2 = await seed("b-completed-old", "completed", 8, 8);
    const oldDone3 = await seed("c-completed-old", "completed", 5, 5);
    await seed("d-completed-recent", "completed", 3, 0.5);
    await seed("e-started-old-finished-recent", "completed", 10, 0.5);
    await seed("f-processing-old", "processing", 10, null);
    await seed("g-failed-old-parts-kept", "failed", 10, 9);
    const swept = await seed("h-failed-old-parts-removed", "failed", 10, 9);
    await sql`insert into job_events (job_id, to_status, at) values (${swept}, ${PARTS_REMOVED}, now())`;
    // Cancelled, swept after an earlier ending, then retried and cancelled again: its new parts are still there.
    const resweep = await seed("i-cancelled-swept-before-last-end", "cancelled", 10, 2);
    await sql`insert into job_events (job_id, to_status, at) values (${resweep}, ${PARTS_REMOVED}, now() - interval '5 days')`;
    const doomed = [oldDone, oldDone2, oldDone3, swept];

    // Batches of 3 jobs: the 4 due ones take two statements, and a bounded round stops after its batches.
    expect(await pruneFinishedJobs(k.handle.ctx.db, DAY_MS, 3, 1)).toBe(3);
    expect(await pruneFinishedJobs(k.handle.ctx.db, DAY_MS, 3)).toBe(1);
    expect(await names()).toEqual(["d-completed-recent", "e-started-old-finished-recent", "f-processing-old", "g-failed-old-parts-kept", "i-cancelled-swept-before-last-end"]);
    expect(await countFor("tasks", doomed)).toBe(0);
    expect(await countFor("job_events", doomed)).toBe(0);
    expect(await countFor("outputs", doomed)).toBe(0);
    expect(Number((await sql`select count(*)::int as n from task_attempts a left join tasks t on t.id = a.task_id where t.id is null`)[0]!.n)).toBe(0);
    // 0 keeps everything.
    expect(await pruneFinishedJobs(k.handle.ctx.db, 0)).toBe(0);
    expect((await names()).length).toBe(5);
  });

  test("the kernel's retention round applies JOB_RETENTION and logs what it deleted", async () => {
    await seed("j-completed-for-round", "completed", 40, 40);
    const ctx = { ...k.handle.ctx, config: { ...k.handle.ctx.config, JOB_RETENTION: 30 * DAY_MS } };
    await runRetention(ctx);
    expect(await names()).not.toContain("j-completed-for-round");
    expect(logs.some((line) => line.includes("finished jobs deleted (JOB_RETENTION)"))).toBe(true);
  });

  test("the candidate query is served by the jobs (status, created_at) index", async () => {
    // A test database is too small for the planner to prefer an index by itself: with sequential scans
    // priced out, the plan shows that an index serves the query (bench/periodic-queries.ts shows it at 1 M rows).
    const plan = await k.handle.ctx.db.transaction(async (tx) => {
      await tx.execute(dsql`set local enable_seqscan = off`);
      return rowsOf<{ "QUERY PLAN": string }>(await tx.execute(dsql`explain ${finishedJobsDue(DAY_MS, 1000)}`)).map((r) => r["QUERY PLAN"]).join("\n");
    });
    expect(plan).toMatch(/Index (Only )?Scan using jobs_status_created_idx on jobs/);
    expect(plan).not.toMatch(/Seq Scan on (jobs|job_events)/);
  });
});
