/**
 * Chaos run (issue 4): N jobs on one kernel and three workers from dist/, while workers are SIGKILLed and
 * restarted at random. Prints jobs submitted/completed/failed, tasks that ran more than once, accepted
 * duplicates (tasks with more than one completed attempt — must be 0), and the time lost to each kill.
 *
 *   bun scripts/chaos.ts [--jobs N] [--kills K] [--workers W] [--timeout SECONDS] [--seed S] [--throwaway]
 *
 * Services: TEST_DATABASE_URL / TEST_NATS_URL (defaults: the local PostgreSQL and NATS) when they answer,
 * otherwise — or with --throwaway — a private nats-server and a private PostgreSQL cluster (initdb) that are
 * removed afterwards. Everything runs under a unique BUS_PREFIX and a fresh database; the script stops by
 * itself (bounded by --timeout) and cleans up, also on Ctrl-C. Exit code 0 when every job completed with
 * exactly one accepted result per task, 1 otherwise. Build first: `bun run build`.
 *
 * A "kill" takes a worker down the way a crashed machine would: the worker and its FFmpeg processes get
 * SIGKILL; the worker comes back (same WORKER_ID, empty WORK_DIR) 1–3 s later. A task it was running is
 * requeued when its lease expires (LEASE_TTL=3s) and retried after the backoff (10 s for a first failure).
 * Time lost to a kill, per task it was running: the work thrown away (attempt start → kill), the time until
 * the lease expired, and the retry backoff; the time the retry then waited behind other queued work is shown
 * apart (it depends on the load, not on the kill).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Cluster, ffmpegPidsMatching, ffmpegWrapper, generateClip, slowVideo, startThrowawayPostgres, type WorkerProc } from "../test/helpers/cluster.ts";
import { adminUrl } from "../test/helpers/db.ts";
import { natsUrl, startNatsServer } from "../test/helpers/nats.ts";

const { values: opt } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    jobs: { type: "string", default: "8" },
    kills: { type: "string", default: "4" },
    workers: { type: "string", default: "3" },
    timeout: { type: "string", default: "600" },
    seed: { type: "string" },
    throwaway: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  process.stdout.write("usage: bun scripts/chaos.ts [--jobs N] [--kills K] [--workers W] [--timeout SECONDS] [--seed S] [--throwaway]\n");
  process.exit(0);
}
const JOBS = Number(opt.jobs);
const KILLS = Number(opt.kills);
const WORKERS = Number(opt.workers);
const TIMEOUT_MS = Number(opt.timeout) * 1000;
if (![JOBS, KILLS, WORKERS, TIMEOUT_MS].every((n) => Number.isInteger(n) && n >= 0) || JOBS < 1 || WORKERS < 1) {
  process.stderr.write("--jobs, --workers: positive integers; --kills, --timeout: integers ≥ 0\n");
  process.exit(2);
}

// A small deterministic PRNG (mulberry32), so a run can be repeated with --seed.
let seed = opt.seed !== undefined ? Number(opt.seed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const SEED = seed;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (lo: number, hi: number) => lo + random() * (hi - lo);

const log = (msg: string) => process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);

async function reachable(check: () => Promise<unknown>): Promise<boolean> {
  try {
    await Promise.race([check(), Bun.sleep(3000).then(() => Promise.reject(new Error("timeout")))]);
    return true;
  } catch {
    return false;
  }
}

const cleanups: Array<() => Promise<void>> = [];
let cleaning: Promise<void> | undefined;
const cleanup = () =>
  (cleaning ??= (async () => {
    for (const c of cleanups.reverse()) await c().catch((e) => log(`cleanup: ${String(e)}`));
  })());
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    log(`${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

interface Kill {
  n: number;
  worker: string;
  at: number;
  /** Tasks leased to the worker when it was killed. */
  leased: Array<{ task_id: string; attempt: number; type: string; seq: number }>;
}

