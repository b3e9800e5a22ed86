/**
 * Task delivery against the compiled executables, a real NATS JetStream and a real PostgreSQL (issue 4,
 * "Proof"; docs/architecture.md §5): no job lost, none run twice, none stuck.
 *
 * Each describe builds its own installation (test/helpers/cluster.ts): kernels and workers from dist/ with one
 * database, one BUS_PREFIX and one storage root. Tasks are made long on purpose with an FFMPEG_PATH wrapper
 * that reads the video chunk's input slower than real time (`-readrate`), or made to crash (`kill -9 $$`).
 * Lease TTL and ack wait are shortened so the whole file runs in a few minutes. "Exactly once" is checked in
 * the database: every task of a completed job has exactly one accepted ('completed') attempt, no job state is
 * entered twice, no (job, type, seq) task exists twice, one package task per job.
 *
 * Build first: `bun run build`. Run: `bun test --timeout 600000 test/e2e/delivery.test.ts`.
 */
import { withAuth } from "../helpers/auth.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import {
  Cluster,
  crashVideo,
  ffmpegPidsMatching,
  ffmpegWrapper,
  generateClip,
  type JobView,
  type KernelProc,
  logLines,
  processRunning,
  slowVideo,
  startThrowawayPostgres,
  type ThrowawayPostgres,
  type WorkerProc,
} from "../helpers/cluster.ts";
import { startNatsServer, type ThrowawayNats } from "../helpers/nats.ts";
import { binary, killAllProcs } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const media = mkdtempSync(join(tmpdir(), "webencode-delivery-media-"));
/** 6 s, 320x180@25, keyframe every second, AAC audio. */
let CLIP = "";
/** A text file with a video name: unreadable as media (permanent failure). */
let NOT_VIDEO = "";
const clusters: Cluster[] = [];
const throwaway: Array<{ dispose(): Promise<void> }> = [];
const PROFILE = ["360p_h264"];
/** Chunking for short clips: a 6 s clip becomes 2 video tasks. */
const SPLIT = { CHUNK_MIN_DURATION: "2s", CHUNK_MAX_DURATION: "4s", SPLIT_MIN_DURATION: "4s" };

async function cluster(name: string, opts: Omit<Parameters<typeof Cluster.create>[0], "name"> = {}): Promise<Cluster> {
  const c = await Cluster.create({ name, ...opts });
  clusters.push(c);
  return c;
}

beforeAll(async () => {
  binary("webencode-kernel");
  binary("webencode-worker");
  CLIP = await generateClip(join(media, "clip.mp4"), { seconds: 6 });
  NOT_VIDEO = join(media, "notes.mp4");
  writeFileSync(NOT_VIDEO, "These are meeting notes, not a video.\n".repeat(200));
});

afterAll(async () => {
  for (const c of clusters) await c.dispose().catch((e) => console.error("cluster cleanup failed", e));
  for (const t of throwaway) await t.dispose().catch(() => {});
  await killAllProcs();
  rmSync(media, { recursive: true, force: true });
});

const lines = (p: { proc: WorkerProc["proc"] } | KernelProc, msg: string) => logLines(p.proc).filter((l) => l.msg === msg);
const secondsBetween = (a: string | null | undefined, b: string | null | undefined) => (Date.parse(b ?? "") - Date.parse(a ?? "")) / 1000;

/** The cpu work queue's durable consumer as JetStream sees it: its ack wait, and redeliveries it counted. */
async function workConsumer(natsUrl: string, prefix: string): Promise<{ ackWaitMs: number; redelivered: number; delivered: number }> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(`${prefix}_QUEUES`, "q-work-cpu");
    return { ackWaitMs: info.config.ack_wait! / 1e6, redelivered: info.num_redelivered, delivered: info.delivered.consumer_seq };
  } finally {
    await nc.close();
  }
}

