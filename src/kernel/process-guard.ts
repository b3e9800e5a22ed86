/**
 * The kernel's last line of defence: an error that escapes every handler (a rejection nobody awaited, an
 * exception thrown from a callback) is logged with pino and, once the kernel is serving, survived. One bad
 * request must never end the process that serves everyone (issue: an aborted upload killed the kernel).
 *
 * While the kernel is still starting the same errors stay fatal (exit 1): a half-started kernel (database
 * open, port not yet listening, plugins half-loaded) is better restarted by the supervisor than kept.
 */
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";

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

export function installProcessGuard(logger: Logger, opts: { onEscaped?: (kind: string) => void; exit?: (code: number) => void } = {}): ProcessGuard {
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
      logger.fatal({ kind, error: err, phase }, `${kind} while the kernel was starting: exiting`);
      exit(1);
      return;
    }
    logger.error({ kind, error: err, phase }, `${kind}: an error escaped its handler; the kernel keeps serving`);
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
