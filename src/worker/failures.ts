/**
 * Failure classes (docs/architecture.md §5): input errors are permanent — retrying a corrupt or missing source only
 * burns workers — while crashes, OOM kills, timeouts and lost connections are retryable. Pure.
 *
 * Blame follows the evidence: FFmpeg names the file it could not open or read ("<path>: No such file or
 * directory", "Impossible to open '<path>'"). Only when that file is the job's source is the input at fault
 * (WE-JOB-007); a file of our own (a part, a concat list, an output in the work directory) that is missing or
 * unreadable is our error — retryable WE-SYS-001, never "unsupported format" about the user's file.
 *
 * A run on a GPU is read for its driver's failures first (media/hardware/: each accelerator's signatures): a
 * driver prints "Invalid argument" or "Cannot allocate memory" too, and that is never the source's fault.
 * A session limit is WE-ENC-002 (retried after a delay); any other driver failure is WE-ENC-001, which the
 * kernel answers with the profile's hardware_fallback (kernel/pipeline/hardware-fallback.ts).
 */
import type { FailureClass, TaskError } from "../core/messages.ts";
import { acceleratorsOfArgv, type DriverFailure, driverFailure } from "../media/hardware/index.ts";
import type { TranscodeResult } from "../plugin-runtime/pillars.ts";

/** Codes that mean "the input is bad": the job fails at once. */
const PERMANENT_CODES = new Set(["WE-JOB-002", "WE-JOB-003", "WE-JOB-007", "WE-STO-001", "WE-STO-002"]);

/** The reason FFmpeg prints after a file's name when it cannot open or read it: `<file>: <reason>`. */
const FILE_REASON =
  /^(?:\[[^\]]*@ 0x[0-9a-f]+\] )?(.+): (No such file or directory|Invalid data found when processing input|Permission denied|Server returned 4\d\d.*|HTTP error 4\d\d.*|Invalid argument|End of file|Is a directory)$/i;
/** A demuxer naming a file it could not open (the concat demuxer and its parts); FFmpeg 6+'s wording. */
const NAMED_FILE = [/Impossible to open '(.+)'$/, /Error opening (?:input|output) file (.+)\.$/];
/** `<what>: <reason>` lines whose `<what>` is not a file ("Error while decoding stream #0:0: Invalid data…"). */
const NOT_A_FILE = /^Error |stream #\d/i;
/** A URL: FFmpeg only ever reads URLs that are (or belong to, like an HLS source's segments) the source. */
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Stderr about the input that names no file: the input is at fault only when the run reads the source. */
const SOURCE_STDERR = [
  /Server returned 4\d\d/i,
  /HTTP error 4\d\d/i,
  /moov atom not found/i,
  /does not contain any stream/i,
  /Unsupported codec/i,
  /Decoder \(codec .*\) not found/i,
  /Invalid data found when processing input/i,
];

export type Blame = "source" | "ours" | "none";

/** The files FFmpeg says it could not open or read, in the order it said so. Pure. */
export function filesBlamed(stderr: string): string[] {
  const out: string[] = [];
  for (const raw of stderr.split("\n")) {
    const line = raw.trim();
    const named = NAMED_FILE.map((re) => re.exec(line)).find(Boolean);
    const m = named ?? FILE_REASON.exec(line);
    if (m && (named || !NOT_A_FILE.test(m[1]!))) out.push(m[1]!);
  }
  return out;
}

/**
 * Whose fault a failed FFmpeg run is: "ours" when a file FFmpeg could not use is not the source (ours wins
 * over the source: a retry is cheap, blaming the user for our bug is not), "source" when the file is the
 * source or FFmpeg blames an input without naming it in a run that reads the source, "none" otherwise.
 * `sources`: the source inputs exactly as they appear in the argv (a path or URL); empty for runs that read
 * only our own files (packaging). Pure.
 */
export function blame(stderr: string, sources: readonly string[]): Blame {
  const files = filesBlamed(stderr);
  const isSource = (f: string) => sources.includes(f) || (sources.length > 0 && URL_LIKE.test(f));
  if (files.some((f) => !isSource(f))) return "ours";
  if (files.length) return "source";
  if (sources.length && SOURCE_STDERR.some((re) => re.test(stderr))) return "source";
  return "none";
}

/** The values of every `-i` in an argv: the default "sources" of a run that does not say. Pure. */
export function inputsOf(argv: readonly string[]): string[] {
  return argv.flatMap((a, i) => (a === "-i" && argv[i + 1] !== undefined ? [argv[i + 1]!] : []));
}