describe("a worker killed (SIGKILL) in the middle of a video task", () => {
  test("the task is requeued when its lease expires, another worker completes it, exactly one accepted result per task", async () => {
    const c = await cluster("kill9", { env: { LEASE_TTL: "3s", BUS_ACK_WAIT: "5s" } });
    const k = await c.startKernel("k1");
    const a = await c.startWorker("kill-a", { FFMPEG_PATH: ffmpegWrapper(c.scratch, "slow", [slowVideo(0.5)]) });
    const job = await c.submit(k, { source_url: c.addSource("sources/clip.mp4", CLIP), profiles: PROFILE });

    const running = await c.waitTaskStarted(job.id, "video", 30_000);
    expect(running.worker.id).toBe("kill-a");
    await c.waitFfmpegRunning(a);
    const killedAt = Date.now();
    a.proc.kill("SIGKILL");
    expect((await a.proc.exited).signal).toBe("SIGKILL");
    await c.startWorker("kill-b");

    await c.waitJob(job.id, ["completed"], 90_000);
    const done = Date.now();
    expect(await c.deliveryViolations([job.id])).toEqual([]);

    const view = await c.job(k, job.id);
    const video = view.tasks.find((t) => t.id === running.taskId)!;
    expect(video.status).toBe("completed");
    expect(video.failures).toBe(1); // the lost worker counts as one (retryable) failure
    expect(video.attempts.map((x) => [x.attempt, x.worker_id])).toEqual([
      [1, "kill-a"],
      [2, "kill-b"],
    ]);
    const [dead, good] = video.attempts;
    // The dead attempt is closed by the reconciler's verdict: lease expired, WE-WRK-003 (retryable).
    expect(dead).toMatchObject({ outcome: "lease-expired", error_class: "retryable", error_code: "WE-WRK-003" });
    expect(dead!.error_message).toContain("kill-a");
    expect(good!.outcome).toBe("completed");
    const requeue = view.timeline.find((e) => e.task_id === video.id && e.status === "task:queued");
    expect(String(requeue?.detail?.error)).toContain("lease expired");
    const requeuedAfter = (Date.parse(requeue!.at) - killedAt) / 1000;
    expect(requeuedAfter).toBeGreaterThan(2); // not before the lease (3 s; last keep-alive ≤ 0.5 s before the kill) ran out
    expect(requeuedAfter).toBeLessThan(8);
    const backoff = secondsBetween(dead!.finished_at, good!.started_at);
    expect(backoff).toBeGreaterThanOrEqual(9.5); // retry backoff after a first failure: 10 s
    // The dead worker's own delivery came back after the ack wait and was refused: it ran nothing.
    const b = c.workers.find((w) => w.id === "kill-b")!;
    await waitFor(() => lines(b, "lease refused; dropping the delivery").some((l) => l.task_id === video.id && l.attempt === 1), 10_000, "the stale delivery to be refused", 100);
    expect(lines(b, "task started").filter((l) => l.task_id === video.id).map((l) => l.attempt)).toEqual([2]);
    // Lease grants: one per attempt, the second to the surviving worker.
    const grants = lines(k, "lease granted: video task").filter((l) => l.task_id === video.id);
    expect(grants.map((g) => [g.attempt, g.worker_id])).toEqual([
      [1, "kill-a"],
      [2, "kill-b"],
    ]);
    console.log(
      `[delivery] kill -9: requeued ${requeuedAfter.toFixed(1)} s after the kill (LEASE_TTL 3 s), retried ${backoff.toFixed(1)} s later, job completed ${((done - killedAt) / 1000).toFixed(1)} s after the kill`,
    );
  }, 150_000);
});

