/**
 * Dispatch at scale (issue 20): thousands of tiny tasks drained by simulated workers — a harness that speaks
 * the worker's protocol over NATS (src/worker/executor.ts: pull a delivery into a free slot, ask `task.claim`
 * for the lease, report progress and the outcome through the durable results queue, then acknowledge) and
 * runs no FFmpeg: each task's result is made up on the spot.
 *
 * The tasks go through the real pipeline: jobs are submitted with POST /v1/jobs; the simulated analysis
 * describes a 600 s source with a keyframe every 2 s, which the kernel plans into 10 video chunks and one
 * audio task; when those are in, the kernel creates the package task, whose (empty) result completes the job.
 * So a job is 13 tasks (analyze, 10 video, audio, package), every one published through the outbox, leased,
 * reported and advanced by the kernel exactly as a real job's.
 *
 * Printed: claims/s (granted leases over the drain), p50/p99 of a task's creation → its lease (both
 * timestamps from PostgreSQL, so every task counts, whichever kernel or worker touched it), and tasks leased
 * twice counted from the database (task_attempts) and from the harness (grants per task). Both must be 0.
 *
 *   node_modules/.bin/bun bench/dispatch-scale.ts [--tasks 10000] [--workers 20] [--slots 1] [--lease-ttl 300s] [--dist /tmp/bench-dist]
 *   (--tasks 500 for a quick run. The kernel's LEASE_TTL is long by default: a lease that expired while its
 *   report waited in a backlog would be granted again as a legitimate retry and counted here as "leased twice";
 *   with the production 30 s, such a count says the kernel fell that far behind.)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { openBus } from "../src/bus/factory.ts";
import { type Bus, type BusMessage, type Consumer, Slots } from "../src/bus/types.ts";
import { createLogger } from "../src/core/logger.ts";
import { CLAIM_SUBJECT, type ClaimReply, type TaskDelivery, type TaskOutcome, type TaskProgress } from "../src/core/messages.ts";
import type { SourceSummary } from "../src/core/task-contracts.ts";
import { RESULTS_QUEUE, workQueue } from "../src/core/topology.ts";

/** Tasks per job with SOURCE and the default chunk bounds (CHUNK_MAX_DURATION 60 s): analyze, 10 video, audio, package. */
export const TASKS_PER_JOB = 13;

/** What the simulated analysis reports: 600 s, 25 fps, 640x360, a keyframe every 2 s, AAC audio. */
export const SOURCE: SourceSummary = {
  duration_s: 600,
  size_bytes: 75_000_000,
  bit_rate: 1_000_000,
  format: "mov,mp4,m4a,3gp,3g2,mj2",
  video: { codec: "h264", width: 640, height: 360, fps: 25, frames: 15_000, rotation: 0, sar: 1, pix_fmt: "yuv420p", profile: "High" },
  audio: { codec: "aac", channels: 2, sample_rate: 48000, duration_s: 600 },
  keyframes: Array.from({ length: 300 }, (_, i) => ({ pts: i * 2, frame: i * 50 })),
};

/** A made-up result that passes the task type's contract (core/task-contracts.ts). Pure. */
export function fakeResult(type: string, params: unknown, jobId: string, taskId: string): unknown {
  if (type === "analyze") return SOURCE;
  if (type === "video") {
    const p = params as { renditions?: Array<{ profile?: { id?: string } }>; chunk?: { frames?: number } };
    return { parts: (p.renditions ?? []).map((r) => ({ profile: r.profile?.id ?? "unknown", key: `jobs/${jobId}/parts/${taskId}.mp4`, frames: p.chunk?.frames ?? 1 })) };
  }
  if (type === "audio") return { key: `jobs/${jobId}/parts/${taskId}.m4a` };
  if (type === "package") return { outputs: [] };
  throw new Error(`the dispatch harness does not simulate ${type} tasks`);
}

export interface HarnessStats {
  /** Granted leases per task id (more than 1: leased twice). */
  grants: Map<string, number>;
  refused: number;
  claimErrors: number;
  firstGrantAt: number;
  lastGrantAt: number;
}

/** One simulated worker: its own NATS connection and `slots` free slots on the cpu pool. */
export class SimulatedWorker {
  private consumer: Consumer | undefined;

  private constructor(
    readonly id: string,
    private readonly bus: Bus,
    private readonly stats: HarnessStats,
  ) {}

  static async start(o: { id: string; natsUrl: string; prefix: string; slots: number; stats: HarnessStats }): Promise<SimulatedWorker> {
    const bus = await openBus({ NATS_URL: o.natsUrl, BUS_PREFIX: o.prefix, BUS_ACK_WAIT: 60_000 }, createLogger("worker", "silent"), o.id, "worker");
    const w = new SimulatedWorker(o.id, bus, o.stats);
    w.consumer = bus.consume<TaskDelivery>(workQueue("cpu"), { slots: new Slots(o.slots) }, (msg) => w.onDelivery(msg));
    return w;
  }

