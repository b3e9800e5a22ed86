/**
 * One running plugin subprocess and its JSON-RPC channel (src/plugin-runtime/protocol.ts).
 *
 * Guarantees the host relies on: every call settles (result, error, its timeout, or the plugin's exit —
 * whichever comes first); stdout lines that are not protocol frames are logged and ignored, never fatal;
 * stderr lines become host log records tagged with the plugin id.
 */
import type { Subprocess } from "bun";
import { AppError, type ErrorCode, ERROR_CATALOGUE } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { CANCEL, PROGRESS, type RpcId, type RpcResponse, parseFrame } from "../protocol.ts";
import { readLines } from "../sdk.ts";

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (data: unknown) => void;
}

interface Pending {
  method: string;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (data: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
  cleanup(): void;
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
}

export class PluginProcess {
  private readonly proc: Subprocess<"pipe", "pipe", "pipe">;
  private readonly pending = new Map<RpcId, Pending>();
  private nextId = 1;
  /** Wakes `drain` when the last pending call settles. */
  private idle: (() => void) | undefined;
  private exitInfo: ExitInfo | undefined;
  readonly exited: Promise<ExitInfo>;

  constructor(
    readonly label: string,
    command: string[],
    env: Record<string, string>,
    private readonly logger: Logger,
    private readonly defaultTimeoutMs = 30_000,
  ) {
    this.proc = Bun.spawn(command, { stdin: "pipe", stdout: "pipe", stderr: "pipe", env });
    this.exited = this.proc.exited.then(() => {
      const info: ExitInfo = { code: this.proc.exitCode, signal: this.proc.signalCode === null ? null : String(this.proc.signalCode) };
      this.exitInfo = info;
      this.failAll();
      return info;
    });
    void this.readStdout();
    void this.readStderr();
  }

  get pid(): number {
    return this.proc.pid;
  }

  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  call<T = unknown>(method: string, params?: unknown, opts: CallOptions = {}): Promise<T> {
    if (!this.alive) return Promise.reject(this.deadError(method));
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? this.defaultTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.notify(CANCEL, { id });
        settle(() => reject(new AppError("WE-PLG-004", `${this.label}: ${method} cancelled`, { cancelled: true })));
      };
      const settle = (fn: () => void) => {
        const p = this.pending.get(id);
        if (!p) return;
        this.pending.delete(id);
        p.cleanup();
        fn();
        this.checkIdle();
      };
      const timer = setTimeout(() => {
        this.notify(CANCEL, { id });
        settle(() => reject(new AppError("WE-PLG-005", `${this.label}: ${method} timed out after ${timeoutMs} ms`, { method, timeout_ms: timeoutMs })));
      }, timeoutMs);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      this.pending.set(id, {
        method,
        resolve: resolve as (v: unknown) => void,
        reject,
        onProgress: opts.onProgress,
        timer,
        cleanup: () => {
          clearTimeout(timer);
          opts.signal?.removeEventListener("abort", onAbort);
        },
      });
      if (opts.signal?.aborted) return onAbort();
      this.write({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) });
    });
  }

  notify(method: string, params?: unknown): void {
    if (this.alive) this.write({ jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) });
  }

  /**
   * Resolves when no call is pending, or after `ms`: a restart lets the old process finish what it is doing
   * (a login, a password hash) rather than failing those calls with "exited with code 0".
   */
  async drain(ms: number): Promise<void> {
    if (this.pending.size === 0 || !this.alive) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.idle = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.idle = undefined;
  }

  /** Asks nicely (shutdown + EOF on stdin), then SIGKILL after `graceMs`. */
  async stop(graceMs = 2000): Promise<ExitInfo> {
    if (this.alive) {
      this.call("shutdown", undefined, { timeoutMs: graceMs }).catch(() => {});
      try {
        this.proc.stdin.end();
      } catch {}
      const timer = setTimeout(() => this.kill(), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    try {
      this.proc.kill(signal);
    } catch {}
  }

  private write(frame: unknown): void {
    try {
      this.proc.stdin.write(`${JSON.stringify(frame)}\n`);
      this.proc.stdin.flush();
    } catch {
      // The exit handler fails pending calls; nothing else to do here.
    }
  }

  private async readStdout(): Promise<void> {
    try {
      for await (const line of readLines(this.proc.stdout)) {
        const frame = parseFrame(line);
        if (!frame) {
          this.logger.warn({ plugin: this.label, line: line.slice(0, 500) }, "plugin wrote a non-protocol line to stdout (ignored)");
          continue;
        }
        if ("method" in frame) {
          if (frame.method === PROGRESS) {
            const p = frame.params as { id?: RpcId; data?: unknown } | undefined;
            if (p?.id !== undefined) this.pending.get(p.id)?.onProgress?.(p.data);
          }
          continue;
        }
        this.settleResponse(frame as RpcResponse);
      }
    } catch (error) {
      this.logger.warn({ plugin: this.label, error }, "plugin stdout closed with an error");
    }
  }

  private settleResponse(res: RpcResponse): void {
    const p = this.pending.get(res.id);
    if (!p) return; // late answer to a call that already timed out or was cancelled
    this.pending.delete(res.id);
    p.cleanup();
    if (res.error) p.reject(this.toError(p.method, res.error));
    else p.resolve(res.result);
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.pending.size === 0) this.idle?.();
  }

  private toError(method: string, err: NonNullable<RpcResponse["error"]>): AppError {
    const code = err.data?.we_code;
    if (code && code in ERROR_CATALOGUE) return new AppError(code as ErrorCode, err.message, err.data?.details);
    return new AppError("WE-PLG-004", `${this.label}: ${method} failed: ${err.message}`, { rpc_code: err.code });
  }

  private async readStderr(): Promise<void> {
    try {
      for await (const line of readLines(this.proc.stderr)) {
        let rec: { level?: string; msg?: string } & Record<string, unknown>;
        try {
          rec = JSON.parse(line);
          if (typeof rec !== "object" || rec === null) throw new Error();
        } catch {
          rec = { level: "info", msg: line };
        }
        const { level, msg, ...fields } = rec;
        const lvl = (["trace", "debug", "info", "warn", "error", "fatal"].includes(String(level)) ? level : "info") as "info";
        this.logger[lvl]({ ...fields, plugin: this.label }, String(msg ?? ""));
      }
    } catch {}
  }

  private deadError(method: string): AppError {
    const how = this.exitInfo?.signal ? `killed by ${this.exitInfo.signal}` : `exited with code ${this.exitInfo?.code}`;
    return new AppError("WE-PLG-004", `${this.label}: plugin process ${how} during ${method}`, { ...this.exitInfo });
  }

  private failAll(): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.cleanup();
      p.reject(this.deadError(p.method));
    }
    this.checkIdle();
  }
}