describe("a task running several times longer than the ack deadline", () => {
  test("is delivered once: one lease, one attempt, no redelivery (BUS_ACK_WAIT=2s, task ≈ 8 s)", async () => {
    const c = await cluster("ackwait", { env: { BUS_ACK_WAIT: "2s", LEASE_TTL: "10s" } });
    const k = await c.startKernel("k1");
    const slow = ffmpegWrapper(c.scratch, "slow", [slowVideo(0.75)]);
    // Two idle-capable workers: a redelivery while the task runs would reach the other one and be claimed.
    const workers = [await c.startWorker("ack-a", { FFMPEG_PATH: slow }), await c.startWorker("ack-b", { FFMPEG_PATH: slow })];
    const job = await c.submit(k, { source_url: c.addSource("sources/clip.mp4", CLIP), profiles: PROFILE });
    const running = await c.waitTaskStarted(job.id, "video", 30_000);
    await c.waitJob(job.id, ["completed"], 90_000);
    expect(await c.deliveryViolations([job.id])).toEqual([]);

    const view = await c.job(k, job.id);
    const video = view.tasks.find((t) => t.id === running.taskId)!;
    expect(video.attempts).toHaveLength(1);
    const ran = secondsBetween(video.attempts[0]!.started_at, video.attempts[0]!.finished_at);
    expect(ran).toBeGreaterThan(3 * 2); // several ack deadlines
    for (const t of view.tasks) expect(t.attempts).toHaveLength(1);
    // One lease grant for the task, no refusal anywhere (a second delivery would be refused and logged).
    expect(lines(k, "lease granted: video task").filter((l) => l.task_id === video.id)).toHaveLength(1);
    expect(lines(k, "lease refused")).toEqual([]);
    for (const w of workers) {
      expect(lines(w, "lease refused")).toEqual([]);
      expect(lines(w, "task started").filter((l) => l.task_id === video.id).length).toBe(w.id === running.worker.id ? 1 : 0);
    }
    // JetStream itself: the consumer's ack wait is 2 s, it delivered one message per task and redelivered none.
    expect(await workConsumer(c.natsUrl, c.prefix)).toEqual({ ackWaitMs: 2000, redelivered: 0, delivered: view.tasks.length });
    console.log(`[delivery] video task ran ${ran.toFixed(1)} s with a 2 s ack deadline: 1 delivery, 1 attempt`);
  }, 120_000);
});

describe("two kernels and two workers", () => {
  test("a batch of jobs completes with no duplicate transitions, tasks or accepted results; one active reconciler", async () => {
    const c = await cluster("twokernels", { env: { ...SPLIT, LEASE_TTL: "5s", BUS_ACK_WAIT: "10s" } });
    const k1 = await c.startKernel("k1");
    const k2 = await c.startKernel("k2");
    await c.startWorker("pair-a");
    await c.startWorker("pair-b");
    const key = c.addSource("sources/clip.mp4", CLIP);
    const started = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await c.submit(i % 2 ? k2 : k1, { source_url: key, profiles: PROFILE, metadata: { n: i } })).id);
    for (const id of ids) await c.waitJob(id, ["completed"], 180_000);
    const took = (Date.now() - started) / 1000;

    expect(await c.deliveryViolations(ids)).toEqual([]);
    const [counts] = await c.sql<{ tasks: number; attempts: number; packages: number; videos: number }[]>`
      select count(*)::int as tasks,
        (select count(*)::int from task_attempts a join tasks t on t.id = a.task_id where t.job_id in ${c.sql(ids)}) as attempts,
        count(*) filter (where type = 'package')::int as packages,
        count(*) filter (where type = 'video')::int as videos
      from tasks where job_id in ${c.sql(ids)}`;
    const { tasks, attempts, packages, videos } = counts!;
    expect(packages).toBe(6);
    expect(videos).toBeGreaterThanOrEqual(12); // split: ≥ 2 chunks per job
    expect(attempts).toBe(tasks); // nothing ran twice
    // Each attempt was granted exactly once, by one of the two kernels.
    const granted = [...logLines(k1.proc), ...logLines(k2.proc)].filter((l) => String(l.msg).startsWith("lease granted"));
    expect(new Set(granted.map((l) => `${l.task_id}:${l.attempt}`)).size).toBe(granted.length);
    expect(granted).toHaveLength(attempts);
    // Each job entered each state once, in order.
    const states = await c.sql<{ job_id: string; path: string }[]>`
      select job_id, string_agg(to_status, ',' order by id) as path from job_events
      where job_id in ${c.sql(ids)} and to_status not like 'task:%' group by job_id`;
    for (const s of states) expect(s.path).toBe("queued,analyzing,processing,packaging,completed");

    // Exactly one kernel is the active reconciler …
    const leaders = c.kernels.filter((k) => lines(k, "reconciler: this kernel is now the active reconciler").length > 0);
    expect(leaders).toHaveLength(1);
    expect(lines(leaders[0]!, "reconciler: this kernel is now the active reconciler")).toHaveLength(1);
    // … until it stops: then the other one takes over (and only then).
    const leader = leaders[0]!;
    const other = leader === k1 ? k2 : k1;
    expect(await leader.proc.stop("SIGTERM", 20_000)).toEqual({ code: 0, signal: null });
    await other.proc.waitForLine("now the active reconciler", 10_000);
    const last = await c.submit(other, { source_url: key, profiles: PROFILE });
    await c.waitJob(last.id, ["completed"], 60_000);
    expect(await c.deliveryViolations([...ids, last.id])).toEqual([]);
    console.log(`[delivery] 2 kernels + 2 workers: 6 jobs (${tasks} tasks, ${attempts} attempts) completed in ${took.toFixed(1)} s; leader ${leader.name}, then ${other.name} after SIGTERM`);
  }, 300_000);
});

