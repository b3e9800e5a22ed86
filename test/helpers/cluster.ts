/**
 * A distributed installation made of the compiled executables, for delivery tests and the chaos script:
 * kernels and workers sharing one PostgreSQL database, one NATS prefix and one DATA_DIR (the storage-fs root
 * every process on this host sees), each process in its own working directory under one scratch dir.
 *
 * Also here: a generated test clip, FFMPEG_PATH wrapper scripts that make FFmpeg slow or crash for chosen
 * commands, a throwaway PostgreSQL cluster (initdb in a temp dir) that may be stopped and started, and the
 * database queries behind the "exactly once" assertions. `dispose()` leaves nothing behind: processes
 * (including FFmpeg children orphaned by a SIGKILLed worker), the database, the NATS prefix, the scratch dir.
 */
import { TEST_KERNEL_SECURITY_ENV, withAuth } from "./auth.ts";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import postgres from "postgres";
import { createTestDatabase, type TestDatabase } from "./db.ts";
import { cleanupPrefix, natsUrl, uniquePrefix } from "./nats.ts";
import { binary, freePort, type Proc, spawnProc } from "./proc.ts";
import { waitFor } from "./wait.ts";

export const FFMPEG = process.env.E2E_FFMPEG ?? "/usr/bin/ffmpeg";
const PG_BIN = process.env.PG_BIN ?? "/usr/lib/postgresql/15/bin";

// ---- media ---------------------------------------------------------------------------------------------

/**
 * A small test clip: moving test pattern with a frame counter plus a sine tone, keyframe every second (so
 * the planner can cut chunks at 2 s), MP4 with faststart.
 */
export async function generateClip(path: string, o: { seconds: number; width?: number; height?: number; fps?: number; audio?: boolean }): Promise<string> {
  const { seconds, width = 320, height = 180, fps = 25, audio = true } = o;
  mkdirSync(dirname(path), { recursive: true });
  const args = [
    FFMPEG,
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-y",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`,
    ...(audio ? ["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${seconds}`] : []),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-g",
    String(fps),
    "-pix_fmt",
    "yuv420p",
    ...(audio ? ["-c:a", "aac", "-b:a", "64k"] : []),
    "-movflags",
    "+faststart",
    path,
  ];
  const p = Bun.spawn(args, { stdout: "ignore", stderr: "pipe" });
  const err = await new Response(p.stderr).text();
  if ((await p.exited) !== 0) throw new Error(`could not generate ${path}: ${err}`);
  return path;
}

/** A rule for an FFMPEG_PATH wrapper: when every `match` string is among the arguments, do `action`. */
export interface WrapperRule {
  match: string[];
  /** slow: read the input at this fraction of real time (`-readrate`); crash: print a line and SIGKILL itself. */
  action: { slow: number } | { crash: string };
}

/**
 * Writes an executable FFMPEG_PATH wrapper into `dir`. It `exec`s the real FFmpeg (same pid, so a worker's
 * SIGTERM/SIGKILL reaches FFmpeg itself) unless a rule says to crash. The video chunk command is the one
 * with `-force_key_frames`.
 */
export function ffmpegWrapper(dir: string, name: string, rules: WrapperRule[]): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.sh`);
  const lines = ["#!/bin/sh", `# FFMPEG_PATH wrapper for tests (${name})`, 'ARGS=" $* "'];
  for (const r of rules) {
    const cond = r.match.map((m) => `case "$ARGS" in *" ${m} "*) true;; *) false;; esac`).join(" && ");
    const act = "slow" in r.action ? `exec ${FFMPEG} -readrate ${r.action.slow} "$@"` : `echo ${JSON.stringify(r.action.crash)} >&2; kill -9 $$`;
    lines.push(`if ${cond}; then ${act}; fi`);
  }
  lines.push(`exec ${FFMPEG} "$@"`, "");
  writeFileSync(path, lines.join("\n"));
  chmodSync(path, 0o755);
  return path;
}

/** The standard wrapper: the video chunk command reads its input at `rate` × real time. */
export const slowVideo = (rate: number): WrapperRule => ({ match: ["-force_key_frames"], action: { slow: rate } });
export const crashVideo = (message = "test wrapper: simulated FFmpeg crash (SIGKILL)"): WrapperRule => ({ match: ["-force_key_frames"], action: { crash: message } });

// ---- processes on this host ------------------------------------------------------------------------------

/** PIDs of processes whose command line contains `needle` (pgrep -f), excluding this process. */
export function pidsMatching(needle: string): number[] {
  const r = Bun.spawnSync(["pgrep", "-f", "--", needle], { stdout: "pipe", stderr: "ignore" });
  return r.stdout
    .toString()
    .split("\n")
    .map((s) => Number(s.trim()))
    .filter((n) => n > 0 && n !== process.pid);
}

/** FFmpeg processes whose arguments mention `needle` (e.g. a worker's WORK_DIR). */
export function ffmpegPidsMatching(needle: string): number[] {
  return pidsMatching(needle).filter((pid) => {
    try {
      const argv0 = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] ?? "";
      return argv0 === "ffmpeg" || argv0.endsWith("/ffmpeg");
    } catch {
      return false;
    }
  });
}

