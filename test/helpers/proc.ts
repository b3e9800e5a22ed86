/**
 * Child processes for end-to-end tests: spawn a compiled binary (or a fixture script) with an explicit
 * environment and working directory, capture stdout/stderr as they arrive, wait for a log line or an HTTP
 * 200 with a timeout, stop it with a signal and read the exit code. Every spawned process is tracked so
 * `killAllProcs()` in afterAll leaves nothing behind even when a test failed half-way.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");
/** Where the compiled executables are: dist/, or E2E_DIST to test another build. */
export const DIST = process.env.E2E_DIST ?? join(ROOT, "dist");
export const BUN = process.execPath;

/** Path of a compiled executable in dist/; throws a clear message when it has not been built. */
export function binary(name: "webencode-kernel" | "webencode-worker"): string {
  const path = join(DIST, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`bun run build\` before the end-to-end tests`);
  return path;
}

/**
 * The minimal environment for a child: PATH and HOME only (and LIVE_RTMP_PORT=0), plus `env`. The test runner's own variables
 * (a DATABASE_URL, NATS_URL, …) must never leak into a process that is meant to see only what we give it.
 */
export function childEnv(env: Record<string, string | undefined> = {}): Record<string, string> {
  // LIVE_RTMP_PORT=0: kernels of parallel tests would all take 1935 (a test that publishes passes a free port).
  const out: Record<string, string> = { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", LIVE_RTMP_PORT: "0" };
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

export interface ExitStatus {
  /** Exit code, or null when the process was ended by a signal. */
  code: number | null;
  signal: string | null;
}

export interface Proc {
  readonly pid: number;
  readonly argv: string[];
  /** Everything written so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Set once the process has exited. */
  readonly status: ExitStatus | undefined;
  /** Resolves when the process has exited and both streams are fully read. */
  readonly exited: Promise<ExitStatus>;
  /** Waits for a line on stderr (default), stdout or either, matching `pattern`; returns the line. */
  waitForLine(pattern: RegExp | string, timeoutMs: number, stream?: "stdout" | "stderr" | "any"): Promise<string>;
  /** Polls `url` until it answers 200; fails early if the process exits. Returns ms since spawn. */
  waitForHttp200(url: string, timeoutMs: number): Promise<number>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit; SIGKILLs after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitStatus>;
  kill(signal?: NodeJS.Signals): void;
  /** Resident set size in KiB from /proc (undefined once exited). */
  rssKiB(): number | undefined;
  /** stdout and stderr for an assertion message. */
  describe(): string;
}

const live = new Set<Proc>();

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
}

export function spawnProc(argv: string[], opts: SpawnOptions = {}): Proc {
  const started = performance.now();
  const child = Bun.spawn(argv, { cwd: opts.cwd ?? ROOT, env: childEnv(opts.env), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  let err = "";
  let status: ExitStatus | undefined;
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of [...listeners]) l();
  };

  const pump = async (stream: ReadableStream<Uint8Array>, append: (s: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      append(decoder.decode(chunk, { stream: true }));
      notify();
    }
    append(decoder.decode());
  };
  const reading = Promise.all([pump(child.stdout, (s) => (out += s)), pump(child.stderr, (s) => (err += s))]).catch(() => {});

  let self: Proc | undefined;
  const exited = (async (): Promise<ExitStatus> => {
    const code = await child.exited;
    await reading;
    const signal = child.signalCode == null ? null : String(child.signalCode);
    const s: ExitStatus = { code: signal ? null : code, signal };
    status = s;
    if (self) live.delete(self);
    notify();
    return s;
  })();

  const describe = () => `${argv.map((a) => a.split("/").pop()).join(" ")} (pid ${child.pid}, ${status ? `exit ${JSON.stringify(status)}` : "running"})\n--- stdout ---\n${out.slice(-4000)}\n--- stderr ---\n${err.slice(-4000)}`;

  /** Resolves when `check` returns a value; rejects on timeout or when the process exits first. */
  const until = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const finish = (fn: () => void) => {
        clearTimeout(timer);
        listeners.delete(listener);
        fn();
      };
      const listener = () => {
        const v = check();
        if (v !== undefined) return finish(() => resolve(v));
        if (status) finish(() => reject(new Error(`process exited before ${what}: ${describe()}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${describe()}`))), timeoutMs);
      listeners.add(listener);
      listener();
    });

  const proc: Proc = {
    pid: child.pid,
    argv,
    get stdout() {
      return out;
    },
    get stderr() {
      return err;
    },
    get status() {
      return status;
    },
    exited,
    waitForLine(pattern, timeoutMs, stream = "stderr") {
      const match = (line: string) => (typeof pattern === "string" ? line.includes(pattern) : pattern.test(line));
      return until(
        () => {
          const text = stream === "stdout" ? out : stream === "stderr" ? err : `${out}\n${err}`;
          return text.split("\n").find(match);
        },
        timeoutMs,
        `a line matching ${String(pattern)} on ${stream}`,
      );
    },
    async waitForHttp200(url, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (status) throw new Error(`process exited before ${url} answered 200: ${describe()}`);
        try {
          const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
          await r.arrayBuffer();
          if (r.status === 200) return performance.now() - started;
        } catch {
          // not listening yet
        }
        if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for 200 from ${url}: ${describe()}`);
        await Bun.sleep(5);
      }
    },
    async stop(signal = "SIGTERM", timeoutMs = 15_000) {
      if (status) return status;
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    kill(signal = "SIGKILL") {
      if (!status) child.kill(signal);
    },
    rssKiB() {
      if (status) return undefined;
      try {
        const text = readFileSync(`/proc/${child.pid}/status`, "utf8");
        const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
        return m ? Number(m[1]) : undefined;
      } catch {
        return undefined;
      }
    },
    describe,
  };
  self = proc;
  if (!status) live.add(proc);
  return proc;
}

/** Runs a command to completion and returns its exit status and output; SIGKILLs it after `timeoutMs`. */
export async function runProc(argv: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<ExitStatus & { stdout: string; stderr: string }> {
  const p = spawnProc(argv, opts);
  const timer = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
  try {
    const s = await p.exited;
    return { ...s, stdout: p.stdout, stderr: p.stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILLs every process spawned here that is still running and waits for them; for afterAll. */
export async function killAllProcs(): Promise<void> {
  const running = [...live];
  for (const p of running) p.kill("SIGKILL");
  await Promise.all(running.map((p) => p.exited.catch(() => {})));
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}
