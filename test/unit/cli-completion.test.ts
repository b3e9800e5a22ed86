/** The generated completion scripts, run by the real shells where they are installed (bash always is). */
import { describe, expect, test } from "bun:test";
import { bashScript, commandTree, fishScript } from "../../src/cli/completion.ts";
import { buildProgram } from "../../src/cli/main.ts";

const tree = commandTree(buildProgram());

/** COMPREPLY for the words typed so far (the last one being completed), from bash itself. */
function complete(line: string[]): string[] {
  const script = `${bashScript(tree)}
COMP_WORDS=(${line.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${line.length - 1}; _webencode; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = Bun.spawnSync(["bash", "-c", script], { cwd: "/", stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode, r.stderr.toString()).toBe(0);
  return r.stdout.toString().split("\n").filter(Boolean).sort();
}

describe("cli shell completion", () => {
  test("the tree has every command, its subcommands and options", () => {
    const jobs = tree.children.find((c) => c.name === "jobs")!;
    expect(jobs.children.map((c) => c.name)).toEqual(["ls", "get", "watch", "cancel", "retry", "rm", "logs", "outputs"]);
    expect(tree.children.find((c) => c.name === "submit")!.options).toEqual(["--profile", "--output", "--wait", "--download", "--priority", "--help"]);
  });

  test("bash completes commands, subcommands and options; other words are files", () => {
    expect(complete(["webencode", "jo"])).toEqual(["jobs"]);
    expect(complete(["webencode", "jobs", "c"])).toEqual(["cancel"]);
    expect(complete(["webencode", "jobs", "ls", "--"])).toEqual(["--context", "--help", "--json", "--limit", "--state"]);
    expect(complete(["webencode", "submit", "--w"])).toEqual(["--wait"]);
    expect(complete(["webencode", "submit", "/et"])).toEqual(["/etc"]);
  });

  test("fish: one line per command with its summary; parses with fish when installed", () => {
    const text = fishScript(tree);
    expect(text).toContain("complete -c webencode -n __fish_use_subcommand -a submit -d ");
    expect(text).toMatch(/__fish_seen_subcommand_from jobs; and not __fish_seen_subcommand_from ls get watch/);
    if (Bun.which("fish")) expect(Bun.spawnSync(["fish", "--no-execute", "-c", text]).exitCode).toBe(0);
  });
});
