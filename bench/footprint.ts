/**
 * Footprint of the compiled kernel and worker (issue 20): how fast they start and what they cost idle.
 *
 * - Distributed kernel (PostgreSQL + NATS, no embedded worker, schema already migrated): exec → first 200 on
 *   /v1/health (median of N), RSS at ready and after the idle window, CPU over the idle window.
 *   Baseline in the same run: a compiled hello-world HTTP server (same build flags), exec → first 200, RSS.
 * - Worker: exec → "worker registered" (a distributed kernel is up), RSS and CPU over the idle window. The
 *   first start discovers FFmpeg's capabilities (no cache); the other N share its WORK_DIR, so they register
 *   from the capability cache (src/worker/capability-cache.ts), as a restart with the same FFmpeg does.
 * - Standalone kernel (embedded PGlite, in-process bus, embedded worker) on an existing DATA_DIR: → healthy,
 *   RSS, CPU over the idle window.
 * - Where the milliseconds and megabytes go: the kernel's own start timeline (one extra start of each kernel
 *   with LOG_LEVEL=debug: "start timeline (ms since exec)", src/kernel/start.ts), and each heavy library
 *   imported alone in `bun` (wall, RSS) beside `bun -e` of nothing.
 *
 * - Idle windows start after --settle seconds left alone (default 10: the JIT tiering up the start's code and
 *   the plugin handshakes are start-up work, not idle work; --settle 0 measures from ready); each process's
 *   idle CPU is also split by thread (event loop vs JIT, GC and allocator threads).
 *
 *   node_modules/.bin/bun bench/footprint.ts [--runs 5] [--idle 60] [--settle 10] [--dist /tmp/bench-dist] [--rebuild]
 *   (--idle 10 for a quick run; the targets are stated for 60 s)
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { sql } from "drizzle-orm";
import { rowsOf } from "../src/db/exec.ts";
import { join } from "node:path";
import { createTestDatabase } from "../test/helpers/db.ts";
import { cleanupPrefix, natsUrl, uniquePrefix } from "../test/helpers/nats.ts";
import {
  BUN, Kernel, ROOT, descendants, distDir, fmt, freePort, log, loadSampler, main, median, mib, numArg, onCleanup, printMachine, rssBytes, sum, table, tempDir, timed, treeCpuMs,
} from "./lib.ts";

const RUNS = numArg("runs", 5);
const IDLE_S = numArg("idle", 60);
/** Seconds left alone after start before the idle window: the JIT and the plugin handshakes settle first. */
const SETTLE_S = numArg("settle", 10);

/** Polls `url` every 2 ms from `t0` until it answers 200; returns ms since t0. */
async function first200(url: string, t0: number, alive: () => boolean, timeoutMs = 60_000): Promise<number> {
  for (;;) {
    if (!alive()) throw new Error(`${url}: the process exited before answering`);
    try {
      const r = await fetch(url);
      await r.arrayBuffer();
      if (r.status === 200) return performance.now() - t0;
    } catch {
      // not listening yet
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`${url}: no 200 after ${timeoutMs} ms`);
    await Bun.sleep(2);
  }
}

/**
 * One more start with LOG_LEVEL=debug (not counted in the figures: debug logging costs a little), for the
 * kernel's own start timeline: milestone → ms since exec. Waits for the line (it is logged once the plugin
 * processes have settled, after listening).
 */
async function startTimeline(o: Parameters<typeof Kernel.start>[0]): Promise<Record<string, number>> {
  const { kernel, readyMs } = await Kernel.start({ ...o, env: { ...o.env, LOG_LEVEL: "debug" }, pollMs: 2 });
  try {
    const deadline = performance.now() + 60_000;
    for (;;) {
      const line = readFileSync(kernel.logPath, "utf8")
        .split("\n")
        .find((l) => l.includes("start timeline"));
      if (line) return { ...(JSON.parse(line) as { timeline: Record<string, number> }).timeline, "→ /v1/health 200 (bench)": Math.round(readyMs) };
      if (performance.now() > deadline) throw new Error(`no start timeline in the kernel's log:\n${kernel.logTail()}`);
      await Bun.sleep(50);
    }
  } finally {
    await kernel.stop();
  }
}

interface Idle {
  rss: number;
  treeRss: number;
  cpuPct: number;
  /** CPU of the process alone (without plugin children), % of one core. */
  ownCpuPct: number;
  /** Processes in the tree (the process and its plugin processes). */
  processes: number;
  /** The main (event-loop) thread's voluntary context switches per second: how often an idle process wakes. */
  wakeupsPerS: number;
  /** CPU of the process's own threads by name (% of one core): the event loop vs JIT, GC, allocator. */
  threads: Record<string, number>;
}

