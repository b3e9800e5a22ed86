/**
 * Exit codes of `webencode` and the one error type its commands throw. Scripts branch on the exit code
 * (docs/cli.md), so every failure path ends in exactly one of these.
 */
export const EXIT = {
  /** The command did what it was asked; `--wait`: the job completed. */
  ok: 0,
  /** The job failed, or the server refused the request (its error code is printed). */
  failed: 1,
  /** Bad usage: an unknown command or option, a missing argument, no context configured. */
  usage: 2,
  /** `--wait`/`watch`: the job was cancelled. */
  cancelled: 3,
  /** The server could not be reached, or refused the credentials (401/403). */
  unreachable: 4,
  /** Ctrl-C while waiting on a job: detached, the job keeps running (the shell's usual 128 + SIGINT). */
  detached: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure with the exit code it ends the program with and one line for the user. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    /** The server's catalogue code (WE-…), when the failure came from the API. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, message);