async function main(): Promise<number> {
  const started = Date.now();
  // ---- services ----
  let nats = natsUrl();
  let databaseUrl: string | undefined;
  const { default: postgres } = await import("postgres");
  const { connect } = await import("@nats-io/transport-node");
  const { jetstreamManager } = await import("@nats-io/jetstream");
  const pgOk = !opt.throwaway && (await reachable(async () => {
    const s = postgres(adminUrl(), { max: 1, connect_timeout: 3, onnotice: () => {} });
    try {
      await s`select 1`;
    } finally {
      await s.end({ timeout: 1 });
    }
  }));
  const natsOk = !opt.throwaway && (await reachable(async () => {
    const nc = await connect({ servers: nats, maxReconnectAttempts: 0 });
    try {
      await jetstreamManager(nc, { checkAPI: true });
    } finally {
      await nc.close();
    }
  }));
  if (!natsOk) {
    const n = await startNatsServer({ jetstream: true });
    cleanups.push(() => n.dispose());
    nats = n.url;
  }
  if (!pgOk) {
    const pg = await startThrowawayPostgres();
    cleanups.push(() => pg.dispose());
    databaseUrl = pg.url;
  }
  log(`seed ${SEED}; NATS ${natsOk ? nats : `throwaway ${nats}`}; PostgreSQL ${pgOk ? adminUrl() : `throwaway ${databaseUrl}`}`);

  const c = await Cluster.create({
    name: "chaos",
    natsUrl: nats,
    databaseUrl,
    env: { LEASE_TTL: "3s", BUS_ACK_WAIT: "10s", CHUNK_MIN_DURATION: "2s", CHUNK_MAX_DURATION: "4s", SPLIT_MIN_DURATION: "4s" },
  });
  cleanups.push(() => c.dispose());
  log(`prefix ${c.prefix}; scratch ${c.scratch}`);

  // ---- installation ----
  const clip = await generateClip(join(c.scratch, "media", "clip.mp4"), { seconds: 10 });
  const key = c.addSource("sources/chaos.mp4", clip);
  // Chunks read at real time, so a 2–4 s chunk lasts that long and kills land mid-task.
  const ffmpeg = ffmpegWrapper(c.scratch, "realtime", [slowVideo(1)]);
  const kernel = await c.startKernel("kernel");
  const ids = Array.from({ length: WORKERS }, (_, i) => `chaos-w${i + 1}`);
  const live = new Map<string, WorkerProc>();
  for (const id of ids) live.set(id, await c.startWorker(id, { FFMPEG_PATH: ffmpeg }));

  const jobIds: string[] = [];
  for (let i = 0; i < JOBS; i++) jobIds.push((await c.submit(kernel, { source_url: key, profiles: ["360p_h264"], metadata: { chaos: i } })).id);
  const submittedAt = Date.now();
  log(`submitted ${JOBS} jobs`);

  const deadline = submittedAt + TIMEOUT_MS;
  const openJobs = async () => (await c.sql<{ n: number }[]>`select count(*)::int as n from jobs where id in ${c.sql(jobIds)} and status not in ('completed', 'failed', 'cancelled')`)[0]!.n;

  // ---- kills ----
  const kills: Kill[] = [];
  for (let n = 1; n <= KILLS; n++) {
    await Bun.sleep(between(2000, 6000));
    if (Date.now() > deadline || (await openJobs()) === 0) {
      log(`all jobs finished before kill #${n}; ${n - 1} kill(s) done`);
      break;
    }
    // Prefer a worker that is running something: a kill of an idle worker costs nothing.
    const busy = await c.sql<{ w: string }[]>`select distinct lease_worker_id as w from tasks where status = 'leased' and job_id in ${c.sql(jobIds)}`;
    const candidates = [...live.keys()].filter((id) => busy.some((b) => b.w === id));
    const pool = candidates.length ? candidates : [...live.keys()];
    const id = pool[Math.floor(random() * pool.length)]!;
    const w = live.get(id)!;
    const leased = await c.sql<Kill["leased"]>`select id as task_id, attempt, type, seq from tasks where status = 'leased' and lease_worker_id = ${id}`;
    const at = Date.now();
    w.proc.kill("SIGKILL");
    for (const pid of ffmpegPidsMatching(w.workDir)) process.kill(pid, "SIGKILL");
    await w.proc.exited;
    live.delete(id);
    kills.push({ n, worker: id, at, leased });
    log(`kill #${n}: ${id} (SIGKILL) running ${leased.length ? leased.map((t) => `${t.type}#${t.seq}`).join(", ") : "nothing"}`);
    const back = between(1000, 3000);
    setTimeout(() => {
      if (cleaning) return;
      c.startWorker(id, { FFMPEG_PATH: ffmpeg })
        .then((nw) => {
          live.set(id, nw);
          log(`${id} restarted`);
        })
        .catch((e) => log(`restarting ${id} failed: ${String(e).split("\n")[0]}`));
    }, back);
  }

  // ---- wait ----
  while ((await openJobs()) > 0 && Date.now() < deadline) await Bun.sleep(500);
  const finishedAt = Date.now();
  const timedOut = (await openJobs()) > 0;

  // ---- figures ----
  const jobs = await c.sql<{ status: string; n: number }[]>`select status, count(*)::int as n from jobs where id in ${c.sql(jobIds)} group by status`;
  const count = (s: string) => jobs.find((j) => j.status === s)?.n ?? 0;
  const [t] = await c.sql<{ tasks: number; attempts: number; rerun: number; dup: number }[]>`
    with a as (
      select t.id, count(x.*)::int as attempts, count(x.*) filter (where x.outcome = 'completed')::int as completed
      from tasks t left join task_attempts x on x.task_id = t.id where t.job_id in ${c.sql(jobIds)} group by t.id)
    select count(*)::int as tasks, coalesce(sum(attempts), 0)::int as attempts,
      count(*) filter (where attempts > 1)::int as rerun, count(*) filter (where completed > 1)::int as dup from a`;
  const violations = await c.deliveryViolations(jobIds);
  const attempts = await c.sql<{ task_id: string; attempt: number; worker_id: string; outcome: string | null; started_at: Date; finished_at: Date | null }[]>`
    select task_id, attempt, worker_id, outcome, started_at, finished_at from task_attempts
    where task_id in (select id from tasks where job_id in ${c.sql(jobIds)}) order by task_id, attempt`;
  const handedBack = attempts.filter((a) => a.outcome === "aborted").length;

  const out: string[] = [];
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  out.push(`chaos run: ${JOBS} jobs, 1 kernel, ${WORKERS} workers, ${kills.length} kills (seed ${SEED})`);
  out.push(`jobs submitted:          ${JOBS}`);
  out.push(`jobs completed:          ${count("completed")}`);
  out.push(`jobs failed:             ${count("failed")}${timedOut ? `  (${JOBS - count("completed") - count("failed")} unfinished after the ${opt.timeout} s timeout)` : ""}`);
  out.push(`tasks:                   ${t!.tasks} (${t!.attempts} attempts)`);
  out.push(`tasks run more than once: ${t!.rerun}`);
  out.push(`accepted duplicates:     ${t!.dup} (tasks with more than one completed attempt; must be 0)`);
  out.push(`invariant violations:    ${violations.length}${violations.length ? `\n  ${violations.join("\n  ")}` : ""}`);
  out.push(`wall time:               ${secs(finishedAt - submittedAt)} from submission to the last job's end`);
  const requeues = await c.sql<{ task_id: string; attempt: number; retry_in_ms: number | null }[]>`
    select task_id, (detail->>'attempt')::int as attempt, (detail->>'retry_in_ms')::int as retry_in_ms from job_events
    where job_id in ${c.sql(jobIds)} and to_status = 'task:queued'`;
  let totalLost = 0;
  let totalQueued = 0;
  for (const k of kills) {
    const rel = secs(k.at - submittedAt);
    if (!k.leased.length) {
      out.push(`kill #${k.n} at +${rel}: ${k.worker} was idle — 0 s lost`);
      continue;
    }
    for (const l of k.leased) {
      const dead = attempts.find((a) => a.task_id === l.task_id && a.attempt === l.attempt);
      const retry = attempts.find((a) => a.task_id === l.task_id && a.attempt === l.attempt + 1);
      if (!dead) continue;
      const ran = k.at - dead.started_at.getTime();
      const detected = (dead.finished_at?.getTime() ?? finishedAt) - k.at;
      const backoff = requeues.find((r) => r.task_id === l.task_id && r.attempt === l.attempt + 1)?.retry_in_ms ?? 0;
      const lost = ran + detected + backoff;
      const queued = retry ? retry.started_at.getTime() - (dead.finished_at?.getTime() ?? k.at) - backoff : 0;
      totalLost += lost;
      totalQueued += Math.max(0, queued);
      out.push(
        `kill #${k.n} at +${rel}: ${k.worker} running ${l.type}#${l.seq} — ${secs(lost)} lost (${secs(ran)} of work thrown away + lease expired ${secs(detected)} after the kill + ${secs(backoff)} backoff)` +
          (retry ? `; the retry then waited ${secs(Math.max(0, queued))} in the queue and ended ${retry.outcome ?? "open"} on ${retry.worker_id}` : "; never retried"),
      );
    }
  }
  out.push(`time lost to kills:      ${secs(totalLost)} in total (work thrown away + lease expiry + retry backoff; plus ${secs(totalQueued)} of retries waiting behind other work)`);
  if (handedBack) out.push(`attempts handed back:    ${handedBack}`);
  process.stdout.write(`${out.join("\n")}\n`);
  log(`done in ${secs(Date.now() - started)}`);
  return count("completed") === JOBS && t!.dup === 0 && violations.length === 0 ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
} finally {
  await cleanup();
}
process.exit(code);