  /** As executor.ts: lease first; a refusal drops the delivery; progress, then the outcome, then the ack. */
  private async onDelivery(msg: BusMessage<TaskDelivery>): Promise<void> {
    const d = msg.data;
    let claim: ClaimReply;
    try {
      claim = await this.bus.request<ClaimReply>(CLAIM_SUBJECT, { task_id: d.task_id, attempt: d.attempt, worker_id: this.id }, 10_000);
    } catch {
      this.stats.claimErrors++;
      await msg.nak(1000);
      return;
    }
    if (!claim.granted) {
      this.stats.refused++;
      await msg.ack();
      return;
    }
    const now = performance.now();
    if (!this.stats.firstGrantAt) this.stats.firstGrantAt = now;
    this.stats.lastGrantAt = now;
    this.stats.grants.set(d.task_id, (this.stats.grants.get(d.task_id) ?? 0) + 1);
    const { lease } = claim;
    const progress: TaskProgress = { kind: "progress", lease, percent: 50 };
    await this.bus.enqueue(RESULTS_QUEUE, progress);
    const outcome: TaskOutcome = { kind: "outcome", lease, outcome: "completed", result: fakeResult(claim.type, claim.params, claim.job_id, d.task_id), elapsed_ms: 1 };
    await this.bus.enqueue(RESULTS_QUEUE, outcome, { msgId: `result:${lease.task_id}:${lease.attempt}` });
    await msg.ack();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    await this.bus.close();
  }
}

export interface DispatchScaleOptions {
  apiUrl: string;
  apiKey: string;
  natsUrl: string;
  prefix: string;
  /** The kernel's database (read only: timestamps and attempts). */
  databaseUrl: string;
  /** A storage key that exists in the kernel's storage (the jobs' source; never read). */
  sourceKey: string;
  tasks: number;
  workers: number;
  slots?: number;
  timeoutMs?: number;
  log?: (line: string) => void;
}

export interface DispatchScaleResult {
  jobs: number;
  jobsCompleted: number;
  jobsNotCompleted: Array<{ status: string; n: number }>;
  tasks: number;
  tasksCompleted: number;
  /** Tasks with more than one granted lease, from task_attempts and from the harness. */
  leasedTwiceDb: number;
  leasedTwiceHarness: number;
  grants: number;
  refused: number;
  claimErrors: number;
  claimsPerSecond: number;
  submitSeconds: number;
  drainSeconds: number;
  leaseP50Ms: number;
  leaseP99Ms: number;
}

/** Submits the jobs, lets the simulated workers drain every task, and reads the outcome from PostgreSQL. */
export async function runDispatchScale(o: DispatchScaleOptions): Promise<DispatchScaleResult> {
  const log = o.log ?? (() => {});
  const stats: HarnessStats = { grants: new Map(), refused: 0, claimErrors: 0, firstGrantAt: 0, lastGrantAt: 0 };
  const workers = await Promise.all(Array.from({ length: o.workers }, (_, i) => SimulatedWorker.start({ id: `sim-${i}-${crypto.randomUUID().slice(0, 8)}`, natsUrl: o.natsUrl, prefix: o.prefix, slots: o.slots ?? 1, stats })));
  const sql = postgres(o.databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const jobCount = Math.max(1, Math.ceil(o.tasks / TASKS_PER_JOB));
    log(`submitting ${jobCount} jobs (${TASKS_PER_JOB} tasks each through the real pipeline) to ${o.workers} simulated workers …`);
    const t0 = performance.now();
    const ids = await submitJobs(o, jobCount);
    const submitSeconds = (performance.now() - t0) / 1000;
    const deadline = Date.now() + (o.timeoutMs ?? 600_000);
    let last = -1;
    for (;;) {
      const [row] = await sql<{ open: number }[]>`select count(*)::int as open from jobs where id = any(${ids}::uuid[]) and status not in ('completed', 'failed', 'cancelled')`;
      if (row!.open === 0) break;
      if (Date.now() > deadline) throw new Error(`${row!.open} of ${jobCount} jobs still open after ${o.timeoutMs ?? 600_000} ms`);
      if (row!.open !== last) log(`  ${row!.open} jobs open, ${stats.grants.size} tasks leased`);
      last = row!.open;
      await Bun.sleep(250);
    }
    const drainSeconds = (performance.now() - t0) / 1000;
    const byStatus = await sql<{ status: string; n: number }[]>`select status, count(*)::int as n from jobs where id = any(${ids}::uuid[]) group by status`;
    const [t] = await sql<{ tasks: number; completed: number; twice: number; p50: number | null; p99: number | null }[]>`
      with t as (select id, status, created_at, started_at from tasks where job_id = any(${ids}::uuid[])),
      a as (select task_id, count(*) as n from task_attempts where task_id in (select id from t) group by task_id)
      select (select count(*)::int from t) as tasks,
             (select count(*)::int from t where status = 'completed') as completed,
             (select count(*)::int from a where n > 1) as twice,
             (select percentile_cont(0.5) within group (order by extract(epoch from started_at - created_at) * 1000) from t where started_at is not null) as p50,
             (select percentile_cont(0.99) within group (order by extract(epoch from started_at - created_at) * 1000) from t where started_at is not null) as p99`;
    const grants = [...stats.grants.values()].reduce((a, b) => a + b, 0);
    const grantSpan = (stats.lastGrantAt - stats.firstGrantAt) / 1000;
    return {
      jobs: jobCount,
      jobsCompleted: byStatus.find((r) => r.status === "completed")?.n ?? 0,
      jobsNotCompleted: byStatus.filter((r) => r.status !== "completed"),
      tasks: t!.tasks,
      tasksCompleted: t!.completed,
      leasedTwiceDb: t!.twice,
      leasedTwiceHarness: [...stats.grants.values()].filter((n) => n > 1).length,
      grants,
      refused: stats.refused,
      claimErrors: stats.claimErrors,
      claimsPerSecond: grantSpan > 0 ? grants / grantSpan : grants,
      submitSeconds,
      drainSeconds,
      leaseP50Ms: Number(t!.p50 ?? NaN),
      leaseP99Ms: Number(t!.p99 ?? NaN),
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop().catch(() => {})));
    await sql.end({ timeout: 2 });
  }
}

