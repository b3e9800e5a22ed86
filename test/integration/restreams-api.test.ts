/**
 * /v1/restreams on a real kernel (PostgreSQL, in-process bus, no worker): validation codes, the stream keys
 * never in a response body nor in tasks.params, events or the audit log (only sealed in the row), create now
 * (job + restream task in the live pool) or on a schedule (the tick starts it at start_at and stops it at
 * stop_at), the worker's claim with and without the task's token, stop / start again / delete with their rows
 * and audit entries, and a task report → per-destination state on GET and the failed/recovered events.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../src/db/exec.ts";
import { handleResult } from "../../src/kernel/orchestrator/results.ts";
import type { RestreamParams } from "../../src/core/task-contracts.ts";
import { RESTREAM_START_LEAD_MS } from "../../src/kernel/restream/schedule.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

let k: TestKernel;
let operatorKey = "";
let viewerKey = "";
const KEY_A = "sk-live-AAAA1111secret";
const KEY_B = "sk-live-BBBB2222secret";

const json = (method: string, body?: unknown, key?: string): RequestInit => ({
  method,
  headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

async function call<T = Record<string, any>>(path: string, init?: RequestInit): Promise<{ status: number; body: T; text: string }> {
  const response = await k.fetch(path, init);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T, text };
}

const query = async <T>(text: ReturnType<typeof sql>) => rowsOf<T>(await k.handle.ctx.db.execute(text));
const destinations = [
  { url: "rtmp://127.0.0.1:1935/app", key: KEY_A },
  { url: "rtmps://live.example.com/app", key: KEY_B, transcode: { height: 720, video_kbps: 3000 } },
];
const body = (extra: Record<string, unknown> = {}) => ({ name: "replay", input: { storage_key: "uploads/show.mp4" }, loop: true, destinations, ...extra });
const noKeys = (text: string) => {
  expect(text).not.toContain(KEY_A);
  expect(text).not.toContain(KEY_B);
};

beforeAll(async () => {
  k = await startTestKernel({ env: { LIVE_RTMP_PORT: "0" } });
  operatorKey = (await call<{ key: string }>("/v1/api-keys", json("POST", { name: "restreams operator", role: "operator" }))).body.key;
  viewerKey = (await call<{ key: string }>("/v1/api-keys", json("POST", { name: "restreams viewer", role: "viewer" }))).body.key;
});

afterAll(async () => {
  await k?.stop();
});

describe("POST /v1/restreams: refusals", () => {
  test.each([
    ["no input", { destinations }, 400, "WE-STR-001", /^input: /],
    ["two inputs", { input: { storage_key: "a.mp4", url: "https://example.com/a.mp4" }, destinations }, 400, "WE-STR-001", /exactly one of/],
    ["an unknown field", { ...body(), extra: 1 }, 400, "WE-STR-001", /unknown field/],
    ["no destinations", { input: { storage_key: "a.mp4" }, destinations: [] }, 422, "WE-STR-005", /at least one destination/],
    ["a key with a space", { input: { storage_key: "a.mp4" }, destinations: [{ url: "rtmp://h/app", key: `${KEY_A} x` }] }, 422, "WE-STR-005", /^destinations\[0\]\.key: /],
    ["an http destination", { input: { storage_key: "a.mp4" }, destinations: [{ url: "http://h/app", key: KEY_A }] }, 422, "WE-STR-005", /^destinations\[0\]\.url: /],
    ["stop_at before start_at", body({ start_at: "2030-01-01T10:00:00Z", stop_at: "2030-01-01T09:00:00Z" }), 400, "WE-STR-001", /^stop_at: must be later/],
    ["a start_at that is not a time", body({ start_at: "tomorrow" }), 400, "WE-STR-001", /^start_at: /],
  ])("%s: refused with its code, no key in the answer", async (_name, request, status, code, message) => {
    const r = await call("/v1/restreams", json("POST", request, operatorKey));
    expect(r.status).toBe(status);
    expect(r.body.error.code).toBe(code);
    expect(r.body.error.message).toMatch(message);
    noKeys(r.text);
  });

  test("a job that does not exist → 404 WE-JOB-004; a stream that is not live → 409 WE-STR-007", async () => {
    const job = await call("/v1/restreams", json("POST", { input: { job_id: crypto.randomUUID() }, destinations }, operatorKey));
    expect(job.status).toBe(404);
    expect(job.body.error.code).toBe("WE-JOB-004");
    const stream = await call<{ id: string }>("/v1/streams", json("POST", { name: "cam" }, operatorKey));
    const live = await call("/v1/restreams", json("POST", { input: { live_stream_id: stream.body.id }, destinations }, operatorKey));
    expect(live.status).toBe(409);
    expect(live.body.error.code).toBe("WE-STR-007");
  });

  test("a viewer may read but not create", async () => {
    expect((await call("/v1/restreams", json("POST", body(), viewerKey))).status).toBe(403);
    expect((await call("/v1/restreams", json("GET", undefined, viewerKey))).status).toBe(200);
  });
});

describe("a restream started now", () => {
  let id = "";
  let params: RestreamParams;

  test("201 starting, its own job and a restream task in the live pool; keys only sealed in the row", async () => {
    const r = await call("/v1/restreams", json("POST", body(), operatorKey));
    expect(r.status).toBe(201);
    noKeys(r.text);
    id = r.body.id;
    expect(r.body).toMatchObject({ status: "starting", name: "replay", origin: "api", loop: true, input: { storage_key: "uploads/show.mp4" }, position_s: 0 });
    expect(r.body.destinations).toEqual([
      { id: "d1", publisher: "rtmp", url: "rtmp://127.0.0.1:1935/app", transcode: null, status: "connecting", bitrate_kbps: 0, uptime_s: 0, reconnects: 0, last_error: null },
      { id: "d2", publisher: "rtmp", url: "rtmps://live.example.com/app", transcode: { height: 720, video_kbps: 3000 }, status: "connecting", bitrate_kbps: 0, uptime_s: 0, reconnects: 0, last_error: null },
    ]);
    const [task] = await query<{ type: string; pool: string; status: string; params: RestreamParams; max_attempts: number; job_id: string }>(sql`select * from tasks where id = ${r.body.task_id}`);
    expect(task).toMatchObject({ type: "restream", pool: "live", status: "queued", max_attempts: 5, job_id: r.body.job_id });
    params = task!.params;
    expect(params.input).toEqual({ kind: "file", source_url: "uploads/show.mp4", storage: expect.any(String), loop: true });
    expect(params.destinations_url).toEndWith(`/internal/restreams/${id}/claim`);
    const [job] = await query<{ status: string; metadata: any; source_url: string }>(sql`select * from jobs where id = ${r.body.job_id}`);
    expect(job).toMatchObject({ status: "processing", source_url: `restream:${id}`, metadata: { restream: { id, name: "replay", origin: "api" } } });
    const [row] = await query<{ destinations: Array<{ key_sealed: string }> }>(sql`select destinations from restreams where id = ${id}`);
    expect(row!.destinations[0]!.key_sealed).toBeString();
    // Nowhere in clear: the task's params, the row, events, the audit log.
    for (const table of ["tasks", "restreams", "events", "audit_log", "jobs"]) {
      const [hit] = await query<{ n: number }>(sql`select count(*)::int as n from ${sql.raw(table)} t where t::text like ${`%${KEY_A}%`} or t::text like ${`%${KEY_B}%`}`);
      expect({ table, n: hit!.n }).toEqual({ table, n: 0 });
    }
  });

  test("the claim: keys opened for the task's token only", async () => {
    const claimPath = new URL(params.destinations_url).pathname;
    const refused = await call(claimPath);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("WE-STR-008");
    const other = await call(claimPath.replace(id, crypto.randomUUID()), { headers: { authorization: `Bearer ${params.token}` } });
    expect(other.status).toBe(403);
    const claim = await fetch(params.destinations_url, { headers: { authorization: `Bearer ${params.token}` } });
    expect(claim.status).toBe(200);
    expect(await claim.json()).toEqual({
      destinations: [
        { id: "d1", publisher: "rtmp", url: "rtmp://127.0.0.1:1935/app", key: KEY_A, enabled: true },
        { id: "d2", publisher: "rtmp", url: "rtmps://live.example.com/app", key: KEY_B, enabled: true, transcode: { height: 720, video_kbps: 3000 } },
      ],
      position_s: 0,
      input_duration_s: null,
    });
  });

  test("a task report: per-destination state on GET, position kept, failed and recovered events", async () => {
    const [task] = await query<{ id: string; job_id: string }>(sql`select id, job_id from tasks where type = 'restream' and status = 'queued' and params->>'restream_id' = ${id}`);
    await k.handle.ctx.db.execute(sql`update tasks set status = 'leased', lease_token = 'lt1', lease_worker_id = 'w1', lease_expires_at = now() + interval '1 minute' where id = ${task!.id}`);
    const report = (d2: Record<string, unknown>, position: number) =>
      handleResult(k.handle.ctx.orchestrator.deps, {
        kind: "progress",
        lease: { task_id: task!.id, attempt: 1, token: "lt1", worker_id: "w1" },
        percent: 0,
        restream: {
          position_s: position,
          destinations: [
            { id: "d1", publisher: "rtmp", status: "live", bitrate_kbps: 2500, uptime_s: 4, reconnects: 0, last_error: null },
            { id: "d2", publisher: "rtmp", status: "retrying", bitrate_kbps: 0, uptime_s: 0, reconnects: 1, last_error: "Connection refused", ...d2 },
          ],
        },
      });
    await report({}, 3.5);
    const get = async () => (await call(`/v1/restreams/${id}`, json("GET", undefined, viewerKey))).body;
    await waitFor(async () => (await get()).status === "live", 10_000, "the restream live after the report");
    const view = await get();
    expect(view.position_s).toBe(3.5);
    expect(view.destinations.map((d: any) => [d.id, d.status, d.bitrate_kbps, d.reconnects, d.last_error])).toEqual([
      ["d1", "live", 2500, 0, null],
      ["d2", "retrying", 0, 1, "Connection refused"],
    ]);
    await report({ status: "live", bitrate_kbps: 2400, last_error: null }, 5.5);
    const events = () => query<{ type: string; data: any }>(sql`select type, data from events where type like 'restream.%' and job_id = ${task!.job_id} order by id`);
    await waitFor(async () => (await events()).length >= 2, 10_000, "the failed and recovered events");
    expect((await events()).map((e) => [e.type, e.data.destination_id, e.data.error])).toEqual([
      ["restream.destination.failed", "d2", "Connection refused"],
      ["restream.destination.recovered", "d2", null],
    ]);
    const metrics = await (await k.fetch("/metrics")).text();
    expect(metrics).toMatch(new RegExp(`webencode_restream_destination_state\\{[^}]*restream_id="${id}",destination_id="d2",status="live"[^}]*\\} 1`));
    expect(metrics).toMatch(new RegExp(`webencode_restream_destination_reconnects_total\\{[^}]*restream_id="${id}",destination_id="d2"[^}]*\\} 1`));
    // The same report again changes nothing: no event repeats.
    await report({ status: "live", bitrate_kbps: 2400, last_error: null }, 7.5);
    await waitFor(async () => (await get()).position_s === 7.5, 10_000, "the third report");
    expect((await events()).length).toBe(2);
  });

  test("stop: the job is cancelled, the row stopped; stopping again is 409; the claim is gone", async () => {
    const stopped = await call(`/v1/restreams/${id}/stop`, json("POST", undefined, operatorKey));
    expect(stopped.status).toBe(200);
    expect(stopped.body.status).toBe("stopped");
    expect(stopped.body.destinations.map((d: any) => d.status)).toEqual(["stopped", "stopped"]);
    const [job] = await query<{ status: string }>(sql`select status from jobs where id = ${stopped.body.job_id}`);
    expect(job!.status).toBe("cancelled");
    const again = await call(`/v1/restreams/${id}/stop`, json("POST", undefined, operatorKey));
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("WE-STR-010");
    expect(await (await k.fetch("/metrics")).text()).not.toContain(`restream_id="${id}"`);
    const claim = await fetch(params.destinations_url, { headers: { authorization: `Bearer ${params.token}` } });
    expect(claim.status).toBe(404);
  });

  test("start again: a new job, resuming from the position reached; start while running is 409", async () => {
    const started = await call(`/v1/restreams/${id}/start`, json("POST", undefined, operatorKey));
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ status: "starting", position_s: 7.5 });
    expect(started.body.job_id).not.toBe(params.restream_id);
    const running = await call(`/v1/restreams/${id}/start`, json("POST", undefined, operatorKey));
    expect(running.status).toBe(409);
    expect(running.body.error.code).toBe("WE-STR-010");
  });

  test("delete: 204, stopped first; then 404 WE-STR-009; the calls are audited", async () => {
    const deleted = await call(`/v1/restreams/${id}`, json("DELETE", undefined, operatorKey));
    expect(deleted.status).toBe(204);
    const gone = await call(`/v1/restreams/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe("WE-STR-009");
    const audit = () => query<{ action: string; status: number }>(sql`select action, status from audit_log where action like 'restreams.%' order by id`);
    await waitFor(async () => (await audit()).some((entry) => entry.action === "restreams.delete" && entry.status === 204), 10_000, "the delete's audit entry");
    const actions = (await audit()).map((entry) => `${entry.action} ${entry.status}`);
    for (const expected of ["restreams.create 201", "restreams.stop 200", "restreams.start 200", "restreams.delete 204"]) expect(actions).toContain(expected);
  });
});

describe("schedules", () => {
  test("start_at in the future → scheduled, no job; the tick queues its task RESTREAM_START_LEAD_MS ahead (to start at start_at) and stops it at stop_at", async () => {
    const startAt = Date.now() + RESTREAM_START_LEAD_MS + 1_500;
    const stopAt = startAt + 1_500;
    const r = await call("/v1/restreams", json("POST", body({ start_at: new Date(startAt).toISOString(), stop_at: new Date(stopAt).toISOString() }), operatorKey));
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ status: "scheduled", job_id: null, task_id: null });
    const row = async () => (await query<{ status: string; started_at: Date | null; ended_at: Date | null; job_id: string | null }>(sql`select status, started_at, ended_at, job_id from restreams where id = ${r.body.id}`))[0]!;
    await waitFor(async () => (await row()).status === "starting", 10_000, "the scheduled restream started");
    const started = await row();
    expect(Math.abs(new Date(started.started_at!).getTime() - (startAt - RESTREAM_START_LEAD_MS))).toBeLessThan(1_000);
    const [task] = await query<{ params: RestreamParams }>(sql`select t.params from tasks t join restreams r on r.task_id = t.id where r.id = ${r.body.id}`);
    expect(task!.params.start_at_ms).toBe(startAt);
    await waitFor(async () => (await row()).status === "stopped", 10_000, "the restream stopped at stop_at");
    const ended = await row();
    expect(Math.abs(new Date(ended.ended_at!).getTime() - stopAt)).toBeLessThan(2_000);
    const [job] = await query<{ status: string }>(sql`select status from jobs where id = ${ended.job_id}`);
    expect(job!.status).toBe("cancelled");
  });

  test("POST …/start on a scheduled restream starts it now: its task does not wait for start_at", async () => {
    const r = await call("/v1/restreams", json("POST", body({ start_at: new Date(Date.now() + 3_600_000).toISOString() }), operatorKey));
    expect(r.body.status).toBe("scheduled");
    const started = await call(`/v1/restreams/${r.body.id}/start`, json("POST", undefined, operatorKey));
    expect(started.status).toBe(200);
    expect(started.body.status).toBe("starting");
    const [task] = await query<{ params: RestreamParams }>(sql`select params from tasks where id = ${started.body.task_id}`);
    expect(task!.params.start_at_ms).toBeUndefined();
    expect((await call(`/v1/restreams/${r.body.id}/stop`, json("POST", undefined, operatorKey))).status).toBe(200);
  });

  test("a scheduled restream stopped before its start never starts", async () => {
    const r = await call("/v1/restreams", json("POST", body({ start_at: new Date(Date.now() + 3_600_000).toISOString() }), operatorKey));
    const stopped = await call(`/v1/restreams/${r.body.id}/stop`, json("POST", undefined, operatorKey));
    expect(stopped.body).toMatchObject({ status: "stopped", job_id: null });
  });

  test("GET /v1/restreams lists them newest first, without keys", async () => {
    const list = await call("/v1/restreams?limit=10", json("GET", undefined, viewerKey));
    expect(list.status).toBe(200);
    expect(list.body.items.length).toBeGreaterThanOrEqual(2);
    noKeys(list.text);
  });
});
