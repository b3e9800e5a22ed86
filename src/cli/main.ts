/**
 * `webencode`: the command-line client (docs/cli.md). It talks to a kernel only through the public REST API
 * and the event stream, so it is built from src/cli/ alone — no kernel, database or plugin code is bundled.
 *
 * Exit codes (src/cli/errors.ts): 0 ok/completed, 1 failed, 2 usage, 3 cancelled, 4 unreachable or
 * refused credentials, 130 detached with Ctrl-C.
 */
import { Argument, Command, CommanderError } from "commander";
import { VERSION_WITH_COMMIT } from "../core/version.ts";
import { authCommands } from "./commands/auth.ts";
import { eventsCommand } from "./commands/events.ts";
import { jobsCommands } from "./commands/jobs.ts";
import { keysCommands } from "./commands/keys.ts";
import { submitCommand } from "./commands/submit.ts";
import { systemCommands } from "./commands/system.ts";
import { bashScript, commandTree, fishScript, zshScript } from "./completion.ts";
import { CliError, EXIT } from "./errors.ts";

export function buildProgram(): Command {
  const program = new Command("webencode")
    .description("Command-line client of a WebEncode kernel: submit and follow transcoding jobs.")
    .version(VERSION_WITH_COMMIT, "-V, --version")
    .option("-c, --context <name>", "use this saved context instead of the current one")
    .option("--json", "machine-readable output on stdout (also the default when stdout is not a terminal)")
    // Every usage problem ends here as a CommanderError, turned into exit 2 below (commander's own is 1).
    .exitOverride()
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      `
Environment: WEBENCODE_URL and WEBENCODE_API_KEY override the saved context; XDG_CONFIG_HOME moves the
config file (default ~/.config/webencode/config.toml).
Exit codes: 0 done/completed, 1 failed, 2 usage, 3 cancelled, 4 cannot reach or authenticate, 130 detached.

Examples:
  webencode login http://127.0.0.1:8080 --api-key "$(cat data/admin-api-key)"
  webencode submit clip.mp4 --profile 720p_h264 --wait --download out/
  webencode jobs ls --state failed`,
    );
  authCommands(program);
  submitCommand(program);
  jobsCommands(program);
  eventsCommand(program);
  systemCommands(program);
  keysCommands(program);
  program
    .command("completion")
    .summary("print a shell completion script (bash, zsh or fish)")
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh", "fish"]))
    .addHelpText(
      "after",
      "\nExamples:\n  webencode completion bash > /etc/bash_completion.d/webencode\n  webencode completion zsh >> ~/.zshrc\n  webencode completion fish > ~/.config/fish/completions/webencode.fish",
    )
    .action((shell: "bash" | "zsh" | "fish") => {
      const tree = commandTree(program);
      process.stdout.write(shell === "bash" ? bashScript(tree) : shell === "zsh" ? zshScript(tree) : fishScript(tree));
    });
  return program;
}

/** Runs the CLI on `argv` and returns the exit code; errors become one line on stderr. */
export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end "with an error" of exit code 0; anything else is bad usage (already printed).
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof CliError) {
      process.stderr.write(`webencode: ${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`webencode: ${(e as Error).stack ?? String(e)}\n`);
    return EXIT.failed;
  }
}

if (import.meta.main) process.exit(await run(process.argv));