/** A task failure carrying FFmpeg's evidence (argv, exit code or signal, last stderr lines). */
export class TaskFailure extends Error {
  constructor(
    readonly error: TaskError,
  ) {
    super(error.message);
    this.name = "TaskFailure";
  }

  /**
   * From a failed FFmpeg run: permanent (WE-JOB-007) only when the evidence is the source's, retryable
   * otherwise. `sources` (see `blame`) defaults to every `-i` of the argv; a run over our own files passes [].
   */
  static fromTranscode(what: string, result: TranscodeResult, forceClass?: FailureClass, sources: readonly string[] = inputsOf(result.argv)): TaskFailure {
    const hardware = result.timed_out || result.signal !== null ? undefined : hardwareFailure(result);
    if (hardware) {
      return new TaskFailure({
        class: forceClass ?? "retryable",
        code: hardware.kind === "session-limit" ? "WE-ENC-002" : "WE-ENC-001",
        message: `${what}: ${hardware.accelerator} ${hardware.kind}: ${hardware.message}`,
        exit_code: result.exit_code,
        signal: result.signal,
        argv: result.argv,
        stderr_tail: result.stderr_tail,
      });
    }
    const lastLine = result.stderr_tail.trim().split("\n").filter(Boolean).at(-1) ?? "";
    const who = blame(result.stderr_tail, sources);
    const killed = result.signal !== null || result.timed_out;
    const how = result.timed_out ? "timed out" : result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exit_code}`;
    return new TaskFailure({
      class: forceClass ?? (who === "source" && !killed ? "permanent" : "retryable"),
      code: who === "source" ? "WE-JOB-007" : who === "ours" ? "WE-SYS-001" : "WE-JOB-008",
      message: `${what}: FFmpeg ${how}${lastLine ? `: ${lastLine}` : ""}`,
      exit_code: result.exit_code,
      signal: result.signal,
      argv: result.argv,
      stderr_tail: result.stderr_tail,
    });
  }

  /**
   * One of our own intermediate files (a part, the audio track) could not be fetched from storage. Not the
   * source's fault, so never permanent: a retry of the task, or of the job (which re-runs the tasks whose
   * outputs are gone), can recreate it.
   */
  static ownFileMissing(what: string, error: unknown): TaskFailure {
    const detail = typeof (error as { message?: unknown })?.message === "string" ? (error as { message: string }).message : String(error);
    return new TaskFailure({ class: "retryable", code: "WE-SYS-001", message: `${what}: ${detail}` });
  }
}

/**
 * The driver failure of a run that used a hardware accelerator, by that accelerator's signatures. A hardware
 * run whose only complaint about a file is "Invalid argument" failed in the driver too (a hardware decoder
 * refusing a stream says so about the input): unsupported-input, answered by the fallback, never a failed job.
 */
export function hardwareFailure(result: Pick<TranscodeResult, "argv" | "stderr_tail">): DriverFailure | undefined {
  const used = acceleratorsOfArgv(result.argv);
  const first = used[0];
  if (!first || first.id === "cpu") return undefined;
  const known = driverFailure(result.stderr_tail, used);
  if (known) return known;
  const complaints = result.stderr_tail.split("\n").map((line) => line.trim()).filter((line) => FILE_REASON.test(line));
  const invalid = complaints.find((line) => / Invalid argument$/.test(line));
  if (invalid && complaints.every((line) => / Invalid argument$/.test(line)) && !SOURCE_STDERR.some((re) => re.test(result.stderr_tail))) {
    return { accelerator: first.id, kind: "unsupported-input", message: invalid.replace(/^\[[^\]]* @ 0x[0-9a-f]+\]\s*/i, "") };
  }
  return undefined;
}

export function classifyError(cause: unknown): TaskError {
  if (cause instanceof TaskFailure) return cause.error;
  const err = cause as { code?: unknown; message?: unknown; details?: Record<string, unknown> };
  const code = typeof err?.code === "string" && /^WE-/.test(err.code) ? err.code : "WE-JOB-008";
  const message = typeof err?.message === "string" ? err.message : String(cause);
  const details = err?.details ?? {};
  return {
    class: PERMANENT_CODES.has(code) ? "permanent" : "retryable",
    code,
    message,
    ...(typeof details.exit_code === "number" ? { exit_code: details.exit_code } : {}),
    ...(typeof details.stderr_tail === "string" ? { stderr_tail: details.stderr_tail } : {}),
  };
}
