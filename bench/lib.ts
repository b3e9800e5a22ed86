/**
 * Shared helpers of the benchmarks in bench/: a private build of the binaries, a standalone kernel per run
 * (own DATA_DIR, PLUGIN_DIR, working directory and port, so nothing from the checkout or another run leaks
 * in), FFmpeg/FFprobe wrappers that record every invocation the platform makes (argv, start/end time, exit
 * code), generated sources cached under /tmp, process CPU accounting, statistics and table printing.
 *
 * Everything a benchmark starts is registered here and stopped on exit (also on Ctrl-C); temp dirs go too.
 */
import { TEST_KERNEL_SECURITY_ENV, withAuth } from "../test/helpers/auth.ts";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "..");
/** The Bun that runs this script (node_modules/.bin/bun 1.4.4 when started as the README says). */
export const BUN = process.execPath;
export const FFMPEG = "/usr/bin/ffmpeg";
export const FFPROBE = "/usr/bin/ffprobe";
/** Generated sources are cached here (they are inputs, not results); `rm -rf` it to regenerate. */
export const MEDIA_CACHE = "/tmp/webencode-bench-media";

// ---- arguments ----------------------------------------------------------------------------------------

export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
export const flag = (name: string) => process.argv.includes(`--${name}`);
export const numArg = (name: string, fallback: number) => Number(arg(name, String(fallback)));

// ---- cleanup ------------------------------------------------------------------------------------------

const cleanups: Array<() => void | Promise<void>> = [];
let cleaning = false;
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}
export async function cleanupAll(): Promise<void> {
  if (cleaning) return;
  cleaning = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (e) {
      process.stderr.write(`cleanup: ${(e as Error).message}\n`);
    }
  }
  cleanups.length = 0;
  cleaning = false;
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    void cleanupAll().finally(() => process.exit(130));
  });
}

