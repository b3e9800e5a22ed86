/**
 * GET /v1/events end to end: two real kernels on one PostgreSQL database and one NATS JetStream prefix, the
 * first with an embedded worker running real FFmpeg jobs on a generated clip. Checks the ordered job state
 * changes and progress on both kernels, resume with Last-Event-ID after a disconnect mid-job (nothing lost,
 * nothing twice), filters, worker and plugin events, retention and `reset`, bad input, no leaked
 * subscriptions, heartbeats, and that a kernel stop ends open streams instead of waiting on them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { EventHub, eventHubOf } from "../../src/kernel/events/hub.ts";
import { runRetention } from "../../src/kernel/retention.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { makeClip } from "../helpers/media.ts";
import { holdsFor, waitFor } from "../helpers/wait.ts";

interface SseEvent {
  id: string | undefined;
  event: string;
  data: { id: number | null; type: string; job_id: string | null; worker_id: string | null; data: Record<string, any>; created_at: string };
}

/** A test SSE reader: collects events and comments until closed (by us or by the server). */
class SseReader {
  events: SseEvent[] = [];
  comments: string[] = [];
  retry: number | undefined;
  status = 0;
  ended = false;
  private readonly abort = new AbortController();
  private done: Promise<void> | undefined;

  static async open(k: TestKernel, path: string, headers: Record<string, string> = {}): Promise<SseReader> {
    const r = new SseReader();
    const res = await k.fetch(path, { headers, signal: r.abort.signal });
    r.status = res.status;
    if (res.status !== 200) throw new Error(`GET ${path} → ${res.status}: ${await res.text()}`);
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    r.done = r.read(res.body!);
    return r;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of body) {
        buf += decoder.decode(chunk, { stream: true });
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          this.frame(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } catch {
      /* aborted by close() */
    }
    this.ended = true;
  }

  private frame(text: string): void {
    let id: string | undefined;
    let event = "message";
    let data = "";
    for (const line of text.split("\n")) {
      if (line.startsWith(":")) this.comments.push(line.slice(1).trim());
      else if (line.startsWith("retry: ")) this.retry = Number(line.slice(7));
      else if (line.startsWith("id: ")) id = line.slice(4);
      else if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    if (data) this.events.push({ id, event, data: JSON.parse(data) });
  }

  stored(jobId?: string): SseEvent[] {
    return this.events.filter((e) => e.id !== undefined && (jobId === undefined || e.data.job_id === jobId));
  }

  lastId(): string | undefined {
    return this.events.filter((e) => e.id !== undefined).at(-1)?.id;
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

const JOB_STATES = ["job.created", "job.started", "job.processing", "job.packaging", "job.completed"];

let A: TestKernel; // embedded worker: runs the jobs
let B: TestKernel; // same database and bus prefix, no worker: serves clients for work done on A
let clip: string;
const readers: SseReader[] = [];

async function open(k: TestKernel, path: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const r = await SseReader.open(k, path, headers);
  readers.push(r);
  return r;
}

async function submit(k: TestKernel): Promise<string> {
  const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: "uploads/clip.mp4", profiles: ["360p_h264"], outputs: ["mp4"] }) });
  const body = (await r.json()) as { id: string };
  if (r.status !== 201) throw new Error(`POST /v1/jobs → ${r.status} ${JSON.stringify(body)}`);
  return body.id;
}

async function jobStatus(k: TestKernel, id: string): Promise<string> {
  return ((await (await k.fetch(`/v1/jobs/${id}`)).json()) as { status: string }).status;
}

async function q(text: string): Promise<Array<Record<string, unknown>>> {
  const res = await A.db.database.db.execute(sql.raw(text));
  return (Array.isArray(res) ? res : (res as { rows: unknown[] }).rows) as Array<Record<string, unknown>>;
}

/** The stored events of a job, from the database (what every client must end up with). */
async function storedIds(jobId: string, types = "job.%|task.%"): Promise<number[]> {
  const like = types.split("|").map((t) => `type like '${t}'`).join(" or ");
  return (await q(`select id from events where job_id = '${jobId}' and (${like}) order by id`)).map((r) => Number(r.id));
}

