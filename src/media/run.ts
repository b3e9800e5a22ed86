/**
 * Running FFmpeg/FFprobe: one child from an argv array (never a shell), both pipes drained concurrently so
 * neither can fill up and stall the child, and stopped the way FFmpeg likes it (SIGTERM lets it finalize
 * the output, SIGKILL after a grace period because a slow preset can spend many seconds flushing its
 * lookahead). The returned promise always settles: Bun spins at 100% CPU on an await that never does.
 */
import { StderrTail } from "./progress.ts";

export interface RunOptions {
  /** SIGTERM (then SIGKILL) after this long; the result says timedOut. */
  timeoutMs?: number;
  /** Abort = cancel: SIGTERM (then SIGKILL); the result says cancelled. */
  signal?: AbortSignal;
  /** stdout as it arrives (decoded UTF-8); without it stdout is collected into the result. */
  onStdout?: (text: string) => void;
  cwd?: string;
  /** Time between SIGTERM and SIGKILL; default 2000 ms. */
  killGraceMs?: number;
  /** Lines of stderr kept for the result; default 50. */
  stderrLines?: number;
}

export interface RunResult {
  exitCode: number | null;
  /** The signal that ended the process ("SIGKILL"), or null when it exited by itself. */
  signal: string | null;
  /** Collected stdout, only when no onStdout was given. */
  stdout?: string;
  stderrTail: string;
  elapsedMs: number;
  timedOut: boolean;
  cancelled: boolean;
}

const DEFAULT_KILL_GRACE_MS = 2_000;
/**
 * After the process ended, how long its pipes may stay open: a wrapper script (FFMPEG_PATH=/some/script)
 * can leave a grandchild holding them. Pipes of a process that really exited close at once.
 */
const PIPE_GRACE_MS = 1_000;
/** After SIGKILL, how long to wait for the exit before giving up on it (a process stuck in the kernel). */
const EXIT_AFTER_KILL_MS = 5_000;

/**
 * Runs argv[0] with argv[1..]. Rejects only when the process cannot be started (missing binary, bad cwd);
 * every outcome after that, including a kill, resolves.
 */
export async function runProcess(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const tail = new StderrTail(opts.stderrLines ?? 50);

  if (opts.signal?.aborted) {
    return { exitCode: null, signal: null, stderrTail: "", elapsedMs: 0, timedOut: false, cancelled: true, ...(opts.onStdout ? {} : { stdout: "" }) };
  }

  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", ...(opts.cwd ? { cwd: opts.cwd } : {}) });

  let stdout = "";
  const onStdout = opts.onStdout ?? ((text: string) => void (stdout += text));
  const stdoutReader = proc.stdout.getReader();
  const stderrReader = proc.stderr.getReader();
  const drains = Promise.all([
    drain(stdoutReader, (text) => {
      try {
        onStdout(text);
      } catch {
        // A throwing consumer must not stop the drain: a full pipe would stall the child.
      }
    }),
    drain(stderrReader, (text) => tail.push(text)),
  ]);

  let timedOut = false;
  let cancelled = false;
  let termTimer: ReturnType<typeof setTimeout> | undefined;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const gaveUp = Promise.withResolvers<"gave-up">();
  let gaveUpTimer: ReturnType<typeof setTimeout> | undefined;

  const stop = () => {
    if (termTimer !== undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    // termTimer doubles as "stop already requested"; a second abort or the timeout firing later is a no-op.
    termTimer = setTimeout(() => {
      proc.kill("SIGKILL");
      gaveUpTimer = setTimeout(() => gaveUp.resolve("gave-up"), EXIT_AFTER_KILL_MS);
    }, opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  };
  const onAbort = () => {
    if (timedOut) return;
    cancelled = true;
    stop();
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.timeoutMs !== undefined) {
    killTimer = setTimeout(() => {
      if (cancelled) return;
      timedOut = true;
      stop();
    }, opts.timeoutMs);
  }

  try {
    const exit = await Promise.race([proc.exited, gaveUp.promise]);
    if (exit !== "gave-up") await Promise.race([drains, Bun.sleep(PIPE_GRACE_MS)]);
    // Whatever is still open now belongs to someone else; stop reading it.
    stdoutReader.cancel().catch(() => {});
    stderrReader.cancel().catch(() => {});
    return {
      exitCode: exit === "gave-up" ? null : proc.exitCode,
      signal: exit === "gave-up" || proc.signalCode == null ? null : String(proc.signalCode),
      ...(opts.onStdout ? {} : { stdout }),
      stderrTail: tail.text(),
      elapsedMs: elapsed(),
      timedOut,
      cancelled,
    };
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    clearTimeout(killTimer);
    clearTimeout(termTimer);
    clearTimeout(gaveUpTimer);
  }
}

/** The part of a stream reader drain needs (Bun's and the DOM's reader types differ in name only). */
interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
}

async function drain(reader: ChunkReader, onText: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || value === undefined) break;
      const text = decoder.decode(value, { stream: true });
      if (text !== "") onText(text);
    }
    const rest = decoder.decode();
    if (rest !== "") onText(rest);
  } catch {
    // Cancelled by runProcess after the grace period, or the pipe broke: nothing more to read.
  }
}