/** POST /v1/jobs from 16 concurrent clients; every answer must be 201. Returns the job ids. */
async function submitJobs(o: DispatchScaleOptions, count: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const client = async () => {
    while (next < count) {
      next++;
      const r = await fetch(`${o.apiUrl}/v1/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${o.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify({ source_url: o.sourceKey, profiles: ["360p_h264"] }),
      });
      const body = (await r.json()) as { id?: string };
      if (r.status !== 201 || !body.id) throw new Error(`POST /v1/jobs answered ${r.status}: ${JSON.stringify(body).slice(0, 300)}`);
      ids.push(body.id);
    }
  };
  await Promise.all(Array.from({ length: 16 }, client));
  return ids;
}

/** Writes the never-decoded source file where storage-fs (rooted at DATA_DIR/storage) finds `key`. */
export function placeSource(dataDir: string, key: string): void {
  const path = join(dataDir, "storage", key);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, "never decoded: the simulated workers make up every result");
}

if (import.meta.main) {
  const { Kernel, arg, distDir, fmt, log, loadSampler, main, numArg, onCleanup, printMachine, table, tempDir } = await import("./lib.ts");
  const { TEST_ADMIN_KEY } = await import("../test/helpers/auth.ts");
  const { createTestDatabase } = await import("../test/helpers/db.ts");
  const { cleanupPrefix, natsUrl, uniquePrefix } = await import("../test/helpers/nats.ts");
  await main(async () => {
    printMachine();
    const tasks = numArg("tasks", 10_000);
    const workerCount = numArg("workers", 20);
    const slots = numArg("slots", 1);
    const load = loadSampler();
    const dist = distDir();
    const database = await createTestDatabase();
    onCleanup(() => database.drop());
    const prefix = uniquePrefix();
    onCleanup(() => cleanupPrefix(natsUrl(), prefix).catch(() => {}));
    const dataDir = tempDir("dispatch-data");
    placeSource(dataDir, "bench/source.mp4");
    const { kernel } = await Kernel.start({ dist, dataDir, env: { DATABASE_URL: database.url, NATS_URL: natsUrl(), BUS_PREFIX: prefix, EMBEDDED_WORKER: "false", RATE_LIMIT_RPS: "0", LEASE_TTL: arg("lease-ttl", "300s") } });
    const r = await runDispatchScale({ apiUrl: kernel.url, apiKey: TEST_ADMIN_KEY, natsUrl: natsUrl(), prefix, databaseUrl: database.url, sourceKey: "bench/source.mp4", tasks, workers: workerCount, slots, log, timeoutMs: 1_800_000 });
    log(`\n${r.jobs} jobs submitted through POST /v1/jobs in ${fmt(r.submitSeconds)} s; ${r.tasks} tasks (the kernel planned them: analyze, video chunks, audio, package)`);
    log(`${workerCount} simulated workers × ${slots} slot(s), one compiled distributed kernel, PostgreSQL and NATS on the same host`);
    table(
      ["tasks", "drained in s", "claims/s", "submit→lease p50 ms", "p99 ms", "leased twice (db / harness)", "refused claims", "jobs completed"],
      [[r.tasks, r.drainSeconds, r.claimsPerSecond, r.leaseP50Ms, r.leaseP99Ms, `${r.leasedTwiceDb} / ${r.leasedTwiceHarness}`, r.refused, `${r.jobsCompleted} of ${r.jobs}`]],
    );
    if (r.jobsNotCompleted.length) log(`jobs not completed: ${JSON.stringify(r.jobsNotCompleted)}`);
    const l = load.stop();
    log(`load average during the run: mean ${fmt(l.mean)}, max ${fmt(l.max)}`);
    if (r.leasedTwiceDb || r.leasedTwiceHarness) throw new Error("a task was leased twice");
  });
}