beforeAll(async () => {
  A = await startTestKernel({ nats: true, env: { EMBEDDED_WORKER: "true" } });
  B = await startTestKernel({ nats: true, env: { DATABASE_URL: A.db.url, BUS_PREFIX: A.prefix, DATA_DIR: A.dataDir, EMBEDDED_WORKER: "false" } });
  clip = await makeClip(join(A.dataDir, "storage", "uploads"), "clip", { width: 640, height: 360, rate: "30", duration_s: 6, audio: true, gop: 30 });
  await waitFor(async () => ((await (await A.fetch("/v1/workers?status=healthy")).json()) as { items: unknown[] }).items.length > 0, 90_000, "the embedded worker registered", 100);
}, 180_000);

afterAll(async () => {
  for (const r of readers) await r.close().catch(() => {});
  await B?.stop();
  await A?.stop();
});

describe("a job's state changes and progress over SSE", () => {
  let jobId: string;
  let onA: SseReader;
  let onB: SseReader;
  let replayedOnB: SseReader;

  test("both kernels stream job.created → started → processing → packaging → completed in order, with progress", async () => {
    onA = await open(A, "/v1/events");
    onB = await open(B, "/v1/events?types=job.*");
    expect(onA.retry).toBeGreaterThan(0);
    jobId = await submit(A);
    // Started after the job exists: everything of this job from the beginning (a replay, then live).
    replayedOnB = await open(B, `/v1/events?job_id=${jobId}&last_event_id=0`);
    await waitFor(() => onA.stored(jobId).some((e) => e.event === "job.completed"), 90_000, "job.completed on kernel A", 100);
    await waitFor(() => onB.stored(jobId).some((e) => e.event === "job.completed"), 10_000, "job.completed on kernel B", 50);
    await waitFor(() => replayedOnB.stored(jobId).some((e) => e.event === "job.completed"), 10_000, "job.completed on the replaying client", 50);

    const jobStates = (r: SseReader) => r.stored(jobId).filter((e) => e.event.startsWith("job.")).map((e) => e.event);
    expect(jobStates(onA)).toEqual(JOB_STATES);
    expect(jobStates(onB)).toEqual(JOB_STATES);
    expect(jobStates(replayedOnB)).toEqual(JOB_STATES);

    // Ids increase, equal the SSE id, and are the same on both kernels; the payload names the job and state.
    const ids = onA.stored(jobId).map((e) => Number(e.id));
    for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
    for (const e of onA.stored(jobId)) {
      expect(e.data.id).toBe(Number(e.id));
      expect(e.data.type).toBe(e.event);
      expect(e.data.job_id).toBe(jobId);
      expect(Date.parse(e.data.created_at)).toBeGreaterThan(0);
    }
    const completed = onA.stored(jobId).find((e) => e.event === "job.completed")!;
    expect(completed.data.data).toMatchObject({ job_id: jobId, status: "completed", from_status: "packaging" });
    expect(onB.stored(jobId).filter((e) => e.event.startsWith("job.")).map((e) => e.id)).toEqual(onA.stored(jobId).filter((e) => e.event.startsWith("job.")).map((e) => e.id));
    // The unfiltered stream also carries the task changes; the replay equals the database exactly.
    expect(onA.stored(jobId).some((e) => e.event === "task.leased" && typeof e.data.worker_id === "string")).toBe(true);
    expect(onA.stored(jobId).some((e) => e.event === "task.completed")).toBe(true);
    expect(replayedOnB.stored(jobId).map((e) => Number(e.id))).toEqual(await storedIds(jobId));
    expect(onA.stored(jobId).map((e) => Number(e.id))).toEqual(await storedIds(jobId));

    // Progress: live only (no id), monotonic, on both kernels (it travels over NATS).
    for (const r of [onA, onB]) {
      const progress = r.events.filter((e) => e.event === "job.progress" && e.data.job_id === jobId);
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.every((e) => e.id === undefined && e.data.id === null)).toBe(true);
      const values = progress.map((e) => e.data.data.progress as number);
      for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThanOrEqual(values[i - 1]!);
      expect(progress.every((e) => "eta_seconds" in e.data.data)).toBe(true);
    }
    // types=job.* lets job.progress through but no task.* events.
    expect(onB.events.some((e) => e.event.startsWith("task."))).toBe(false);
  }, 120_000);

  test("filters: types=job.completed gets only that; another job's id gets nothing of this job", async () => {
    const only = await open(B, "/v1/events?types=job.completed&last_event_id=0");
    const other = await open(A, `/v1/events?job_id=${crypto.randomUUID()}&last_event_id=0`);
    await waitFor(() => only.stored(jobId).length > 0, 10_000, "the replayed job.completed");
    expect(only.events.map((e) => e.event)).toEqual(["job.completed"]);
    await holdsFor(() => other.events.length === 0, 1_000, "no events for an unrelated job id");
    await only.close();
    await other.close();
  });
});