/** Runs a benchmark's main, always cleaning up; a failure exits 1 with its message. */
export async function main(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    process.stderr.write(`\nbenchmark failed: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  } finally {
    await cleanupAll();
  }
}

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join("/tmp", `webencode-bench-${prefix}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---- build --------------------------------------------------------------------------------------------

/**
 * The directory with the compiled binaries: `--dist DIR` (default /tmp/bench-dist). Built with
 * scripts/build.ts --outdir when the kernel is missing or `--rebuild` is given; never dist/ (other work uses it).
 */
export function distDir(opts: { plugins?: boolean } = {}): string {
  const dir = resolve(arg("dist", "/tmp/bench-dist"));
  const needPlugins = opts.plugins && !existsSync(join(dir, "plugins"));
  if (flag("rebuild") || !existsSync(join(dir, "webencode-kernel")) || needPlugins) {
    if (dir === join(ROOT, "dist")) throw new Error("refusing to build into dist/: pass --dist /tmp/…");
    log(`building into ${dir} …`);
    const r = Bun.spawnSync([BUN, "scripts/build.ts", "--outdir", dir, ...(opts.plugins ? ["--plugins"] : [])], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
    if (r.exitCode !== 0) throw new Error("build failed");
  }
  return dir;
}

// ---- machine ------------------------------------------------------------------------------------------

export function machine(): Record<string, string> {
  const model = (Bun.spawnSync(["lscpu"]).stdout.toString().match(/^Model name:\s*(.+)$/m)?.[1] ?? cpus()[0]?.model ?? "?").trim();
  const ff = Bun.spawnSync([FFMPEG, "-version"]).stdout.toString().split("\n")[0]?.replace(/ Copyright.*/, "") ?? "?";
  return {
    date: new Date().toISOString(),
    nproc: Bun.spawnSync(["nproc"]).stdout.toString().trim(),
    cpu: model,
    ffmpeg: ff,
    bun: Bun.version,
    loadavg: loadavg().map((x) => x.toFixed(2)).join(" "),
  };
}

export function printMachine(): void {
  const m = machine();
  log(`machine: nproc=${m.nproc}, cpu="${m.cpu}", ${m.ffmpeg}, bun ${m.bun}, load average ${m.loadavg} (${m.date})`);
}

/** Samples the 1-minute load average every second while a benchmark runs; other work on the host skews wall times. */
export function loadSampler(): { stop(): { mean: number; max: number } } {
  const samples: number[] = [loadavg()[0]!];
  const t = setInterval(() => samples.push(loadavg()[0]!), 1000);
  return {
    stop() {
      clearInterval(t);
      return { mean: samples.reduce((a, b) => a + b, 0) / samples.length, max: Math.max(...samples) };
    },
  };
}

// ---- output -------------------------------------------------------------------------------------------

export function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function table(headers: string[], rows: Array<Array<string | number>>): void {
  const cells = rows.map((r) => r.map((c) => (typeof c === "number" ? fmt(c) : c)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  log(line(headers));
  log(`|${widths.map((w, i) => (i === 0 ? `${"-".repeat(w + 1)}-` : `${"-".repeat(w + 1)}:`)).join("|")}|`);
  for (const r of cells) log(line(r));
}

export function fmt(x: number, digits?: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (digits !== undefined) return x.toFixed(digits);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : x.toFixed(3);
}
export const mib = (bytes: number) => bytes / 1024 / 1024;

// ---- statistics ---------------------------------------------------------------------------------------

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return NaN;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}
/** Nearest-rank percentile (p99 of 20 samples is the maximum). */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
export const min = (xs: number[]) => Math.min(...xs);
export const max = (xs: number[]) => Math.max(...xs);
export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

// ---- processes ----------------------------------------------------------------------------------------

export interface Timed {
  wallMs: number;
  cpuMs: number;
  stdout: string;
}

/** Children of timed() still running: killed by the cleanup when a benchmark is interrupted. */
const running = new Set<ReturnType<typeof Bun.spawn>>();
onCleanup(() => {
  for (const p of running) p.kill("SIGKILL");
});

/** Runs argv to completion (no shell); wall time from spawn to exit and the child's user+system CPU. */
export async function timed(argv: string[], opts: { cwd?: string; stdout?: boolean } = {}): Promise<Timed> {
  const t0 = performance.now();
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: opts.stdout ? "pipe" : "ignore", stderr: "pipe", ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  running.add(p);
  const [stdout, stderr] = await Promise.all([opts.stdout ? new Response(p.stdout as ReadableStream).text() : Promise.resolve(""), new Response(p.stderr).text(), p.exited]).finally(() => running.delete(p));
  const wallMs = performance.now() - t0;
  if (p.exitCode !== 0) throw new Error(`${argv.slice(0, 3).join(" ")} … exited ${p.exitCode}:\n${stderr.slice(-2000)}`);
  const ru = p.resourceUsage();
  const cpuMs = ru ? Number(ru.cpuTime.user + ru.cpuTime.system) / 1000 : NaN;
  return { wallMs, cpuMs, stdout };
}

const CLK_TCK = 100;
/** utime+stime+cutime+cstime of one process in ms (children count once reaped), or 0 when it is gone. */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after the comm: state(0) … utime(11) stime(12) cutime(13) cstime(14).
    return ((Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

export function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const tid of tids) {
      let children = "";
      try {
        children = readFileSync(`/proc/${p}/task/${tid}/children`, "utf8");
      } catch {
        continue;
      }
      for (const c of children.trim().split(/\s+/).filter(Boolean)) {
        out.push(Number(c));
        walk(Number(c));
      }
    }
  };
  walk(pid);
  return out;
}

/** CPU of a process tree: the process, its live descendants and everything they have reaped. */
export function treeCpuMs(pid: number): number {
  return sum([pid, ...descendants(pid)].map(procCpuMs));
}

/**
 * Own user+system CPU (ms, without reaped children) of a process and of each live descendant, by name
 * (the executable's base name, or the plugin id for a plugin binary): which long-lived process of a tree
 * spends the CPU (kernel, embedded worker, plugin processes). Short-lived children (FFmpeg) count in the
 * parent that reaps them only through treeCpuMs.
 */
export function selfCpuByProcess(pid: number): Map<number, { name: string; cpuMs: number }> {
  const out = new Map<number, { name: string; cpuMs: number }>();
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const argv = readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").filter(Boolean);
      const name = argv.map((a) => a.split("/").pop()!).join(" ").slice(0, 60);
      out.set(p, { name, cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK });
    } catch {
      // gone
    }
  }
  return out;
}

/** VmRSS in bytes (0 when the process is gone). */
export function rssBytes(pid: number): number {
  try {
    const m = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

// ---- FFmpeg wrappers ----------------------------------------------------------------------------------

export interface FfCall {
  tool: "ffmpeg" | "ffprobe";
  argv: string[];
  /** Epoch ms of the wrapper's start (≈ the spawn by the encoder plugin) and of FFmpeg's exit. */
  start: number;
  end: number;
  rc: number;
  /** User + system CPU of the binary (the wrapper's `times`: its reaped children). */
  cpuMs: number;
  /** Copies of *.txt arguments (concat lists), which the worker deletes after the task. */
  files: Record<string, string>;
}

/**
 * FFMPEG_PATH/FFPROBE_PATH wrappers for the platform: each call's argv (NUL-separated), the text files it
 * names (concat lists) and its start/end/exit code go to `logDir`; the real binary runs as the wrapper's
 * child and a SIGTERM is forwarded. Cost: one bash start (~2 ms) per call. The log dir is written into
 * the script because plugins do not inherit the host's environment.
 */
export function ffWrappers(dir: string): { ffmpeg: string; ffprobe: string; logDir: string } {
  const logDir = join(dir, "fflog");
  mkdirSync(logDir, { recursive: true });
  const make = (tool: string, real: string) => {
    const path = join(dir, `${tool}-wrapper`);
    writeFileSync(
      path,
      `#!/bin/bash
t0=$EPOCHREALTIME
id="\${t0/./}-$$"
printf '%s\\0' "$@" > '${logDir}'/"$id.${tool}.argv"
for a in "$@"; do case "$a" in *.txt) [ -f "$a" ] && cp "$a" '${logDir}'/"$id.${tool}.file.$(basename "$a")";; esac; done
'${real}' "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' TERM INT
wait $pid; rc=$?
while kill -0 $pid 2>/dev/null; do wait $pid; rc=$?; done
times > '${logDir}'/"$id.${tool}.cpu"
echo "$t0 $EPOCHREALTIME $rc" > '${logDir}'/"$id.${tool}.time"
exit $rc
`,
    );
    chmodSync(path, 0o755);
    return path;
  };
  return { ffmpeg: make("ffmpeg", FFMPEG), ffprobe: make("ffprobe", FFPROBE), logDir };
}

/** Second line of bash's `times` ("0m1.234s 0m0.056s": children's user and system time) in ms. */
function childCpuMs(path: string): number {
  try {
    const line = readFileSync(path, "utf8").trim().split("\n")[1] ?? "";
    return sum([...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => (Number(m[1]) * 60 + Number(m[2])) * 1000));
  } catch {
    return NaN;
  }
}

export function readFfLog(logDir: string): FfCall[] {
  const calls: FfCall[] = [];
  const names = readdirSync(logDir);
  for (const name of names) {
    const m = name.match(/^(\d+-\d+)\.(ffmpeg|ffprobe)\.argv$/);
    if (!m) continue;
    const [, id, tool] = m;
    const timeFile = join(logDir, `${id}.${tool}.time`);
    if (!existsSync(timeFile)) continue; // still running
    const [t0, t1, rc] = readFileSync(timeFile, "utf8").trim().split(" ");
    const argv = readFileSync(join(logDir, name), "utf8").split("\0");
    argv.pop();
    const files: Record<string, string> = {};
    const prefix = `${id}.${tool}.file.`;
    for (const f of names) if (f.startsWith(prefix)) files[f.slice(prefix.length)] = readFileSync(join(logDir, f), "utf8");
    calls.push({ tool: tool as FfCall["tool"], argv, start: Number(t0) * 1000, end: Number(t1) * 1000, rc: Number(rc), cpuMs: childCpuMs(join(logDir, `${id}.${tool}.cpu`)), files });
  }
  return calls.sort((a, b) => a.start - b.start);
}

// ---- media --------------------------------------------------------------------------------------------

export interface SourceSpec {
  width: number;
  height: number;
  fps: number;
  duration_s: number;
  /** Keyframe interval in frames (fixed GOP, like a typical camera or mezzanine file). */
  gop?: number;
  /** x264 preset of the SOURCE (the source's own encoding is not measured). Default veryfast. */
  preset?: string;
}

/**
 * A generated test source (testsrc2 + 440 Hz stereo AAC at 48 kHz, H.264 with a fixed GOP), cached in
 * MEDIA_CACHE by its parameters.
 */
export async function ensureSource(s: SourceSpec): Promise<string> {
  mkdirSync(MEDIA_CACHE, { recursive: true });
  const gop = s.gop ?? s.fps * 2;
  const preset = s.preset ?? "veryfast";
  const path = join(MEDIA_CACHE, `src_${s.width}x${s.height}_${s.fps}fps_${s.duration_s}s_g${gop}_${preset}.mp4`);
  if (existsSync(path)) return path;
  log(`generating ${path} …`);
  const tmp = `${path}.tmp.mp4`;
  const argv = [FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
    "-f", "lavfi", "-i", `testsrc2=size=${s.width}x${s.height}:rate=${s.fps}:duration=${s.duration_s}`,
    "-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${s.duration_s}`,
    "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", preset, "-g", String(gop), "-keyint_min", String(gop), "-sc_threshold", "0",
    "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-shortest", "-movflags", "+faststart", tmp];
  await timed(argv);
  renameSync(tmp, path);
  return path;
}

export const fileSize = (path: string) => statSync(path).size;

// ---- standalone kernel --------------------------------------------------------------------------------

export async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("") });
  const port = s.port!;
  await s.stop(true);
  return port;
}

