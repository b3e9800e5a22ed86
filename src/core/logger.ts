/**
 * pino JSON logs on stderr: `{"level":"info","time":…,"service":"kernel","msg":…}` plus ids where they exist.
 *
 * Synchronous writes to fd 2 (pino's worker-thread transports break inside `bun build --compile` binaries,
 * docs/architecture.md §9). Errors are logged under the `error` key as a message string, never as an object dump with
 * internals; the stack goes to `stack` only at debug level.
 */
import pino from "pino";

export type Logger = pino.Logger;
export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export function createLogger(service: string, level: LogLevel = "info", dest: pino.DestinationStream = pino.destination({ dest: 2, sync: true })): Logger {
  return pino(
    {
      level,
      base: { service },
      messageKey: "msg",
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: {
        error: (e: unknown) => (e instanceof Error ? e.message : typeof e === "string" ? e : JSON.stringify(e)),
      },
    },
    dest,
  );
}