describe("resume with Last-Event-ID", () => {
  test("disconnect mid-job and reconnect (to the other kernel): every state change exactly once, in order", async () => {
    const first = await open(A, "/v1/events?types=job.*,task.*");
    const jobId = await submit(A);
    await waitFor(() => first.stored(jobId).some((e) => e.event === "job.created"), 10_000, "job.created", 10);
    await first.close();
    const seen = first.stored(jobId);
    const resumeAt = first.lastId()!;
    expect(await jobStatus(A, jobId)).not.toBe("completed");
    await waitFor(async () => (await jobStatus(A, jobId)) === "completed", 90_000, "the job to complete", 200);

    // Reconnect to B: EventSource sends the header; the query parameter works too.
    const second = await open(B, "/v1/events?types=job.*,task.*", { "Last-Event-ID": resumeAt });
    await waitFor(() => second.stored(jobId).some((e) => e.event === "job.completed"), 10_000, "job.completed after the resume");
    const all = [...seen, ...second.stored(jobId)].map((e) => Number(e.id));
    expect(new Set(all).size).toBe(all.length); // nothing twice
    expect(all).toEqual(await storedIds(jobId)); // nothing lost, in order
    expect([...seen, ...second.stored(jobId)].filter((e) => e.event.startsWith("job.")).map((e) => e.event)).toEqual(JOB_STATES);
    expect(second.stored().every((e) => Number(e.id) > Number(resumeAt))).toBe(true);
  }, 150_000);

  test("closed connections free their subscriptions", async () => {
    for (const r of readers) await r.close();
    const hubA = eventHubOf(A.handle.ctx);
    const hubB = eventHubOf(B.handle.ctx);
    await waitFor(() => hubA.clientCount === 0 && hubB.clientCount === 0, 5_000, "no SSE clients left");
    const many = await Promise.all(Array.from({ length: 20 }, () => open(A, "/v1/events?types=worker.*")));
    expect(hubA.clientCount).toBe(20);
    await Promise.all(many.map((r) => r.close()));
    await waitFor(() => hubA.clientCount === 0, 5_000, "all 20 subscriptions freed");
  });
});

