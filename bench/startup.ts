/**
 * Startup benchmark of the compiled kernel in standalone mode (embedded PGlite, in-process bus, embedded
 * worker): spawn → first 200 on /v1/health with a fresh and with an existing DATA_DIR, RSS at that moment
 * and after an idle period, `--version` time, and the size of the release binaries. Baselines measured in
 * the same run: `bun -e` hello world, and the same hello world compiled with the flags of scripts/build.ts.
 *
 *   node_modules/.bin/bun bench/startup.ts [--runs 5] [--idle 10] [--dist /tmp/bench-dist] [--rebuild]
 */
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BUN, Kernel, ROOT, descendants, distDir, fmt, log, loadSampler, main, max, median, mib, min, numArg, printMachine, rssBytes, sum, table, tempDir, timed, treeCpuMs,
} from "./lib.ts";

const RUNS = numArg("runs", 5);
const IDLE_S = numArg("idle", 10);
const REPEAT = 10; // short commands (--version, hello world)
const PG_RUNS = numArg("pg-runs", 3);

interface StartRun {
  readyMs: number;
  rssKernel: number;
  rssTree: number;
  cpuMs: number;
  procs: number;
  idleRssKernel: number;
  idleRssTree: number;
  /** CPU of the process tree during the idle period, % of one core. */
  idleCpuPct: number;
  /** Set when the kernel was gone at the end of the idle period. */
  exited?: string;
}

async function startOnce(dist: string, dataDir: string): Promise<StartRun> {
  const { kernel, readyMs } = await Kernel.start({ dist, dataDir, pollMs: 5 });
  const tree = () => [kernel.pid, ...descendants(kernel.pid)];
  const rssKernel = rssBytes(kernel.pid);
  const pids = tree();
  const rssTree = sum(pids.map(rssBytes));
  const cpuMs = treeCpuMs(kernel.pid);
  const t0 = performance.now();
  await Bun.sleep(IDLE_S * 1000);
  const idleCpuPct = (100 * (treeCpuMs(kernel.pid) - cpuMs)) / (performance.now() - t0);
  const idleRssKernel = rssBytes(kernel.pid);
  const idleRssTree = sum(tree().map(rssBytes));
  let exited: string | undefined;
  if (kernel.proc.exitCode !== null || kernel.proc.signalCode !== null) {
    // A kernel that dies while idle is a bug to report, not a data point for the idle figures.
    exited = `code ${kernel.proc.exitCode}, signal ${kernel.proc.signalCode}`;
    log(`  WARNING: the kernel exited while idle (${exited}); its log ends with:\n${kernel.logTail()}`);
  }
  await kernel.stop();
  return { readyMs, rssKernel, rssTree, cpuMs, procs: pids.length, idleRssKernel, idleRssTree, idleCpuPct, exited };
}

const alive = (runs: StartRun[]) => runs.filter((r) => !r.exited);

async function repeat(argv: string[], n = REPEAT): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await timed(argv)).wallMs);
  return out;
}