describe("a kernel that crashed between writing tasks and publishing them", () => {
  /** What a kernel commits on POST /v1/jobs, without the publish that would follow. */
  async function insertUnpublishedJob(c: Cluster, sourceKey: string): Promise<{ jobId: string; taskId: string }> {
    return c.sql.begin(async (tx) => {
      const [job] = await tx<{ id: string }[]>`
        insert into jobs (source_url, profiles, outputs, options)
        values (${sourceKey}, ${tx.json(PROFILE)}, ${tx.json(["mp4"])}, ${tx.json({ thumbnails: null, storage: "storage-fs", source_kind: "key" })})
        returning id`;
      await tx`insert into job_events (job_id, to_status) values (${job!.id}, 'queued')`;
      const [task] = await tx<{ id: string }[]>`
        insert into tasks (job_id, type, seq, pool, params, max_attempts)
        values (${job!.id}, 'analyze', 0, 'cpu', ${tx.json({ source_url: sourceKey, storage: "storage-fs" })}, 3)
        returning id`;
      return { jobId: job!.id, taskId: task!.id };
    });
  }

  test("the reconciler publishes the unpublished tasks after a restart (and while running) and the jobs complete", async () => {
    const c = await cluster("outbox", { env: { LEASE_TTL: "5s", BUS_ACK_WAIT: "10s" } });
    const k1 = await c.startKernel("k1");
    await c.startWorker("outbox-w");
    const key = c.addSource("sources/clip.mp4", CLIP);
    // The kernel goes away; the "crashed" kernel's committed-but-unpublished work is in the database.
    expect(await k1.proc.stop("SIGKILL")).toEqual({ code: null, signal: "SIGKILL" });
    const first = await insertUnpublishedJob(c, key);
    const [before] = await c.sql<{ status: string; published_at: Date | null }[]>`select status, published_at from tasks where id = ${first.taskId}`;
    expect(before).toEqual({ status: "queued", published_at: null });

    const k2 = await c.startKernel("k2");
    await c.waitJob(first.jobId, ["completed"], 60_000);
    // And with a kernel running: only the reconciler's pass can publish a task nobody kicked.
    const second = await insertUnpublishedJob(c, key);
    const inserted = Date.now();
    await waitFor(async () => (await c.sql`select 1 from tasks where id = ${second.taskId} and published_at is not null`).length > 0, 5_000, "the reconciler to publish the task", 50);
    const publishedAfter = (Date.now() - inserted) / 1000;
    await c.waitJob(second.jobId, ["completed"], 60_000);
    expect(await c.deliveryViolations([first.jobId, second.jobId])).toEqual([]);
    const attempts = await c.sql<{ n: number }[]>`select count(*)::int as n from task_attempts where task_id in ${c.sql([first.taskId, second.taskId])}`;
    expect(attempts[0]!.n).toBe(2);
    expect(lines(k2, "reconciler: this kernel is now the active reconciler")).toHaveLength(1);
    console.log(`[delivery] unpublished task picked up by a running kernel's reconciler after ${publishedAfter.toFixed(1)} s`);
  }, 150_000);
});

