/**
 * Failure classes (DESIGN.md §3): input errors are permanent — retrying a corrupt or missing source only
 * burns workers — while crashes, OOM kills, timeouts and lost connections are retryable. Pure.
 */
import type { FailureClass, TaskError } from "../core/messages.ts";
import type { TranscodeResult } from "../plugins/pillars.ts";

/** Codes that mean "the input is bad": the job fails at once. */
const PERMANENT_CODES = new Set(["WE-JOB-002", "WE-JOB-003", "WE-JOB-007", "WE-STO-001", "WE-STO-002"]);

/** FFmpeg stderr that blames the input, not the machine. */
const PERMANENT_STDERR = [
  /Invalid data found when processing input/i,
  /No such file or directory/i,
  /Server returned 4\d\d/i,
  /HTTP error 4\d\d/i,
  /moov atom not found/i,
  /does not contain any stream/i,
  /Output file #\d+ does not contain any stream/i,
  /Invalid argument/i,
  /Unsupported codec/i,
  /Decoder \(codec .*\) not found/i,
];

/** A task failure carrying FFmpeg's evidence (argv, exit code or signal, last stderr lines). */
export class TaskFailure extends Error {
  constructor(
    readonly error: TaskError,
  ) {
    super(error.message);
    this.name = "TaskFailure";
  }

  /** From a failed FFmpeg run: permanent when stderr blames the input, retryable otherwise. */
  static fromTranscode(what: string, r: TranscodeResult, forceClass?: FailureClass): TaskFailure {
    const lastLine = r.stderr_tail.trim().split("\n").filter(Boolean).at(-1) ?? "";
    const permanent = PERMANENT_STDERR.some((re) => re.test(r.stderr_tail));
    const how = r.timed_out ? "timed out" : r.signal ? `was killed by ${r.signal}` : `exited with code ${r.exit_code}`;
    return new TaskFailure({
      class: forceClass ?? (permanent && !r.signal && !r.timed_out ? "permanent" : "retryable"),
      code: permanent ? "WE-JOB-007" : "WE-JOB-008",
      message: `${what}: FFmpeg ${how}${lastLine ? `: ${lastLine}` : ""}`,
      exit_code: r.exit_code,
      signal: r.signal,
      argv: r.argv,
      stderr_tail: r.stderr_tail,
    });
  }
}

export function classifyError(e: unknown): TaskError {
  if (e instanceof TaskFailure) return e.error;
  const err = e as { code?: unknown; message?: unknown; details?: Record<string, unknown> };
  const code = typeof err?.code === "string" && /^WE-/.test(err.code) ? err.code : "WE-JOB-008";
  const message = typeof err?.message === "string" ? err.message : String(e);
  const details = err?.details ?? {};
  return {
    class: PERMANENT_CODES.has(code) ? "permanent" : "retryable",
    code,
    message,
    ...(typeof details.exit_code === "number" ? { exit_code: details.exit_code } : {}),
    ...(typeof details.stderr_tail === "string" ? { stderr_tail: details.stderr_tail } : {}),
  };
}