await main(async () => {
  printMachine();
  const dist = distDir({ plugins: true });
  const tmp = tempDir("startup");

  // ---- baselines: a Bun process start, and a compiled Bun executable doing nothing -------------------
  const hello = join(tmp, "hello.ts");
  writeFileSync(hello, 'console.log("hello");\n');
  const helloBin = join(tmp, "hello");
  const b = Bun.spawnSync([BUN, "build", "--compile", "--minify", "--bytecode", "--format=esm", "--sourcemap=none", hello, "--outfile", helloBin], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (b.exitCode !== 0) throw new Error(`cannot compile the hello-world baseline: ${b.stderr.toString()}`);

  // The embedded database on its own (same PGlite package, under bun): how much of the kernel's start it is.
  const pgScript = join(tmp, "pglite-open.ts");
  writeFileSync(
    pgScript,
    `import { PGlite } from ${JSON.stringify(join(ROOT, "node_modules/@electric-sql/pglite/dist/index.js"))};
const db = new PGlite(process.argv[2]);
await db.waitReady;
await db.query("select 1");
const rss = Number(require("node:fs").readFileSync("/proc/self/status", "utf8").match(/VmRSS:\\s+(\\d+)/)[1]) * 1024;
await db.close();
console.log(JSON.stringify({ rss }));
`,
  );
  const pgOpen = async (dir: string) => {
    const r = await timed([BUN, pgScript, dir], { stdout: true });
    return { ms: r.wallMs, rss: (JSON.parse(r.stdout) as { rss: number }).rss };
  };

  const load = loadSampler();
  const pgFresh: Array<{ ms: number; rss: number }> = [];
  const pgExisting: Array<{ ms: number; rss: number }> = [];
  for (let i = 0; i < PG_RUNS; i++) {
    pgFresh.push(await pgOpen(join(tmp, `pg-${i}`)));
    pgExisting.push(await pgOpen(join(tmp, "pg-0")));
  }
  const bunE = await repeat([BUN, "-e", 'console.log("hello")']);
  const helloRun = await repeat([helloBin]);
  const kVersion = await repeat([join(dist, "webencode-kernel"), "--version"]);
  const wVersion = await repeat([join(dist, "webencode-worker"), "--version"]);

  // ---- kernel startup: fresh and existing DATA_DIR, interleaved so host load hits both alike ----------
  const existing = join(tmp, "data-existing");
  log(`preparing an existing DATA_DIR (one start, not counted) …`);
  await startOnceQuick(dist, existing);
  const fresh: StartRun[] = [];
  const warm: StartRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    const f = await startOnce(dist, join(tmp, `data-fresh-${i}`));
    fresh.push(f);
    log(`  run ${i + 1}/${RUNS}: fresh ${fmt(f.readyMs)} ms (rss ${fmt(mib(f.rssKernel))} MiB)`);
    const e = await startOnce(dist, existing);
    warm.push(e);
    log(`  run ${i + 1}/${RUNS}: existing ${fmt(e.readyMs)} ms (rss ${fmt(mib(e.rssKernel))} MiB)`);
  }
  const loadStats = load.stop();

  // ---- sizes ---------------------------------------------------------------------------------------
  const size = (p: string) => statSync(p).size;
  const kernelSize = size(join(dist, "webencode-kernel"));
  const workerSize = size(join(dist, "webencode-worker"));
  const pluginDir = join(dist, "plugins");
  const plugins = existsSync(pluginDir) ? readdirSync(pluginDir).map((id) => ({ id, size: size(join(pluginDir, id)) })) : [];
  const helloSize = size(helloBin);

  const stat = (xs: number[]) => [median(xs), min(xs), max(xs)];
  log("");
  log(`## Start to first 200 on /v1/health (standalone; N=${RUNS}; ms; load average during the run: mean ${fmt(loadStats.mean)}, max ${fmt(loadStats.max)})`);
  table(
    ["what", "median", "min", "max"],
    [
      ["kernel, fresh DATA_DIR (initdb + migrations)", ...stat(fresh.map((r) => r.readyMs))],
      ["kernel, existing DATA_DIR", ...stat(warm.map((r) => r.readyMs))],
      [`kernel --version (N=${REPEAT})`, ...stat(kVersion)],
      [`worker --version (N=${REPEAT})`, ...stat(wVersion)],
      [`baseline: bun -e hello (N=${REPEAT})`, ...stat(bunE)],
      [`baseline: compiled hello (N=${REPEAT})`, ...stat(helloRun)],
      [`baseline: PGlite alone, new dir: open + select 1 + close (N=${PG_RUNS})`, ...stat(pgFresh.map((r) => r.ms))],
      [`baseline: PGlite alone, existing dir (N=${PG_RUNS})`, ...stat(pgExisting.map((r) => r.ms))],
    ],
  );
  log("");
  log(`## Memory (MiB, VmRSS; "tree" adds the plugin subprocesses, shared pages counted per process)`);
  const m = (xs: number[]) => stat(xs.map(mib));
  table(
    ["what", "median", "min", "max"],
    [
      ["kernel at ready, fresh", ...m(fresh.map((r) => r.rssKernel))],
      ["kernel at ready, existing", ...m(warm.map((r) => r.rssKernel))],
      [`kernel after ${IDLE_S} s idle, fresh`, ...m(alive(fresh).map((r) => r.idleRssKernel))],
      [`kernel after ${IDLE_S} s idle, existing`, ...m(alive(warm).map((r) => r.idleRssKernel))],
      ["tree at ready, existing", ...m(warm.map((r) => r.rssTree))],
      [`tree after ${IDLE_S} s idle, existing`, ...m(alive(warm).map((r) => r.idleRssTree))],
      ["baseline: PGlite alone after open, new dir", ...m(pgFresh.map((r) => r.rss))],
      ["baseline: PGlite alone after open, existing dir", ...m(pgExisting.map((r) => r.rss))],
    ],
  );
  const died = [...fresh, ...warm].filter((r) => r.exited);
  if (died.length) log(`kernels that exited during the idle period (left out of the idle rows): ${died.length} of ${fresh.length + warm.length} (${died.map((r) => r.exited).join("; ")})`);
  log(`processes in the tree at ready: ${median(warm.map((r) => r.procs))}; CPU spent until ready (tree): fresh ${fmt(median(fresh.map((r) => r.cpuMs)))} ms, existing ${fmt(median(warm.map((r) => r.cpuMs)))} ms; CPU in the ${IDLE_S} s after ready (tree, % of one core; includes the embedded worker's FFmpeg capability detection): median ${fmt(median(alive([...fresh, ...warm]).map((r) => r.idleCpuPct)))}%`);
  log("");
  log("## Binary sizes (MiB)");
  table(
    ["binary", "MiB"],
    [
      ["webencode-kernel", mib(kernelSize)],
      ["webencode-worker", mib(workerSize)],
      ...plugins.map((p) => [`plugins/${p.id}`, mib(p.size)] as [string, number]),
      ["kernel + worker (the release)", mib(kernelSize + workerSize)],
      ["kernel + worker + plugin binaries", mib(kernelSize + workerSize + sum(plugins.map((p) => p.size)))],
      ["baseline: compiled hello world", mib(helloSize)],
    ],
  );
  log("");
  log("## Ratios");
  const bunMed = median(bunE);
  table(
    ["ratio", "value"],
    [
      ["kernel ready (existing DATA_DIR) ÷ bun -e hello", median(warm.map((r) => r.readyMs)) / bunMed],
      ["kernel ready (fresh DATA_DIR) ÷ bun -e hello", median(fresh.map((r) => r.readyMs)) / bunMed],
      ["kernel ready (existing DATA_DIR) ÷ PGlite alone (existing dir)", median(warm.map((r) => r.readyMs)) / median(pgExisting.map((r) => r.ms))],
      ["kernel ready (fresh DATA_DIR) ÷ PGlite alone (new dir)", median(fresh.map((r) => r.readyMs)) / median(pgFresh.map((r) => r.ms))],
      ["kernel RSS at ready (existing) ÷ PGlite alone RSS (existing)", median(warm.map((r) => r.rssKernel)) / median(pgExisting.map((r) => r.rss))],
      ["kernel --version ÷ bun -e hello", median(kVersion) / bunMed],
      ["kernel --version ÷ compiled hello", median(kVersion) / median(helloRun)],
      ["kernel size ÷ compiled hello size", kernelSize / helloSize],
      ["(kernel + worker + plugins) ÷ (kernel + worker)", (kernelSize + workerSize + sum(plugins.map((p) => p.size))) / (kernelSize + workerSize)],
    ],
  );
});

/** Creates the DATA_DIR used for the "existing" runs (migrations applied), without idling. */
async function startOnceQuick(dist: string, dataDir: string): Promise<void> {
  const { kernel } = await Kernel.start({ dist, dataDir });
  await kernel.stop();
}
