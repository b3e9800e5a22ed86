/**
 * The last line of defence of the kernel and the worker executables: an error that escapes every handler (a
 * rejection nobody awaited, an exception thrown from a callback) is logged with pino and, once the process is
 * running, survived. One bad request must never end the process that serves everyone (issue: an aborted
 * upload killed the kernel), and one task's stray callback must not end a worker running others.
 *
 * While the process is still starting the same errors stay fatal (exit 1): a half-started kernel or worker
 * (database or bus open, port not yet listening, plugins half-loaded) is better restarted by the supervisor
 * than kept.
 */
import { errorMessage } from "./errors.ts";
import type { Logger } from "./logger.ts";

export type Phase = "starting" | "serving" | "stopping";

export interface ProcessGuard {
  setPhase(phase: Phase): void;
  /** Escaped errors seen since install (for tests and the metric). */
  readonly escaped: number;
}

/** What to do with an error that escaped every handler in `phase`. Pure. */
export function escapedErrorAction(phase: Phase): "exit" | "survive" {
  return phase === "starting" ? "exit" : "survive";
}

export interface ProcessGuardOptions {
  /** Who is guarded, for the log lines ("kernel", "worker"). */
  service?: string;
  onEscaped?: (kind: string) => void;
  exit?: (code: number) => void;
}

export function installProcessGuard(logger: Logger, opts: ProcessGuardOptions = {}): ProcessGuard {
  const service = opts.service ?? "kernel";
  let phase: Phase = "starting";
  let escaped = 0;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const handle = (kind: "unhandledRejection" | "uncaughtException") => (reason: unknown) => {
    escaped++;
    opts.onEscaped?.(kind);
    // The house format: the message under `error`; the stack only at debug level (core/logger.ts).
    const err = errorMessage(reason);
    if (reason instanceof Error) logger.debug({ kind, stack: reason.stack }, "escaped error stack");
    if (escapedErrorAction(phase) === "exit") {
      logger.fatal({ kind, error: err, phase }, `${kind} while the ${service} was starting: exiting`);
      exit(1);
      return;
    }
    logger.error({ kind, error: err, phase }, `${kind}: an error escaped its handler; the ${service} keeps running`);
  };
  process.on("unhandledRejection", handle("unhandledRejection"));
  process.on("uncaughtException", handle("uncaughtException"));
  return {
    setPhase(p) {
      phase = p;
    },
    get escaped() {
      return escaped;
    },
  };
}