/** CPU ms of each thread of a process so far, by thread name; the main thread is "main (event loop)". */
function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = tid === String(pid) ? "main (event loop)" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) * 10); // clock ticks of 10 ms
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** Voluntary context switches of a process's main thread so far (/proc/<pid>/status). */
function wakeups(pid: number): number {
  const m = /voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0);
}

/** RSS and CPU (% of one core, the whole process tree) over `seconds` of doing nothing, after SETTLE_S. */
async function idle(pid: number, seconds: number, settleS = SETTLE_S): Promise<Idle> {
  await Bun.sleep(settleS * 1000);
  const ownCpuMs = () => sum([pid].map((p) => treeCpuMs(p) - sum(descendants(p).map((child) => treeCpuMs(child)))));
  const cpu0 = treeCpuMs(pid);
  const own0 = ownCpuMs();
  const wake0 = wakeups(pid);
  const threads0 = threadCpuMs(pid);
  const t0 = performance.now();
  await Bun.sleep(seconds * 1000);
  const elapsed = performance.now() - t0;
  const cpuPct = (100 * (treeCpuMs(pid) - cpu0)) / elapsed;
  const ownCpuPct = (100 * (ownCpuMs() - own0)) / elapsed;
  const wakeupsPerS = ((wakeups(pid) - wake0) * 1000) / elapsed;
  const threads: Record<string, number> = {};
  for (const [name, ms] of threadCpuMs(pid)) if (ms > (threads0.get(name) ?? 0)) threads[name] = (100 * (ms - (threads0.get(name) ?? 0))) / elapsed;
  const tree = [pid, ...descendants(pid)];
  return { rss: rssBytes(pid), treeRss: sum(tree.map(rssBytes)), cpuPct, ownCpuPct, processes: tree.length, wakeupsPerS, threads };
}