describe("NATS restarted mid-job", () => {
  let nats: ThrowawayNats;
  beforeAll(async () => {
    nats = await startNatsServer({ jetstream: true });
    throwaway.push(nats);
  });

  test("the job completes, exactly once", async () => {
    const c = await cluster("natsrestart", { natsUrl: nats.url, env: { LEASE_TTL: "10s", BUS_ACK_WAIT: "10s" } });
    const k = await c.startKernel("k1");
    const w = await c.startWorker("nats-w", { FFMPEG_PATH: ffmpegWrapper(c.scratch, "slow", [slowVideo(0.75)]) });
    const job = await c.submit(k, { source_url: c.addSource("sources/clip.mp4", CLIP), profiles: PROFILE });
    await c.waitTaskStarted(job.id, "video", 30_000);
    const t0 = Date.now();
    await nats.restart(); // SIGKILL, then the same port and JetStream store
    await w.proc.waitForLine("NATS connection restored", 30_000);
    await k.proc.waitForLine("NATS connection restored", 30_000);
    await c.waitJob(job.id, ["completed"], 120_000);
    expect(await c.deliveryViolations([job.id])).toEqual([]);
    expect(k.proc.stderr).toContain("NATS connection lost");
    console.log(`[delivery] NATS restarted mid-job: job completed ${((Date.now() - t0) / 1000).toFixed(1)} s after the restart`);
  }, 180_000);
});

