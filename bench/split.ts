/**
 * Split speed-up: the same chunked job on ONE worker against TWO workers with disjoint CPU sets, simulating
 * two machines' worth of cores on one host with `taskset` (a worker's FFmpeg and FFprobe children inherit
 * its CPU set, and x264 sizes its thread pool from that set).
 *
 *   kernel   : distributed mode (PostgreSQL + NATS, no embedded worker), not pinned; the chunking is forced
 *              so both runs plan the same chunks: SPLIT_MIN_DURATION=1s and CHUNK_MIN_DURATION =
 *              CHUNK_MAX_DURATION = duration ÷ chunks (the planner's chunk count is then `chunks` whatever
 *              the free slots); the source has a keyframe every second, so the chunks are equal
 *   one      : worker A alone (`taskset -c <set A>`, WORKER_CONCURRENCY=1)
 *   two      : worker A and worker B (`taskset -c <set B>`), WORKER_CONCURRENCY=1 each
 *   speed-up : one-worker wall ÷ two-worker wall (job created_at → finished_at, server clock), beside the
 *              ideal 2.0; also for the video phase alone (first video task start → last video task end),
 *              and the serial rest (analyze, audio, package) that bounds the whole job's speed-up (Amdahl)
 *
 * Runs alternate (one, two, one, two, …), N rounds; medians. Default CPU sets: the host's CPUs halved
 * (`0` and `1` on a 2-core host); `--sets 0-3/4-7` names them.
 *
 *   node_modules/.bin/bun bench/split.ts [--rounds 2] [--duration 20] [--height 720] [--chunks 4]
 *     [--profiles hls_h264_ladder] [--outputs hls] [--sets 0/1] [--dist /tmp/bench-dist]
 */
import { cpus } from "node:os";
import { join } from "node:path";
import { createTestDatabase } from "../test/helpers/db.ts";
import { cleanupPrefix, natsUrl, uniquePrefix } from "../test/helpers/nats.ts";
import {
  arg, distDir, ensureSource, fmt, Kernel, log, loadSampler, main, median, ms, numArg, onCleanup, printMachine, table, tempDir, type JobDetail, type TaskView,
} from "./lib.ts";

const ROUNDS = numArg("rounds", 2);
const DURATION = numArg("duration", 20);
const HEIGHT = numArg("height", 720);
const CHUNKS = numArg("chunks", 4);
const PROFILES = arg("profiles", "hls_h264_ladder").split(",");
const OUTPUTS = arg("outputs", "hls").split(",");
const IDEAL = 2;

/** `--sets A/B`, or the host's CPUs halved: worker A's set and worker B's set. */
function cpuSets(): [string, string] {
  const given = arg("sets", "");
  if (given) {
    const [a, b] = given.split("/");
    if (!a || !b) throw new Error(`--sets must be two taskset CPU lists separated by "/" (got ${given})`);
    return [a, b];
  }
  const n = cpus().length;
  if (n < 2) throw new Error("the split benchmark needs at least 2 CPUs");
  const half = Math.floor(n / 2);
  const list = (from: number, to: number) => (from === to ? String(from) : `${from}-${to}`);
  return [list(0, half - 1), list(half, 2 * half - 1)];
}

interface Worker {
  id: string;
  proc: ReturnType<typeof Bun.spawn>;
}

interface Run {
  workers: number;
  wallMs: number;
  videoMs: number;
  job: Omit<JobDetail, "tasks"> & { tasks: Array<TaskView & { worker_id?: string | null }> };
}

