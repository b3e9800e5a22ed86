/**
 * Shell completion scripts generated from the command tree itself (so a new command completes without
 * editing anything here): `webencode completion bash|zsh|fish`. Commands and subcommands complete by name,
 * options by their long flag; other words fall back to file names (sources, --download directories).
 */
import type { Command } from "commander";

export interface Node {
  name: string;
  summary: string;
  options: string[];
  children: Node[];
}

/** The tree of commands with their long options (pure over commander's objects; help is left out). */
export function commandTree(cmd: Command): Node {
  return {
    name: cmd.name(),
    summary: cmd.summary() || cmd.description(),
    options: cmd.options.map((o) => o.long).filter((l): l is string => Boolean(l)).concat("--help"),
    children: cmd.commands.filter((c) => c.name() !== "help").map(commandTree),
  };
}

const words = (xs: string[]) => xs.join(" ");

/** bash (and zsh through bashcompinit): a case on the first two words. */
export function bashScript(root: Node): string {
  // Global options that also work after a command (--version and --help of the root do not carry over).
  const globals = root.options.filter((o) => o !== "--version" && o !== "--help");
  const cases: string[] = [];
  for (const c of root.children) {
    if (c.children.length) {
      cases.push(`    ${c.name}) if [ "$COMP_CWORD" -eq 2 ]; then words="${words(c.children.map((s) => s.name))}"; else case "\${COMP_WORDS[2]}" in`);
      for (const s of c.children) cases.push(`        ${s.name}) words="${words([...s.options, ...globals])}" ;;`);
      cases.push("      esac; fi ;;");
    } else cases.push(`    ${c.name}) words="${words([...c.options, ...globals])}" ;;`);
  }
  return `# webencode completion for bash; zsh: autoload -U bashcompinit && bashcompinit, then the same.
_webencode() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" words=""
  if [ "$COMP_CWORD" -eq 1 ]; then
    words="${words([...root.children.map((c) => c.name), ...root.options])}"
  else
    case "\${COMP_WORDS[1]}" in
${cases.join("\n")}
    esac
  fi
  if [[ "$cur" == -* || ( "$COMP_CWORD" -eq 1 ) || ( -n "$words" && "$words" != --* ) ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _webencode webencode
`;
}

export function zshScript(root: Node): string {
  return `autoload -U +X bashcompinit && bashcompinit\n${bashScript(root)}`;
}

/** fish: one `complete` line per command and per option, conditioned on the words seen so far. */
export function fishScript(root: Node): string {
  const q = (s: string) => `'${s.replace(/'/g, "\\'")}'`;
  const lines = ["complete -c webencode -f"];
  for (const o of root.options) lines.push(`complete -c webencode -l ${o.slice(2)}`);
  for (const c of root.children) {
    lines.push(`complete -c webencode -n __fish_use_subcommand -a ${c.name} -d ${q(c.summary)}`);
    for (const s of c.children) lines.push(`complete -c webencode -n ${q(`__fish_seen_subcommand_from ${c.name}; and not __fish_seen_subcommand_from ${words(c.children.map((x) => x.name))}`)} -a ${s.name} -d ${q(s.summary)}`);
    for (const n of c.children.length ? c.children : [c]) {
      const cond = n === c ? `__fish_seen_subcommand_from ${c.name}` : `__fish_seen_subcommand_from ${n.name}`;
      for (const o of n.options) lines.push(`complete -c webencode -n ${q(cond)} -l ${o.slice(2)}`);
    }
  }
  lines.push(`complete -c webencode -n ${q("__fish_seen_subcommand_from submit")} -F`);
  return `${lines.join("\n")}\n`;
}