export interface KernelOptions {
  dist: string;
  dataDir: string;
  env?: Record<string, string>;
  /** Poll interval of the readiness wait. */
  pollMs?: number;
  timeoutMs?: number;
}

export class Kernel {
  private constructor(
    readonly proc: ReturnType<typeof Bun.spawn>,
    readonly url: string,
    readonly spawnedAt: number,
    readonly logPath: string,
    readonly binary: string,
  ) {}

  get pid(): number {
    return this.proc.pid;
  }

  /**
   * Spawns the compiled kernel in standalone mode with a minimal environment (no DATABASE_URL/NATS_URL),
   * cwd in a temp dir (no stray .env or ./plugins), an empty PLUGIN_DIR, and waits for 200 on /v1/health.
   * `readyMs`: spawn → first 200, polled every `pollMs` (default 5 ms).
   */
  static async start(o: KernelOptions): Promise<{ kernel: Kernel; readyMs: number }> {
    const port = await freePort();
    const work = tempDir("kernel");
    const pluginDir = join(work, "plugins");
    mkdirSync(pluginDir);
    mkdirSync(o.dataDir, { recursive: true });
    const logPath = join(work, "kernel.log");
    const binary = join(o.dist, "webencode-kernel");
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/root",
      TMPDIR: work,
      DATA_DIR: o.dataDir,
      PORT: String(port),
      HOST: "127.0.0.1",
      PLUGIN_DIR: pluginDir,
      LOG_LEVEL: "warn",
      // The benchmark's own admin key (first start) and loopback sources, as the tests do.
      ...TEST_KERNEL_SECURITY_ENV,
      ...o.env,
    };
    const t0 = performance.now();
    const proc = Bun.spawn([binary], { cwd: work, env, stdin: "ignore", stdout: "ignore", stderr: Bun.file(logPath) });
    const kernel = new Kernel(proc, `http://127.0.0.1:${port}`, t0, logPath, binary);
    onCleanup(() => kernel.stop());
    const pollMs = o.pollMs ?? 5;
    const deadline = t0 + (o.timeoutMs ?? 120_000);
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`kernel exited ${proc.exitCode} before it was ready:\n${kernel.logTail()}`);
      try {
        const r = await fetch(`${kernel.url}/v1/health`);
        if (r.status === 200) {
          await r.arrayBuffer();
          return { kernel, readyMs: performance.now() - t0 };
        }
      } catch {
        // not listening yet
      }
      if (performance.now() > deadline) throw new Error(`kernel not ready after ${o.timeoutMs ?? 120_000} ms:\n${kernel.logTail()}`);
      await Bun.sleep(pollMs);
    }
  }

  logTail(): string {
    try {
      return readFileSync(this.logPath, "utf8").split("\n").slice(-30).join("\n");
    } catch {
      return "";
    }
  }

  /** SIGTERM (graceful), SIGKILL after 30 s; plugin subprocesses it left behind are killed by pid. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const kids = descendants(this.pid);
    this.proc.kill("SIGTERM");
    const done = await Promise.race([this.proc.exited.then(() => true), Bun.sleep(30_000).then(() => false)]);
    if (!done) {
      this.proc.kill("SIGKILL");
      await this.proc.exited;
    }
    for (const pid of kids) {
      try {
        // Only a process that is still one of ours (same binary) — never a recycled pid.
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(this.binary)) process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }

  async api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await fetch(
      `${this.url}${path}`,
      withAuth({
        method,
        ...(body !== undefined ? { body: JSON.stringify(body), headers: { "content-type": "application/json" } } : {}),
      }),
    );
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} → ${r.status}: ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Streams a file into storage with POST /v1/files (raw body) and returns its source_url. */
  async upload(path: string, filename: string): Promise<string> {
    const r = await fetch(`${this.url}/v1/files?filename=${encodeURIComponent(filename)}`, withAuth({ method: "POST", body: Bun.file(path) }));
    const text = await r.text();
    if (!r.ok) throw new Error(`upload → ${r.status}: ${text.slice(0, 500)}`);
    return (JSON.parse(text) as { source_url: string }).source_url;
  }

  /** Polls GET /v1/jobs/:id until a terminal status; a failed or cancelled job throws with its error. */
  async waitJob(id: string, opts: { pollMs?: number; timeoutMs?: number } = {}): Promise<{ job: JobDetail; observedAt: number }> {
    const deadline = performance.now() + (opts.timeoutMs ?? 30 * 60_000);
    for (;;) {
      const job = await this.api<JobDetail>("GET", `/v1/jobs/${id}`);
      if (job.status === "completed") return { job, observedAt: performance.now() };
      if (job.status === "failed" || job.status === "cancelled") throw new Error(`job ${id} ${job.status}: ${JSON.stringify(job.error)}\n${this.logTail()}`);
      if (performance.now() > deadline) throw new Error(`job ${id} still ${job.status} after the timeout`);
      await Bun.sleep(opts.pollMs ?? 50);
    }
  }
}

