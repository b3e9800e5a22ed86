/**
 * Dashboard follow-ups (issue 17): `GET /v1/jobs?profile=` filters on the server (any page, not just the one
 * shown), and `GET /v1/workers` / `GET /v1/workers/:id` carry each worker's current tasks (its leased tasks
 * in the database). An in-process kernel with no worker: the rows a worker would produce are written to its
 * database directly, so what is asserted is exactly what the routes read.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

let k: TestKernel;
let sql: postgres.Sql;

beforeAll(async () => {
  k = await startTestKernel();
  sql = postgres(k.db.url, { max: 1, onnotice: () => {} });
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await k?.stop();
});

async function insertJob(profiles: string[], status = "completed"): Promise<string> {
  const [row] = await sql<Array<{ id: string }>>`
    insert into jobs (source_url, profiles, status) values ('file:///nowhere.mp4', ${sql.json(profiles)}, ${status}) returning id`;
  return row!.id;
}

describe("GET /v1/jobs?profile=", () => {
  test("lists only the jobs naming that profile, across pages", async () => {
    const a = await insertJob(["360p_h264"]);
    const b = await insertJob(["720p_h264", "360p_h264"]);
    const c = await insertJob(["720p_h264"]);
    const ids = async (path: string) => ((await (await k.fetch(path)).json()) as { items: Array<{ id: string; profiles: string[] }> }).items.map((j) => j.id);
    expect((await ids("/v1/jobs?profile=360p_h264")).sort()).toEqual([a, b].sort());
    expect((await ids("/v1/jobs?profile=720p_h264")).sort()).toEqual([b, c].sort());
    expect(await ids("/v1/jobs?profile=1080p_h264")).toEqual([]);
    // Pages of the filtered list: newest first, one per page.
    expect(await ids("/v1/jobs?profile=360p_h264&limit=1&offset=1")).toHaveLength(1);
    // Combined with the state filter.
    const queued = await insertJob(["360p_h264"], "failed");
    expect(await ids("/v1/jobs?profile=360p_h264&status=failed")).toEqual([queued]);
    // A substring is not a match (array containment, not LIKE).
    expect(await ids("/v1/jobs?profile=360p")).toEqual([]);
  });

  test("a value that cannot be a profile id is a 400 with a message", async () => {
    const r = await k.fetch(`/v1/jobs?profile=${"x".repeat(65)}`);
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toStartWith("WE-");
    expect(body.error.message).toContain("64");
  });
});

describe("current_tasks of a worker", () => {
  test("GET /v1/workers and /v1/workers/:id list the leased tasks, not finished or others' ones", async () => {
    await sql`insert into workers (id, hostname, version, slots, running) values ('w-busy', 'host-a', '1.0.0', 2, 2), ('w-idle', 'host-b', '1.0.0', 1, 0)`;
    const job = await insertJob(["360p_h264"], "processing");
    const startedFirst = new Date(Date.now() - 60_000);
    const startedSecond = new Date(Date.now() - 30_000);
    const [t1] = await sql<Array<{ id: string }>>`
      insert into tasks (job_id, type, seq, status, lease_worker_id, lease_token, lease_expires_at, started_at)
      values (${job}, 'video', 3, 'leased', 'w-busy', 'tok-1', now() + interval '10 minutes', ${startedFirst}) returning id`;
    const [t2] = await sql<Array<{ id: string }>>`
      insert into tasks (job_id, type, seq, status, lease_worker_id, lease_token, lease_expires_at, started_at)
      values (${job}, 'video', 4, 'leased', 'w-busy', 'tok-2', now() + interval '10 minutes', ${startedSecond}) returning id`;
    // Finished on w-busy: not current.
    await sql`insert into tasks (job_id, type, seq, status, started_at, finished_at) values (${job}, 'video', 2, 'completed', now(), now())`;

    type Current = { task_id: string; job_id: string; type: string; seq: number; started_at: string | null };
    type W = { id: string; current_tasks: Current[] };
    const list = (await (await k.fetch("/v1/workers")).json()) as { items: W[] };
    const busy = list.items.find((w) => w.id === "w-busy");
    const idle = list.items.find((w) => w.id === "w-idle");
    expect(busy?.current_tasks).toEqual([
      { task_id: t1!.id, job_id: job, type: "video", seq: 3, started_at: startedFirst.toISOString() },
      { task_id: t2!.id, job_id: job, type: "video", seq: 4, started_at: startedSecond.toISOString() },
    ]);
    expect(idle?.current_tasks).toEqual([]);

    const one = (await (await k.fetch("/v1/workers/w-busy")).json()) as W;
    expect(one.current_tasks.map((t) => t.seq)).toEqual([3, 4]);

    // The task finishes: it is no longer current.
    await sql`update tasks set status = 'completed', lease_worker_id = null, lease_token = null, lease_expires_at = null, finished_at = now() where id = ${t1!.id}`;
    const after = (await (await k.fetch("/v1/workers/w-busy")).json()) as W;
    expect(after.current_tasks.map((t) => t.task_id)).toEqual([t2!.id]);
  });
});