describe("commit order", () => {
  /** Opens a transaction that takes an event id and holds it until released (commit or roll back). */
  async function holdEvent(type: string): Promise<{ id: number; release(commit: boolean): Promise<void> }> {
    const conn = postgres(A.db.url, { max: 1, onnotice: () => {} });
    let release!: (commit: boolean) => void;
    const decided = new Promise<boolean>((r) => (release = r));
    let id!: number;
    const took = new Promise<void>((resolve) => {
      const tx = conn
        .begin(async (t) => {
          await t`select pg_current_xact_id()`; // a write comes first, as with every recorded event
          id = Number((await t`insert into events (type) values (${type}) returning id`)[0]!.id);
          resolve();
          if (!(await decided)) throw new Error("rolled back on purpose");
        })
        .catch(() => {});
      held.push(tx.then(() => conn.end()));
    });
    await took;
    return {
      id,
      release: async (commit) => {
        release(commit);
        await held.at(-1);
      },
    };
  }
  const held: Promise<unknown>[] = [];

  test("an event committed after a later one is delivered first, never skipped; a rolled-back id is passed over", async () => {
    const r = await open(B, "/v1/events?types=test.*");
    const late = await holdEvent("test.late");
    const early = (await q(`insert into events (type) values ('test.early') returning id`))[0]!.id as number;
    expect(Number(early)).toBeGreaterThan(late.id);
    // test.early is committed, but an earlier id is still open: nothing may go out yet.
    await holdsFor(() => r.events.length === 0, 1_000, "no delivery past an open earlier id");
    await late.release(true);
    await waitFor(() => r.events.length === 2, 5_000, "both events after the commit");
    expect(r.events.map((e) => [e.event, Number(e.id)])).toEqual([["test.late", late.id], ["test.early", Number(early)]]);

    const doomed = await holdEvent("test.doomed");
    await q(`insert into events (type) values ('test.after') returning id`);
    await holdsFor(() => r.events.length === 2, 500, "no delivery past an open earlier id");
    await doomed.release(false);
    await waitFor(() => r.events.length === 3, 5_000, "the event after the rolled-back one");
    expect(r.events.map((e) => e.event)).toEqual(["test.late", "test.early", "test.after"]);
    await r.close();
    await Promise.all(held);
  });
});

describe("worker and plugin events", () => {
  test("drain and undrain through the API appear as worker.draining / worker.undrained; the join was recorded", async () => {
    const workers = ((await (await A.fetch("/v1/workers")).json()) as { items: Array<{ id: string }> }).items;
    const id = workers[0]!.id;
    const r = await open(B, "/v1/events?types=worker.*&last_event_id=0");
    await waitFor(() => r.events.some((e) => e.event === "worker.joined" && e.data.worker_id === id), 10_000, "worker.joined replayed");
    expect(r.events.find((e) => e.event === "worker.joined")!.data.data).toMatchObject({ worker_id: id, pools: expect.any(Array) });
    expect((await A.fetch(`/v1/workers/${id}/drain`, { method: "POST" })).status).toBe(200);
    await waitFor(() => r.events.some((e) => e.event === "worker.draining"), 10_000, "worker.draining");
    expect((await A.fetch(`/v1/workers/${id}/undrain`, { method: "POST" })).status).toBe(200);
    await waitFor(() => r.events.some((e) => e.event === "worker.undrained"), 10_000, "worker.undrained");
    const drains = r.events.filter((e) => e.event === "worker.draining" || e.event === "worker.undrained");
    expect(drains.map((e) => [e.event, e.data.worker_id, e.data.data.drain_requested])).toEqual([
      ["worker.draining", id, true],
      ["worker.undrained", id, false],
    ]);
    await r.close();
  });

  test("plugin supervisor state changes are recorded (storage-fs became healthy on both kernels)", async () => {
    const r = await open(A, "/v1/events?types=plugin.*&last_event_id=0");
    await waitFor(() => r.events.filter((e) => e.data.data.plugin_id === "storage-fs").length >= 2, 10_000, "storage-fs state events of both kernels");
    const fs = r.events.filter((e) => e.data.data.plugin_id === "storage-fs");
    expect(fs.every((e) => e.event === "plugin.state_changed")).toBe(true);
    expect(fs[0]!.data.data).toMatchObject({ from: "starting", to: "healthy" });
    expect(new Set(fs.map((e) => e.data.data.kernel)).size).toBe(2);
    await r.close();
  });
});