export interface TaskView {
  id: string;
  type: "analyze" | "video" | "audio" | "package";
  seq: number;
  status: string;
  started_at: string | null;
  finished_at: string | null;
  attempts: Array<{ attempt: number; argv: string[] | null; started_at: string | null; finished_at: string | null }>;
}
export interface JobDetail {
  id: string;
  status: string;
  error: unknown;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  tasks: TaskView[];
  source: { duration_s: number } | null;
}

export const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);

// ---- where a job's time goes ------------------------------------------------------------------------

export interface Phase {
  phase: string;
  ms: number;
}

/** What one FFmpeg/FFprobe call of the platform was for. */
export function classifyCall(c: FfCall, taskType: string | undefined): string {
  if (c.tool === "ffprobe") return taskType === "analyze" ? "analyze: ffprobe (streams + keyframe index)" : `${taskType ?? "?"}: ffprobe (verification)`;
  const a = c.argv;
  if (taskType === "package") {
    if (a.includes("concat")) return "package: ffmpeg concat + mux";
    if (a.includes("hls")) return "package: ffmpeg HLS segmenting";
    return "package: ffmpeg other (thumbnails)";
  }
  return `${taskType ?? "?"}: ffmpeg`;
}

/**
 * Splits a completed job's wall time (created_at → finished_at, server clock) into phases: per task the
 * time inside FFmpeg and FFprobe (from the wrapper log) and the rest of the task (claim, storage moves,
 * result reporting), and the gaps between tasks (dispatch: bus, lease, planning, DB transitions). With
 * several slots tasks overlap: a gap is then only counted where no task was running.
 */