describe("PostgreSQL restarted mid-job", () => {
  let pg: ThrowawayPostgres;
  beforeAll(async () => {
    pg = await startThrowawayPostgres();
    throwaway.push(pg);
  }, 120_000);

  test("the API answers 503 WE-SYS-002 promptly while the database is down; the job completes after it is back", async () => {
    const c = await cluster("pgrestart", { databaseUrl: pg.url, env: { LEASE_TTL: "10s", BUS_ACK_WAIT: "10s" } });
    const k = await c.startKernel("k1");
    const w = await c.startWorker("pg-w", { FFMPEG_PATH: ffmpegWrapper(c.scratch, "slow", [slowVideo(0.75)]) });
    const job = await c.submit(k, { source_url: c.addSource("sources/clip.mp4", CLIP), profiles: PROFILE });
    const running = await c.waitTaskStarted(job.id, "video", 30_000);
    await pg.stop();
    const down = Date.now();

    const answers: Array<{ path: string; status: number; code: string; ms: number }> = [];
    const ask = async (path: string, init: RequestInit = {}) => {
      const t = performance.now();
      const r = await fetch(`${k.url}${path}`, withAuth({ ...init, signal: AbortSignal.timeout(15_000) }));
      const body = (await r.json()) as { error?: { code: string } };
      answers.push({ path: `${init.method ?? "GET"} ${path.replace(job.id, ":id")}`, status: r.status, code: body.error?.code ?? "", ms: performance.now() - t });
    };
    await ask(`/v1/jobs/${job.id}`);
    await ask("/v1/jobs");
    await ask("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: "sources/clip.mp4", profiles: PROFILE }) });
    // The worker finishes its task meanwhile; the outcome waits in the results queue for the database.
    await waitFor(() => lines(w, "task completed").some((l) => l.task_id === running.taskId), 30_000, "the video task to finish on the worker", 100);
    // Late in the outage too (the database client has been failing to reconnect for a while by now).
    await ask(`/v1/jobs/${job.id}`);
    await ask("/v1/system/health");
    const downFor = (Date.now() - down) / 1000;
    for (const a of answers) {
      expect([a.path, a.status, a.code]).toEqual([a.path, 503, "WE-SYS-002"]);
      expect(a.ms).toBeLessThan(6_000);
    }
    await pg.start();
    const up = Date.now();
    await c.waitJob(job.id, ["completed"], 120_000);
    const completedAfter = (Date.now() - up) / 1000;
    expect(await c.deliveryViolations([job.id])).toEqual([]);
    const r = await k.fetch(`/v1/jobs/${job.id}`);
    expect(r.status).toBe(200);
    const video = ((await r.json()) as JobView).tasks.find((t) => t.id === running.taskId)!;
    console.log(
      `[delivery] PostgreSQL down ${downFor.toFixed(1)} s mid-job: ${answers.map((a) => `${a.path.replace(job.id, ":id")} → ${a.status} ${a.code} in ${a.ms.toFixed(0)} ms`).join("; ")}; job completed ${completedAfter.toFixed(1)} s after the restart (video task: ${video.attempts.length} attempt(s))`,
    );
  }, 240_000);
});

describe("failures", () => {
  let c: Cluster;
  let k: KernelProc;
  beforeAll(async () => {
    c = await cluster("failures", { env: { TASK_MAX_ATTEMPTS: "2", LEASE_TTL: "5s", BUS_ACK_WAIT: "10s" } });
    k = await c.startKernel("k1");
    await c.startWorker("crashy", { FFMPEG_PATH: ffmpegWrapper(c.scratch, "crash", [crashVideo()]) });
  }, 120_000);

  test("a permanent failure (a text file named .mp4) fails the job at once with WE-JOB-007 after one attempt", async () => {
    const t0 = Date.now();
    const job = await c.submit(k, { source_url: c.addSource("sources/notes.mp4", NOT_VIDEO), profiles: PROFILE });
    await c.waitJob(job.id, ["failed"], 30_000);
    const took = (Date.now() - t0) / 1000;
    const view = await c.job(k, job.id);
    expect(view.error?.code).toBe("WE-JOB-007");
    expect(view.tasks).toHaveLength(1);
    const analyze = view.tasks[0]!;
    expect(analyze).toMatchObject({ type: "analyze", status: "failed", failures: 1 });
    expect(analyze.attempts).toHaveLength(1);
    expect(analyze.attempts[0]).toMatchObject({ outcome: "failed", error_class: "permanent", error_code: "WE-JOB-007" });
    expect(took).toBeLessThan(30); // the single attempt above is the proof of "at once"; this only bounds it
    console.log(`[delivery] permanent failure: job failed with WE-JOB-007 after 1 attempt in ${took.toFixed(1)} s`);
  }, 60_000);

  test("a retryable failure (FFmpeg SIGKILLed) is retried after the backoff, then fails the job with WE-JOB-008 and the evidence", async () => {
    const job = await c.submit(k, { source_url: c.addSource("sources/clip.mp4", CLIP), profiles: PROFILE });
    await c.waitJob(job.id, ["failed"], 90_000);
    const view = await c.job(k, job.id);
    expect(view.error?.code).toBe("WE-JOB-008");
    const video = view.tasks.find((t) => t.type === "video")!;
    expect(video).toMatchObject({ status: "failed", failures: 2, max_attempts: 2 });
    expect(video.attempts).toHaveLength(2);
    for (const a of video.attempts) {
      expect(a).toMatchObject({ outcome: "failed", error_class: "retryable", error_code: "WE-JOB-008", signal: "SIGKILL", exit_code: null });
      expect(a.argv).toContain("-force_key_frames");
      expect(a.stderr_tail).toContain("simulated FFmpeg crash");
    }
    const backoff = secondsBetween(video.attempts[0]!.finished_at, video.attempts[1]!.started_at);
    expect(backoff).toBeGreaterThanOrEqual(9.5); // min(5 s · 2^1, 5 min) = 10 s
    expect(backoff).toBeLessThan(19.5); // below the next step of the backoff (20 s)
    expect(view.error?.details).toMatchObject({ task_id: video.id, attempts: 2, signal: "SIGKILL" });
    // Nothing of the job is left running or queued.
    for (const t of view.tasks) expect(["completed", "failed", "cancelled"]).toContain(t.status);
    const logs = (await (await k.fetch(`/v1/jobs/${job.id}/logs`)).json()) as { attempts: Array<{ task_type: string; signal: string | null; argv: string[] | null; stderr_tail: string | null }> };
    expect(logs.attempts.filter((a) => a.task_type === "video" && a.signal === "SIGKILL" && a.argv?.length && a.stderr_tail)).toHaveLength(2);
    console.log(`[delivery] retryable failure: 2 attempts, second started ${backoff.toFixed(1)} s after the first failed; job failed with WE-JOB-008`);
  }, 120_000);
});

describe("cancel", () => {
  test("stops the running FFmpeg within 2 s, drops queued tasks, leaves no temporary files; a second cancel is 409 WE-JOB-005", async () => {
    const c = await cluster("cancel", { env: { ...SPLIT, LEASE_TTL: "5s", BUS_ACK_WAIT: "10s" } });
    const k = await c.startKernel("k1");
    const w = await c.startWorker("cancel-w", { FFMPEG_PATH: ffmpegWrapper(c.scratch, "slow", [slowVideo(0.2)]) });
    const job = await c.submit(k, { source_url: c.addSource("sources/clip.mp4", CLIP), profiles: PROFILE });
    const running = await c.waitTaskStarted(job.id, "video", 30_000);
    const pids = await c.waitFfmpegRunning(w);
    const queued = await c.sql<{ id: string }[]>`select id from tasks where job_id = ${job.id} and status = 'queued'`;
    expect(queued.length).toBeGreaterThan(0); // the other chunk (one slot)

    const t0 = performance.now();
    const r = await k.fetch(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { status: string }).status).toBe("cancelled");
    await waitFor(() => ffmpegPidsMatching(w.workDir).length === 0, 2_500, "FFmpeg to stop after the cancel", 20);
    // A process whose command line is already gone may still be exiting for a few ms (neither running nor a
    // zombie yet): wait for every pid to be gone rather than sampling once.
    await waitFor(() => pids.every((pid) => !processRunning(pid)), 1_000, "every FFmpeg pid to exit", 10);
    const stoppedMs = performance.now() - t0;
    await waitFor(() => c.workDirEntries(w).length === 0, 5_000, "the worker's WORK_DIR to be empty", 50);
    await w.proc.waitForLine("task stopped: cancelled", 5_000);

    const tasks = await c.sql<{ id: string; status: string }[]>`select id, status from tasks where job_id = ${job.id}`;
    for (const t of tasks) expect(["completed", "cancelled"]).toContain(t.status);
    for (const q of queued) expect(tasks.find((t) => t.id === q.id)?.status).toBe("cancelled");
    expect(tasks.find((t) => t.id === running.taskId)?.status).toBe("cancelled");
    const view = await c.job(k, job.id);
    expect(view.tasks.find((t) => t.id === running.taskId)!.attempts.map((a) => [a.worker_id, a.outcome])).toEqual([["cancel-w", "cancelled"]]);
    const again = await k.fetch(`/v1/jobs/${job.id}/cancel`, { method: "POST" });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("WE-JOB-005");
    // The queued chunk's delivery is still in the queue: the worker gets it, is refused the lease, runs nothing.
    await w.proc.waitForLine("lease refused", 15_000);
    expect(lines(w, "task started").filter((l) => queued.some((q) => q.id === l.task_id))).toEqual([]);
    expect((await c.job(k, job.id)).status).toBe("cancelled");
    console.log(`[delivery] cancel: FFmpeg gone ${stoppedMs.toFixed(0)} ms after POST /cancel; ${queued.length} queued task(s) dropped`);
  }, 120_000);
});

