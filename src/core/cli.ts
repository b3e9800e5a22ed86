/** Tiny shared CLI helpers for the two executables (`--version`, `--help`, exit codes). */
import { hostShutdown } from "./shutdown.ts";
import { VERSION_WITH_COMMIT } from "./version.ts";

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;

export function handleCommonFlags(binary: string, argv: string[], help: string): boolean {
  if (argv.includes("--version") || argv.includes("-v")) {
    process.stdout.write(`${binary} ${VERSION_WITH_COMMIT}\n`);
    return true;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(help);
    return true;
  }
  return false;
}

/** Runs `fn` on the first SIGTERM/SIGINT; a second signal exits at once (operators expect that). */
export function onShutdownSignal(fn: (signal: string) => Promise<void>, onSecond: () => void): void {
  let stopping = false;
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
      if (stopping) return onSecond();
      stopping = true;
      hostShutdown.requested = true;
      fn(sig).then(
        () => process.exit(EXIT_OK),
        () => process.exit(EXIT_FAILURE),
      );
    });
  }
}