describe("bad input, retention and reset", () => {
  test("bad filters and Last-Event-ID values are 400 envelopes", async () => {
    for (const [path, headers, code] of [
      ["/v1/events?types=job%20created", {}, "WE-REQ-001"],
      ["/v1/events?job_id=nope", {}, "WE-REQ-001"],
      ["/v1/events?last_event_id=-4", {}, "WE-REQ-001"],
      ["/v1/events", { "Last-Event-ID": "abc" }, "WE-REQ-001"],
    ] as const) {
      const r = await A.fetch(path, { headers });
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect([r.status, body.error.code]).toEqual([400, code]);
      expect(body.error.message.length).toBeGreaterThan(10);
    }
  });

  test("retention deletes old events (not those a webhook delivery waits on); a Last-Event-ID before them gets `reset`", async () => {
    const [first] = await q("select min(id)::int as id from events");
    const min = Number(first!.id);
    // The first ten ids become ancient; one of them still has a pending webhook delivery.
    const old = (await q(`update events set created_at = now() - interval '30 days' where id < ${min + 10} returning id`)).map((r) => Number(r.id)).sort((a, b) => a - b);
    expect(old.length).toBeGreaterThan(5);
    const kept = old[3]!;
    const [hook] = await q(`insert into webhooks (url, event_types, secret_enc) values ('http://127.0.0.1:9/x', '["*"]', 'x') returning id`);
    await q(`insert into webhook_deliveries (webhook_id, event_id, event_type) values ('${hook!.id}', ${kept}, 'kept')`);
    const deleted = await runRetention(A.handle.ctx);
    expect(deleted).toBe(old.length - 1);
    expect((await q(`select id from events where id < ${min + 10}`)).map((r) => Number(r.id))).toEqual([kept]);
    expect(await runRetention(B.handle.ctx)).toBe(0); // idempotent across kernels

    const stale = await open(B, "/v1/events?types=job.*", { "Last-Event-ID": String(old[1]) });
    await waitFor(() => stale.events.length > 0, 5_000, "the reset event");
    expect(stale.events[0]!.event).toBe("reset");
    expect(stale.events[0]!.id).toBeUndefined();
    expect(stale.events[0]!.data.data.reason).toContain("EVENT_RETENTION");
    const future = await open(A, "/v1/events", { "Last-Event-ID": "999999999999" });
    await waitFor(() => future.events.length > 0, 5_000, "the reset event for an id never issued");
    expect(future.events[0]!.data.data.reason).toContain("never issued");
    // Both keep streaming live afterwards.
    const jobId = await submit(A);
    await waitFor(() => stale.stored(jobId).some((e) => e.event === "job.created"), 10_000, "live events after the reset");
    await waitFor(() => future.stored(jobId).some((e) => e.event === "job.created"), 10_000, "live events after the reset (future id)");
    await waitFor(async () => (await jobStatus(A, jobId)) === "completed", 90_000, "the last job to complete", 200);
  }, 120_000);

  test("heartbeat comments keep idle connections open", async () => {
    const hub = new EventHub(A.handle.ctx, { heartbeatMs: 50 });
    hub.start();
    try {
      const res = await hub.open({}, undefined);
      const reader = res.body!.getReader();
      let text = "";
      const deadline = Date.now() + 5_000;
      while (!text.includes(": keep-alive") && Date.now() < deadline) text += new TextDecoder().decode((await reader.read()).value);
      expect(text).toStartWith("retry: ");
      expect(text).toContain(": keep-alive ");
      await reader.cancel();
      await waitFor(() => hub.clientCount === 0, 5_000, "the cancelled stream to be freed");
    } finally {
      await hub.stop();
    }
  });

  test("stopping a kernel ends its open streams at once instead of waiting for the HTTP drain timeout", async () => {
    const r = await open(B, "/v1/events");
    const started = Date.now();
    const stopping = B.stop();
    // SHUTDOWN_TIMEOUT is 5 s in tests: a stream left open would end only when the HTTP drain gives up. Measured
    // to the stream's end, not to the end of the whole stop (plugins, bus, database: slow on a loaded machine).
    await waitFor(() => r.ended, 4_000, "the stream to end when the kernel stops");
    expect(Date.now() - started).toBeLessThan(5_000);
    await stopping;
  }, 30_000);
});