describe("drain and SIGTERM hand work back", () => {
  test("drain: the running task is handed back after WORKER_SHUTDOWN_GRACE and completed elsewhere; undrain → healthy", async () => {
    const c = await cluster("drain", { env: { LEASE_TTL: "5s", BUS_ACK_WAIT: "10s", WORKER_SHUTDOWN_GRACE: "1s" } });
    const k = await c.startKernel("k1");
    const slow = ffmpegWrapper(c.scratch, "slow", [slowVideo(0.3)]);
    const a = await c.startWorker("drain-a", { FFMPEG_PATH: slow });
    const source = c.addSource("sources/clip.mp4", CLIP);
    const job = await c.submit(k, { source_url: source, profiles: PROFILE });
    const running = await c.waitTaskStarted(job.id, "video", 30_000);
    await c.waitFfmpegRunning(a);
    const b = await c.startWorker("drain-b");

    const drainAt = Date.now();
    const r = await k.fetch("/v1/workers/drain-a/drain", { method: "POST" });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { drain_requested: boolean }).drain_requested).toBe(true);
    await c.waitWorkerStatus("drain-a", "draining", 10_000);
    expect(((await (await k.fetch("/v1/workers/drain-a")).json()) as { status: string }).status).toBe("draining");
    await c.waitJob(job.id, ["completed"], 90_000);
    expect(await c.deliveryViolations([job.id])).toEqual([]);
    const video = (await c.job(k, job.id)).tasks.find((t) => t.id === running.taskId)!;
    expect(video.failures).toBe(0); // handed back: not a failure
    expect(video.attempts.map((x) => [x.worker_id, x.outcome])).toEqual([
      ["drain-a", "aborted"],
      ["drain-b", "completed"],
    ]);
    const handedBack = (Date.parse(video.attempts[0]!.finished_at!) - drainAt) / 1000;
    expect(handedBack).toBeLessThan(1 + 4); // WORKER_SHUTDOWN_GRACE, then FFmpeg stopped and the task reported
    expect(c.workDirEntries(a)).toEqual([]);
    expect(a.proc.status).toBeUndefined(); // a drained worker keeps running, idle

    const u = await k.fetch("/v1/workers/drain-a/undrain", { method: "POST" });
    expect(u.status).toBe(200);
    await c.waitWorkerStatus("drain-a", "healthy", 10_000);
    expect(((await (await k.fetch("/v1/workers/drain-a")).json()) as { status: string; drain_requested: boolean })).toMatchObject({ status: "healthy", drain_requested: false });

    // SIGTERM with a running task: exit 0 within the grace (+ a few seconds), the task handed back.
    expect(await b.proc.stop("SIGTERM", 20_000)).toEqual({ code: 0, signal: null }); // idle: exits at once
    const job2 = await c.submit(k, { source_url: source, profiles: PROFILE });
    const running2 = await c.waitTaskStarted(job2.id, "video", 30_000);
    expect(running2.worker.id).toBe("drain-a");
    await c.waitFfmpegRunning(a);
    await c.startWorker("drain-c");
    const t0 = performance.now();
    const exit = await a.proc.stop("SIGTERM", 20_000);
    const exitMs = performance.now() - t0;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitMs).toBeLessThan(1_000 + 5_000);
    expect(a.proc.stderr).toContain("task stopped and handed back");
    expect(c.workDirEntries(a)).toEqual([]);
    await c.waitJob(job2.id, ["completed"], 90_000);
    expect(await c.deliveryViolations([job.id, job2.id])).toEqual([]);
    const video2 = (await c.job(k, job2.id)).tasks.find((t) => t.id === running2.taskId)!;
    expect(video2.failures).toBe(0);
    expect(video2.attempts.map((x) => [x.worker_id, x.outcome])).toEqual([
      ["drain-a", "aborted"],
      ["drain-c", "completed"],
    ]);
    console.log(`[delivery] drain: task handed back ${handedBack.toFixed(1)} s after POST /drain (grace 1 s); SIGTERM with a running task: exit 0 after ${exitMs.toFixed(0)} ms`);
  }, 240_000);
});