/** True while `pid` exists and is not a zombie (an exited child its parent has not reaped yet). */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** SIGKILLs every process whose command line contains `needle` (only ever a path we created). */
export function killMatching(needle: string): number {
  const pids = pidsMatching(needle);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  return pids.length;
}

// ---- throwaway PostgreSQL ------------------------------------------------------------------------------

export interface ThrowawayPostgres {
  url: string;
  port: number;
  /** pg_ctl stop -m fast (data kept). */
  stop(): Promise<void>;
  /** pg_ctl start on the same port and data. */
  start(): Promise<void>;
  /** Stops it (immediate) and removes its directory. */
  dispose(): Promise<void>;
}

const asRoot = () => process.getuid?.() === 0;

/** Runs a PostgreSQL server binary (as the postgres user when we are root: initdb and pg_ctl refuse root). */
export async function runPg(argv: string[], timeoutMs = 60_000): Promise<void> {
  const full = asRoot() ? ["runuser", "-u", "postgres", "--", ...argv] : argv;
  const p = Bun.spawn(full, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${out}\n${err}`);
}

/** A private PostgreSQL cluster (initdb in a temp dir, trust auth) that a test may stop and start. */
export async function startThrowawayPostgres(opts: { ssl?: { certFile: string; keyFile: string } } = {}): Promise<ThrowawayPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "webencode-pg-"));
  const uid = asRoot() ? Number(Bun.spawnSync(["id", "-u", "postgres"], { stdout: "pipe" }).stdout.toString().trim()) : undefined;
  if (uid !== undefined) chownSync(dir, uid, uid);
  let sslArgs = "";
  if (opts.ssl) {
    // The server reads its certificate as its own user and insists on a private key file (0600).
    for (const [from, name] of [[opts.ssl.certFile, "server.crt"], [opts.ssl.keyFile, "server.key"]] as const) {
      copyFileSync(from, join(dir, name));
      chmodSync(join(dir, name), 0o600);
      if (uid !== undefined) chownSync(join(dir, name), uid, uid);
    }
    sslArgs = ` -c ssl=on -c ssl_cert_file=${join(dir, "server.crt")} -c ssl_key_file=${join(dir, "server.key")}`;
  }
  const data = join(dir, "data");
  const port = await freePort();
  const startPg = () => runPg([join(PG_BIN, "pg_ctl"), "-D", data, "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off${sslArgs}`, "-w", "-t", "60", "-l", join(dir, "pg.log"), "start"]);
  try {
    await runPg([join(PG_BIN, "initdb"), "-D", data, "-A", "trust", "-U", "postgres"]);
    await startPg();
  } catch (e) {
    await runPg([join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await runPg([join(PG_BIN, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]);
      running = false;
    },
    async start() {
      await startPg();
      running = true;
    },
    async dispose() {
      if (running || existsSync(join(data, "postmaster.pid"))) await runPg([join(PG_BIN, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- the cluster ---------------------------------------------------------------------------------------

export interface KernelProc {
  name: string;
  proc: Proc;
  port: number;
  url: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export interface WorkerProc {
  id: string;
  proc: Proc;
  workDir: string;
}

export interface ClusterOptions {
  /** Names the scratch directory. */
  name: string;
  /** NATS server (default: TEST_NATS_URL). */
  natsUrl?: string;
  /** A database URL to use as is (e.g. a throwaway cluster); default: a fresh test database cloned from the template. */
  databaseUrl?: string;
  /** Variables for every kernel and worker (LEASE_TTL, BUS_ACK_WAIT, …); each process may add more. */
  env?: Record<string, string>;
  /** LOG_LEVEL of the processes (default info: the tests read "task started", "lease refused", …). */
  logLevel?: string;
}

/** One JSON log line of a kernel or worker. */
export type LogLine = Record<string, unknown> & { msg?: string };

export function logLines(p: Proc): LogLine[] {
  const out: LogLine[] = [];
  for (const l of p.stderr.split("\n")) {
    if (!l.startsWith("{")) continue;
    try {
      out.push(JSON.parse(l) as LogLine);
    } catch {
      // a partial last line
    }
  }
  return out;
}

export interface JobView {
  id: string;
  status: string;
  status_reason: string | null;
  error: { code: string; message: string; details?: Record<string, unknown> } | null;
  tasks: Array<{
    id: string;
    type: string;
    seq: number;
    status: string;
    attempt: number;
    failures: number;
    max_attempts: number;
    worker_id: string | null;
    error: { code: string; message: string } | null;
    attempts: Array<{
      attempt: number;
      worker_id: string;
      outcome: string | null;
      error_class: string | null;
      error_code: string | null;
      error_message: string | null;
      exit_code: number | null;
      signal: string | null;
      argv: string[] | null;
      stderr_tail: string | null;
      started_at: string;
      finished_at: string | null;
    }>;
  }>;
  timeline: Array<{ at: string; status: string; task_id?: string; detail?: Record<string, unknown> }>;
}

export const TERMINAL = ["completed", "failed", "cancelled"];

export class Cluster {
  readonly scratch: string;
  /** Shared DATA_DIR of every kernel: storage-fs root is DATA_DIR/storage. */
  readonly dataDir: string;
  readonly pluginDir: string;
  readonly prefix = uniquePrefix();
  readonly natsUrl: string;
  readonly kernels: KernelProc[] = [];
  readonly workers: WorkerProc[] = [];
  sql!: postgres.Sql;
  databaseUrl = "";
  private testDb: TestDatabase | undefined;
  private disposed = false;

  private constructor(readonly opts: ClusterOptions) {
    this.scratch = mkdtempSync(join(tmpdir(), `webencode-${opts.name}-`));
    this.dataDir = join(this.scratch, "data");
    this.pluginDir = join(this.scratch, "plugins");
    mkdirSync(this.pluginDir, { recursive: true });
    this.natsUrl = opts.natsUrl ?? natsUrl();
  }

  static async create(opts: ClusterOptions): Promise<Cluster> {
    const c = new Cluster(opts);
    try {
      if (opts.databaseUrl) c.databaseUrl = opts.databaseUrl;
      else {
        c.testDb = await createTestDatabase();
        c.databaseUrl = c.testDb.url;
      }
      c.sql = postgres(c.databaseUrl, { max: 2, onnotice: () => {}, connect_timeout: 5 });
    } catch (e) {
      await c.dispose();
      throw e;
    }
    return c;
  }

  private procDir(name: string): string {
    return mkdtempSync(join(this.scratch, `${name}-`));
  }

  kernelEnv(port: number, env: Record<string, string> = {}): Record<string, string> {
    return {
      DATABASE_URL: this.databaseUrl,
      NATS_URL: this.natsUrl,
      BUS_PREFIX: this.prefix,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: this.dataDir,
      PLUGIN_DIR: this.pluginDir,
      EMBEDDED_WORKER: "false",
      SHUTDOWN_TIMEOUT: "5s",
      LOG_LEVEL: this.opts.logLevel ?? "info",
      ...TEST_KERNEL_SECURITY_ENV,
      ...this.opts.env,
      ...env,
    };
  }

  /** Starts a kernel and waits for /v1/health. */
  async startKernel(name: string, env: Record<string, string> = {}): Promise<KernelProc> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = spawnProc([binary("webencode-kernel")], { env: this.kernelEnv(port, env), cwd: this.procDir(name) });
    const k: KernelProc = { name, proc, port, url, fetch: (path, init) => fetch(`${url}${path}`, withAuth({ signal: AbortSignal.timeout(15_000), ...init })) };
    this.kernels.push(k);
    await proc.waitForHttp200(`${url}/v1/health`, 120_000);
    // It listens before its plugin processes are ready (issue 20): the tests start from a kernel whose plugins run.
    if (["trace", "debug", "info"].includes(env.LOG_LEVEL ?? this.opts.logLevel ?? "info")) await proc.waitForLine("plugins started", 120_000);
    return k;
  }

  /** Starts a worker (WORK_DIR in the scratch dir) and waits until it has registered. `bin`: another build's worker (upgrade tests). */
  async startWorker(id: string, env: Record<string, string> = {}, bin = binary("webencode-worker")): Promise<WorkerProc> {
    const cwd = this.procDir(id);
    const workDir = join(cwd, "work");
    const proc = spawnProc([bin], {
      env: {
        NATS_URL: this.natsUrl,
        BUS_PREFIX: this.prefix,
        WORKER_ID: id,
        WORK_DIR: workDir,
        PLUGIN_DIR: this.pluginDir,
        HEARTBEAT_INTERVAL: "1s",
        WORKER_METRICS_PORT: "0",
        OUTBOUND_ALLOW_CIDRS: "127.0.0.0/8,::1/128",
        LOG_LEVEL: this.opts.logLevel ?? "info",
        ...this.opts.env,
        ...env,
      },
      cwd,
    });
    const w: WorkerProc = { id, proc, workDir };
    this.workers.push(w);
    await proc.waitForLine("worker registered", 120_000);
    return w;
  }

  /** Waits until the workers table shows `id` with `status` (the active reconciler syncs it every second). */
  async waitWorkerStatus(id: string, status: string, timeoutMs = 90_000): Promise<void> {
    await waitFor(
      async () => {
        const [row] = await this.sql<{ status: string }[]>`select status from workers where id = ${id}`;
        return row?.status === status;
      },
      timeoutMs,
      `worker ${id} to be ${status}`,
      100,
    );
  }

  /** Copies a file into the shared storage root; returns the key to use as source_url. */
  addSource(key: string, from: string): string {
    const to = join(this.dataDir, "storage", key);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
    return key;
  }

  async submit(k: KernelProc, body: Record<string, unknown>): Promise<{ id: string; status: string }> {
    const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const text = await r.text();
    if (r.status !== 201) throw new Error(`POST /v1/jobs → ${r.status}: ${text}`);
    return JSON.parse(text) as { id: string; status: string };
  }

  async job(k: KernelProc, id: string): Promise<JobView> {
    const r = await k.fetch(`/v1/jobs/${id}`);
    const text = await r.text();
    if (r.status !== 200) throw new Error(`GET /v1/jobs/${id} → ${r.status}: ${text}`);
    return JSON.parse(text) as JobView;
  }

  /** Polls the database (not the API: a kernel may be down) until the job is in one of `statuses`. */
  async waitJob(id: string, statuses: string[], timeoutMs: number): Promise<string> {
    let status = "";
    try {
      await waitFor(
        async () => {
          try {
            const [row] = await this.sql<{ status: string }[]>`select status from jobs where id = ${id}`;
            status = row?.status ?? "";
          } catch {
            return false; // the database may be restarting
          }
          if (TERMINAL.includes(status) && !statuses.includes(status)) throw new Error(`job ${id} ended ${status}, expected ${statuses.join("/")}`);
          return statuses.includes(status);
        },
        timeoutMs,
        `job ${id} to be ${statuses.join(" or ")}`,
        200,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await this.describeJob(id)}`);
    }
    return status;
  }

  /** The job's row, tasks and attempts, and the tail of every process's log: for failure messages. */
  async describeJob(id: string): Promise<string> {
    const out: string[] = [];
    try {
      const [job] = await this.sql`select status, status_reason, error_code, error_message from jobs where id = ${id}`;
      out.push(`job: ${JSON.stringify(job)}`);
      const tasks = await this.sql`
        select t.type, t.seq, t.status, t.attempt, t.failures, t.lease_worker_id, t.lease_expires_at, t.not_before, t.published_at, t.error_code,
          (select json_agg(json_build_object('attempt', a.attempt, 'worker', a.worker_id, 'outcome', a.outcome, 'code', a.error_code) order by a.attempt) from task_attempts a where a.task_id = t.id) as attempts
        from tasks t where t.job_id = ${id} order by t.created_at, t.type, t.seq`;
      for (const t of tasks) out.push(`task: ${JSON.stringify(t)}`);
    } catch (e) {
      out.push(`(database: ${(e as Error).message})`);
    }
    for (const p of [...this.kernels.map((k) => ({ name: k.name, proc: k.proc })), ...this.workers.map((w) => ({ name: w.id, proc: w.proc }))]) {
      const tail = p.proc.stderr.trim().split("\n").slice(-25).join("\n");
      out.push(`--- ${p.name} (${p.proc.status ? JSON.stringify(p.proc.status) : "running"}) ---\n${tail}`);
    }
    return out.join("\n");
  }

  /** Waits until a task of `type` of the job is leased and its worker logged "task started" for it. */
  async waitTaskStarted(jobId: string, type: string, timeoutMs: number): Promise<{ taskId: string; attempt: number; worker: WorkerProc }> {
    let found: { taskId: string; attempt: number; worker: WorkerProc } | undefined;
    await waitFor(
      async () => {
        const rows = await this.sql<{ id: string; attempt: number; lease_worker_id: string | null }[]>`
          select id, attempt, lease_worker_id from tasks where job_id = ${jobId} and type = ${type} and status = 'leased'`;
        for (const r of rows) {
          const w = this.workers.find((x) => x.id === r.lease_worker_id && !x.proc.status);
          if (!w) continue;
          const started = logLines(w.proc).some((l) => l.msg === "task started" && l.task_id === r.id && l.attempt === r.attempt);
          if (started) found = { taskId: r.id, attempt: r.attempt, worker: w };
        }
        return found !== undefined;
      },
      timeoutMs,
      `a ${type} task of job ${jobId} to start on a worker`,
      100,
    );
    return found!;
  }

  /** Waits until FFmpeg runs with the worker's WORK_DIR in its arguments; returns its pids. */
  async waitFfmpegRunning(w: WorkerProc, timeoutMs = 60_000): Promise<number[]> {
    let pids: number[] = [];
    await waitFor(
      () => {
        pids = ffmpegPidsMatching(w.workDir);
        return pids.length > 0;
      },
      timeoutMs,
      `FFmpeg running in ${w.workDir}`,
      50,
    );
    return pids;
  }

  /** Entries of the worker's WORK_DIR (missing dir = none). */
  workDirEntries(w: WorkerProc): string[] {
    return existsSync(w.workDir) ? readdirSync(w.workDir) : [];
  }

  /**
   * The delivery invariants over the given jobs, as a list of violations (empty = all good):
   * - a completed job: every task completed with exactly one accepted ('completed') attempt, one package task;
   * - any job: no task with more than one completed attempt; no job state entered twice; no task completed
   *   twice in the timeline.
   */
  async deliveryViolations(jobIds: string[]): Promise<string[]> {
    const v: string[] = [];
    if (!jobIds.length) return v;
    const jobs = await this.sql<{ id: string; status: string }[]>`select id, status from jobs where id in ${this.sql(jobIds)}`;
    const tasks = await this.sql<{ id: string; job_id: string; type: string; seq: number; status: string; completed: number; attempts: number }[]>`
      select t.id, t.job_id, t.type, t.seq, t.status,
        (select count(*)::int from task_attempts a where a.task_id = t.id and a.outcome = 'completed') as completed,
        (select count(*)::int from task_attempts a where a.task_id = t.id) as attempts
      from tasks t where t.job_id in ${this.sql(jobIds)}`;
    const dupStates = await this.sql<{ job_id: string; to_status: string; n: number }[]>`
      select job_id, to_status, count(*)::int as n from job_events
      where job_id in ${this.sql(jobIds)} and to_status not like 'task:%'
      group by job_id, to_status having count(*) > 1`;
    const dupTaskDone = await this.sql<{ task_id: string; n: number }[]>`
      select task_id, count(*)::int as n from job_events
      where job_id in ${this.sql(jobIds)} and to_status = 'task:completed'
      group by task_id having count(*) > 1`;
    const dupTasks = await this.sql<{ job_id: string; type: string; seq: number; n: number }[]>`
      select job_id, type, seq, count(*)::int as n from tasks where job_id in ${this.sql(jobIds)}
      group by job_id, type, seq having count(*) > 1`;
    for (const j of jobs) {
      const mine = tasks.filter((t) => t.job_id === j.id);
      if (j.status === "completed") {
        const packages = mine.filter((t) => t.type === "package").length;
        if (packages !== 1) v.push(`job ${j.id}: ${packages} package tasks`);
        for (const t of mine) {
          if (t.status !== "completed") v.push(`job ${j.id} completed but task ${t.type}#${t.seq} is ${t.status}`);
          if (t.completed !== 1) v.push(`job ${j.id} task ${t.type}#${t.seq}: ${t.completed} completed attempts`);
        }
      }
    }
    for (const t of tasks) if (t.completed > 1) v.push(`task ${t.id} (${t.type}#${t.seq}): ${t.completed} accepted (completed) attempts`);
    for (const d of dupStates) v.push(`job ${d.job_id} entered ${d.to_status} ${d.n} times`);
    for (const d of dupTaskDone) v.push(`task ${d.task_id} completed ${d.n} times in the timeline`);
    for (const d of dupTasks) v.push(`job ${d.job_id} has ${d.n} tasks ${d.type}#${d.seq}`);
    if (jobs.length !== jobIds.length) v.push(`${jobIds.length - jobs.length} jobs missing`);
    return v;
  }

  /** Stops everything and removes what this cluster created. Safe to call twice and after failures. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const procs = [...this.workers.map((w) => w.proc), ...this.kernels.map((k) => k.proc)];
    for (const p of procs) p.kill("SIGKILL");
    await Promise.all(procs.map((p) => p.exited.catch(() => {})));
    // FFmpeg children of SIGKILLed workers (their arguments name paths under the scratch dir).
    killMatching(this.scratch);
    await this.sql?.end({ timeout: 2 }).catch(() => {});
    await this.testDb?.drop().catch(() => {});
    await cleanupPrefix(this.natsUrl, this.prefix).catch(() => {});
    rmSync(this.scratch, { recursive: true, force: true });
  }
}