await main(async () => {
  printMachine();
  if (Bun.spawnSync(["taskset", "-c", "0", "true"]).exitCode !== 0) throw new Error("taskset (util-linux) is needed");
  const [setA, setB] = cpuSets();
  const dist = distDir();
  const width = Math.round((HEIGHT * 16) / 9 / 2) * 2;
  // A keyframe every second: the forced chunk boundaries land exactly on duration ÷ chunks.
  const src = await ensureSource({ width, height: HEIGHT, fps: 30, duration_s: DURATION, gop: 30 });
  const tiny = await ensureSource({ width: 320, height: 240, fps: 30, duration_s: 2 });
  const tmp = tempDir("split");

  const database = await createTestDatabase();
  onCleanup(() => database.drop());
  const prefix = uniquePrefix();
  onCleanup(() => cleanupPrefix(natsUrl(), prefix).catch(() => {}));
  const chunkMs = Math.round((DURATION * 1000) / CHUNKS);
  const { kernel } = await Kernel.start({
    dist,
    dataDir: join(tmp, "data"),
    env: {
      DATABASE_URL: database.url, NATS_URL: natsUrl(), BUS_PREFIX: prefix, EMBEDDED_WORKER: "false",
      SPLIT_MIN_DURATION: "1s", CHUNK_MIN_DURATION: `${chunkMs}ms`, CHUNK_MAX_DURATION: `${chunkMs}ms`,
    },
  });

  const startWorker = async (id: string, set: string): Promise<Worker> => {
    const work = join(tmp, id);
    const proc = Bun.spawn(["taskset", "-c", set, join(dist, "webencode-worker")], {
      cwd: tmp,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", NATS_URL: natsUrl(), BUS_PREFIX: prefix, WORKER_ID: id,
        WORK_DIR: join(work, "work"), PLUGIN_DIR: join(work, "plugins"), WORKER_METRICS_PORT: "0", WORKER_CONCURRENCY: "1", HEARTBEAT_INTERVAL: "1s",
        OUTBOUND_ALLOW_CIDRS: "127.0.0.0/8,::1/128", LOG_LEVEL: "info",
      },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    onCleanup(() => proc.kill("SIGKILL"));
    // Registered = its plugins are up and it takes tasks; the rest of its log is drained and dropped.
    const reader = proc.stderr.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const deadline = performance.now() + 120_000;
    while (!text.includes("worker registered")) {
      if (performance.now() > deadline) throw new Error(`worker ${id} not registered after 120 s:\n${text.slice(-2000)}`);
      const { value, done } = await reader.read();
      if (done) throw new Error(`worker ${id} exited before registering:\n${text.slice(-2000)}`);
      text += decoder.decode(value, { stream: true });
    }
    void (async () => {
      while (!(await reader.read().catch(() => ({ done: true }))).done);
    })();
    return { id, proc };
  };
  const stopWorker = async (w: Worker) => {
    w.proc.kill("SIGTERM");
    await w.proc.exited;
  };

  const srcUrl = await kernel.upload(src, "split-src.mp4");
  const tinyUrl = await kernel.upload(tiny, "tiny.mp4");
  const runJob = async (url: string) => {
    const created = await kernel.api<{ id: string }>("POST", "/v1/jobs", { source_url: url, profiles: PROFILES, outputs: OUTPUTS });
    const { job } = await kernel.waitJob(created.id, { pollMs: 1000 });
    return job as unknown as Run["job"];
  };

  log(`warm-up job on worker A (taskset -c ${setA}), not counted …`);
  const warm = await startWorker("split-a", setA);
  await runJob(tinyUrl);
  await stopWorker(warm);

  const load = loadSampler();
  const runs: Run[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    for (const n of [1, 2]) {
      const workers = [await startWorker("split-a", setA)];
      if (n === 2) workers.push(await startWorker("split-b", setB));
      const job = await runJob(srcUrl);
      for (const w of workers) await stopWorker(w);
      const video = job.tasks.filter((t) => t.type === "video");
      if (video.length !== CHUNKS) throw new Error(`expected ${CHUNKS} video tasks (one per chunk), got ${video.length}: is the ladder split into several groups?`);
      const videoMs = Math.max(...video.map((t) => ms(t.finished_at))) - Math.min(...video.map((t) => ms(t.started_at)));
      const run = { workers: n, wallMs: ms(job.finished_at) - ms(job.created_at), videoMs, job };
      runs.push(run);
      const on = [...new Set(job.tasks.map((t) => t.worker_id).filter(Boolean))].join(", ");
      log(`  round ${i + 1}/${ROUNDS}: ${n} worker${n > 1 ? "s" : ""} ${fmt(run.wallMs / 1000)} s (video phase ${fmt(videoMs / 1000)} s; tasks ran on ${on})`);
    }
  }
  const loadStats = load.stop();

  const of = (n: number) => runs.filter((r) => r.workers === n);
  const wall1 = median(of(1).map((r) => r.wallMs));
  const wall2 = median(of(2).map((r) => r.wallMs));
  const video1 = median(of(1).map((r) => r.videoMs));
  const video2 = median(of(2).map((r) => r.videoMs));
  log("");
  log(`## Split speed-up: ${PROFILES.join(",")} → ${OUTPUTS.join(",")}, ${DURATION} s ${width}x${HEIGHT} 30 fps + AAC, ${CHUNKS} chunks (N=${ROUNDS}; load average mean ${fmt(loadStats.mean)}, max ${fmt(loadStats.max)})`);
  log(`CPU sets: worker A taskset -c ${setA}, worker B taskset -c ${setB}; kernel, PostgreSQL and NATS unpinned`);
  table(
    ["run", "job wall s (median)", "video phase s (median)", "serial rest s (median)"],
    [
      [`1 worker (CPUs ${setA})`, wall1 / 1000, video1 / 1000, median(of(1).map((r) => r.wallMs - r.videoMs)) / 1000],
      [`2 workers (CPUs ${setA} / ${setB})`, wall2 / 1000, video2 / 1000, median(of(2).map((r) => r.wallMs - r.videoMs)) / 1000],
    ],
  );
  log("");
  table(
    ["speed-up (1 worker ÷ 2 workers)", "value", "ideal"],
    [
      ["whole job (wall)", wall1 / wall2, IDEAL],
      ["video phase (chunks only)", video1 / video2, IDEAL],
    ],
  );
  log("");
  log("## Two-worker timeline (last round; s from job creation)");
  const last = of(2).at(-1)!.job;
  const c0 = ms(last.created_at);
  table(
    ["task", "worker", "start", "end", "s"],
    [...last.tasks]
      .sort((a, b) => ms(a.started_at) - ms(b.started_at))
      .map((t) => [`${t.type} ${t.seq}`, t.worker_id ?? "?", (ms(t.started_at) - c0) / 1000, (ms(t.finished_at) - c0) / 1000, (ms(t.finished_at) - ms(t.started_at)) / 1000]),
  );
  await kernel.stop();
});