async function helloServer(tmp: string): Promise<{ readyMs: number[]; rss: number; idle: Idle }> {
  const source = join(tmp, "hello-http.ts");
  writeFileSync(source, `Bun.serve({ hostname: "127.0.0.1", port: Number(process.env.PORT), fetch: () => new Response("ok") });\n`);
  const binary = join(tmp, "hello-http");
  const b = Bun.spawnSync([BUN, "build", "--compile", "--minify", "--bytecode", "--format=esm", "--sourcemap=none", source, "--outfile", binary], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (b.exitCode !== 0) throw new Error(`cannot compile the hello-world server: ${b.stderr.toString()}`);
  const readyMs: number[] = [];
  let rss = 0;
  let idled: Idle = { rss: 0, treeRss: 0, cpuPct: 0, ownCpuPct: 0, processes: 1, wakeupsPerS: 0, threads: {} };
  for (let i = 0; i < RUNS; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const p = Bun.spawn([binary], { env: { PORT: String(port) }, stdout: "ignore", stderr: "ignore" });
    onCleanup(() => p.kill("SIGKILL"));
    readyMs.push(await first200(`http://127.0.0.1:${port}/`, t0, () => p.exitCode === null));
    if (i === 0) {
      rss = rssBytes(p.pid);
      idled = await idle(p.pid, Math.min(IDLE_S, 10), 0);
    }
    p.kill("SIGKILL");
    await p.exited;
  }
  return { readyMs, rss, idle: idled };
}

/** `bun -e 'await import(X)'`: wall and RSS at the end, for the libraries a kernel or worker may load. */
async function importCosts(): Promise<Array<[string, number, number]>> {
  const libraries = ["elysia", "drizzle-orm/postgres-js", "postgres", "@electric-sql/pglite", "@aws-sdk/client-s3", "@nats-io/transport-node", "@nats-io/jetstream", "pino", "prom-client", "@elysiajs/openapi", "jose", "valibot"];
  const rows: Array<[string, number, number]> = [];
  const measure = async (code: string) => {
    const walls: number[] = [];
    let rss = 0;
    for (let i = 0; i < 3; i++) {
      const r = await timed([BUN, "-e", `${code}; const m = require("node:fs").readFileSync("/proc/self/status", "utf8").match(/VmRSS:\\s+(\\d+)/); console.log(m[1]);`], { cwd: ROOT, stdout: true });
      walls.push(r.wallMs);
      rss = Number(r.stdout.trim()) * 1024;
    }
    return [median(walls), rss] as const;
  };
  const [baseWall, baseRss] = await measure("0");
  rows.push(["baseline: bun -e (nothing imported)", baseWall, mib(baseRss)]);
  for (const library of libraries) {
    const [wall, rss] = await measure(`await import(${JSON.stringify(library)})`);
    rows.push([library, wall - baseWall, mib(rss - baseRss)]);
  }
  return rows;
}

await main(async () => {
  printMachine();
  const load = loadSampler();
  const dist = distDir();
  const tmp = tempDir("footprint");

  log(`\nbaseline: compiled hello-world HTTP server (N=${RUNS}) …`);
  const hello = await helloServer(tmp);

  // A migrated database and a private bus prefix, shared by every distributed kernel and the worker.
  const database = await createTestDatabase();
  onCleanup(() => database.drop());
  const prefix = uniquePrefix();
  onCleanup(() => cleanupPrefix(natsUrl(), prefix).catch(() => {}));
  const distributedEnv = { DATABASE_URL: database.url, NATS_URL: natsUrl(), BUS_PREFIX: prefix, EMBEDDED_WORKER: "false" };

  log(`distributed kernel (N=${RUNS}, idle ${IDLE_S} s on the last) …`);
  const kernelReady: number[] = [];
  let kernelRssAtReady = 0;
  let kernelIdle: Idle | undefined;
  let kernel: Kernel | undefined;
  for (let i = 0; i < RUNS; i++) {
    const started = await Kernel.start({ dist, dataDir: join(tmp, `kernel-data-${i}`), env: distributedEnv, pollMs: 2 });
    kernelReady.push(started.readyMs);
    kernelRssAtReady = rssBytes(started.kernel.pid);
    if (i < RUNS - 1) await started.kernel.stop();
    else kernel = started.kernel;
  }
  const kernelTimeline = await startTimeline({ dist, dataDir: join(tmp, "kernel-data-timeline"), env: distributedEnv });
  // Statements the idle kernel runs: transactions committed in its database over the idle window.
  const transactions = async () => {
    const [row] = rowsOf<{ n: string }>(await database.database.db.execute(sql`select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()`));
    return Number(row?.n ?? 0);
  };
  const tx0 = await transactions();
  kernelIdle = await idle(kernel!.pid, IDLE_S);
  const idleTxPerS = (await transactions()) - tx0 - 1;

  log(`worker (N=${RUNS}, idle ${IDLE_S} s on the last) …`);
  const workerReady: number[] = [];
  let workerCold = 0;
  let workerIdle: Idle | undefined;
  // One directory for every start: run 0 discovers and writes the cache beside WORK_DIR, the rest reuse it.
  const work = tempDir("worker");
  for (let i = -1; i < RUNS; i++) {
    const t0 = performance.now();
    const p = Bun.spawn([join(dist, "webencode-worker")], {
      cwd: work,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", NATS_URL: natsUrl(), BUS_PREFIX: prefix, WORKER_ID: `bench-w${i + 1}`, WORK_DIR: join(work, "work"), PLUGIN_DIR: join(work, "plugins"), WORKER_METRICS_PORT: "0", LOG_LEVEL: "info" },
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    onCleanup(() => p.kill("SIGKILL"));
    let text = "";
    const reader = p.stderr.getReader();
    const decoder = new TextDecoder();
    while (!text.includes("worker registered")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`worker exited before registering:\n${text.slice(-2000)}`);
      text += decoder.decode(value, { stream: true });
    }
    if (i < 0) workerCold = performance.now() - t0;
    else workerReady.push(performance.now() - t0);
    void (async () => {
      while (!(await reader.read().catch(() => ({ done: true }))).done);
    })();
    if (i === RUNS - 1) workerIdle = await idle(p.pid, IDLE_S);
    p.kill("SIGTERM");
    await p.exited;
  }
  await kernel!.stop();

  log(`standalone kernel, existing DATA_DIR (N=${RUNS}, idle ${IDLE_S} s on the last) …`);
  const standaloneDir = join(tmp, "standalone-data");
  const first = await Kernel.start({ dist, dataDir: standaloneDir, timeoutMs: 180_000 });
  await first.kernel.stop();
  const standaloneReady: number[] = [];
  let standaloneRss = 0;
  let standaloneIdle: Idle | undefined;
  for (let i = 0; i < RUNS; i++) {
    const started = await Kernel.start({ dist, dataDir: standaloneDir, pollMs: 2 });
    standaloneReady.push(started.readyMs);
    standaloneRss = rssBytes(started.kernel.pid);
    if (i === RUNS - 1) standaloneIdle = await idle(started.kernel.pid, IDLE_S);
    await started.kernel.stop();
  }
  const standaloneTimeline = await startTimeline({ dist, dataDir: standaloneDir });

  log("import cost of each library alone (bun -e, median of 3) …");
  const imports = await importCosts();
  const loadAvg = load.stop();

  const helloMed = median(hello.readyMs);
  log(`\nexec → first 200 / registered (median of ${RUNS}; min–max), baseline = compiled hello-world HTTP server:`);
  table(
    ["what", "median ms", "min", "max", "÷ baseline", "target"],
    [
      ["baseline: compiled hello-world HTTP server", helloMed, Math.min(...hello.readyMs), Math.max(...hello.readyMs), 1, ""],
      ["distributed kernel → /v1/health 200", median(kernelReady), Math.min(...kernelReady), Math.max(...kernelReady), median(kernelReady) / helloMed, "≤ 50 ms"],
      ["worker → registered, first start (capability discovery, N=1)", workerCold, workerCold, workerCold, workerCold / helloMed, ""],
      ["worker → registered, restart (capability cache)", median(workerReady), Math.min(...workerReady), Math.max(...workerReady), median(workerReady) / helloMed, "≤ 200 ms"],
      ["standalone kernel, existing DATA_DIR → 200", median(standaloneReady), Math.min(...standaloneReady), Math.max(...standaloneReady), median(standaloneReady) / helloMed, "≤ 500 ms"],
    ],
  );
  log(`\nmemory and idle CPU (idle window ${IDLE_S} s after ${SETTLE_S} s left alone; CPU of the process tree, % of one core):`);
  const row = (name: string, atReady: number | undefined, i: Idle, target: string) => [
    name, atReady === undefined ? "" : mib(atReady), mib(i.rss), `${fmt(mib(i.treeRss))} (${i.processes})`, i.ownCpuPct, i.cpuPct, i.wakeupsPerS, i.rss / hello.idle.rss, target,
  ];
  table(
    ["what", "RSS at ready MiB", "RSS idle MiB", "tree RSS MiB (processes)", "idle CPU % (process)", "idle CPU % (tree)", "main thread wake-ups/s", "RSS ÷ baseline", "target"],
    [
      row("baseline: compiled hello-world HTTP server", hello.rss, hello.idle, ""),
      row("distributed kernel", kernelRssAtReady, kernelIdle, "≤ 80 MiB, ≤ 1 %"),
      row("worker", undefined, workerIdle!, "≤ 60 MiB"),
      row("standalone kernel (embedded worker)", standaloneRss, standaloneIdle!, "≤ 2 %"),
    ],
  );
  log(`idle distributed kernel: ${fmt(idleTxPerS / IDLE_S)} database transactions/s (reconciler, leader lock, worker sync)`);
  log("idle CPU by thread of the process (% of one core): event loop vs the engine's own threads (JIT, GC, allocator):");
  const threadNames = [...new Set([kernelIdle, workerIdle!, standaloneIdle!].flatMap((i) => Object.keys(i.threads)))].sort();
  table(["thread", "distributed kernel", "worker", "standalone kernel"], threadNames.map((n) => [n, kernelIdle.threads[n] ?? 0, workerIdle!.threads[n] ?? 0, standaloneIdle!.threads[n] ?? 0]));
  log("\nwhere the start goes: the kernel's start timeline (one LOG_LEVEL=debug start each; ms since exec, + ms since the previous milestone):");
  const milestones = [...new Set([...Object.keys(kernelTimeline), ...Object.keys(standaloneTimeline)])].sort(
    (a, b) => (kernelTimeline[a] ?? standaloneTimeline[a] ?? 0) - (kernelTimeline[b] ?? standaloneTimeline[b] ?? 0),
  );
  const step = (t: Record<string, number>, name: string) => {
    const at = t[name];
    if (at === undefined) return "";
    const before = Math.max(0, ...Object.values(t).filter((v) => v <= at && v !== at));
    return `${at} (+${at - before})`;
  };
  table(["milestone", "distributed kernel ms", "standalone kernel ms"], milestones.map((m) => [m, step(kernelTimeline, m), step(standaloneTimeline, m)]));
  log("\nwhere it goes: each library imported alone in bun, over bun -e of nothing (median of 3):");
  table(["library", "+ms", "+RSS MiB"], imports.map(([name, ms, rss]) => [name, ms, rss]));
  log(`\nload average during the run: mean ${fmt(loadAvg.mean)}, max ${fmt(loadAvg.max)} (other work on this host skews wall times; compare the ratios)`);
});