export function jobPhases(job: JobDetail, calls: FfCall[]): { phases: Phase[]; wallMs: number; byKind: Record<string, number>; ffmpegCpuMs: number; ffprobeCpuMs: number } {
  const created = ms(job.created_at);
  const finished = ms(job.finished_at);
  const tasks = [...job.tasks].sort((a, b) => ms(a.started_at) - ms(b.started_at));
  const phases = new Map<string, number>();
  const add = (k: string, v: number) => phases.set(k, (phases.get(k) ?? 0) + v);
  let covered = created;
  for (const t of tasks) {
    const s = ms(t.started_at);
    const e = ms(t.finished_at);
    if (s > covered) add(`dispatch → ${t.type}`, s - covered);
    covered = Math.max(covered, e);
    let inside = 0;
    for (const c of calls) {
      if (c.start < s - 2 || c.end > e + 2) continue;
      const d = c.end - c.start;
      inside += d;
      add(classifyCall(c, t.type), d);
    }
    add(`${t.type}: rest of task (claim, storage, report)`, Math.max(0, e - s - inside));
  }
  if (finished > covered) add("package done → job completed", finished - covered);
  const list = [...phases.entries()].map(([phase, v]) => ({ phase, ms: v }));
  const byKind: Record<string, number> = { "FFmpeg encode/mux": 0, "FFprobe (analyze)": 0, "FFprobe (verification)": 0, "in-task rest": 0, "between tasks": 0 };
  for (const p of list) {
    const k = p.phase.includes("ffmpeg")
      ? "FFmpeg encode/mux"
      : p.phase.startsWith("analyze: ffprobe")
        ? "FFprobe (analyze)"
        : p.phase.includes("ffprobe")
          ? "FFprobe (verification)"
          : p.phase.includes("rest of task")
            ? "in-task rest"
            : "between tasks";
    byKind[k] = (byKind[k] ?? 0) + p.ms;
  }
  const cpu = (tool: string) => sum(calls.filter((c) => c.tool === tool).map((c) => c.cpuMs));
  return { phases: list, wallMs: finished - created, byKind, ffmpegCpuMs: cpu("ffmpeg"), ffprobeCpuMs: cpu("ffprobe") };
}

/** The wrapper-logged calls that belong to one job (started while it ran). */
export function callsOfJob(logDir: string, job: JobDetail): FfCall[] {
  const created = ms(job.created_at);
  const finished = ms(job.finished_at);
  return readFfLog(logDir).filter((c) => c.start >= created - 5 && c.end <= finished + 5);
}

/** Task type of the task whose [started_at, finished_at] contains the call. */
export function taskOfCall(job: JobDetail, c: FfCall): TaskView | undefined {
  return job.tasks.find((t) => c.start >= ms(t.started_at) - 2 && c.end <= ms(t.finished_at) + 2);
}
