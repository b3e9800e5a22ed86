/** `webencode login`, `logout`, `whoami`: contexts in the config file (src/cli/config.ts). */
import type { Command } from "commander";
import { ApiClient } from "../client.ts";
import { CONTEXT_NAME, type Context, normalizeUrl, readConfig, writeConfig } from "../config.ts";
import { usageError } from "../errors.ts";
import { printJson, printTable, say } from "../output.ts";
import { runtimeOf } from "../runtime.ts";
import { postTokens, withTokens } from "../session.ts";

interface Principal {
  id: string;
  name: string;
  role: string;
  via: string;
}

/**
 * The first line of stdin (`webencode login URL < key-file`); on a terminal a prompt, with echo off so the
 * secret is not shown.
 */
async function readSecret(prompt: string): Promise<string> {
  const tty = Boolean(process.stdin.isTTY);
  if (tty) {
    process.stderr.write(prompt);
    Bun.spawnSync(["stty", "-echo"], { stdin: "inherit" });
  }
  try {
    for await (const line of console) return line.replace(/\r$/, "");
    return "";
  } finally {
    if (tty) {
      Bun.spawnSync(["stty", "echo"], { stdin: "inherit" });
      process.stderr.write("\n");
    }
  }
}

export function authCommands(program: Command): void {
  program
    .command("login")
    .summary("save a server and its API key as a context, after checking them")
    .argument("[url]", "the kernel's URL (default: WEBENCODE_URL, else the context's saved URL)")
    .option("--api-key <key>", "the API key (default: WEBENCODE_API_KEY, else read from stdin)")
    .option("-u, --username <name>", "log in with a username and password instead (auth-basic); the password is read from stdin")
    .addHelpText(
      "after",
      `
Examples:
  webencode login http://127.0.0.1:8080 --api-key "$(cat data/admin-api-key)"
  webencode --context prod login https://encode.example.com < prod.key
  webencode login http://127.0.0.1:8080 --username ana          # prompts for the password
The key is checked (GET /v1/auth/whoami) before it is saved; the file is written with mode 0600.
A password login saves the session's tokens (never the password) and refreshes them by itself.`,
    )
    .action(async (url: string | undefined, opts: { apiKey?: string; username?: string }, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const name = rt.flags.context ?? "default";
      if (!CONTEXT_NAME.test(name)) throw usageError(`bad context name ${name}: use 1-64 of A-Z a-z 0-9 _ -`);
      if (opts.username && opts.apiKey) throw usageError("give either --api-key or --username, not both");
      const cfg = readConfig(rt.configPath);
      const rawUrl = url ?? process.env.WEBENCODE_URL ?? cfg.contexts[name]?.url;
      if (!rawUrl) throw usageError("give the server's URL: webencode login http://host:8080");
      const base = normalizeUrl(rawUrl);
      let context: Context;
      if (opts.username) {
        const password = await readSecret("Password: ");
        if (!password) throw usageError("no password given (stdin)");
        const now = Date.now();
        context = withTokens({ url: base, username: opts.username }, await postTokens(base, "/v1/auth/login", { username: opts.username, password }), now);
      } else {
        const apiKey = opts.apiKey ?? process.env.WEBENCODE_API_KEY ?? (await readSecret("API key: ")).trim();
        if (!apiKey) throw usageError("no API key given (--api-key, WEBENCODE_API_KEY or stdin)");
        context = { url: base, api_key: apiKey };
      }
      const target = { url: base, apiKey: context.api_key ?? context.access_token };
      const me = await new ApiClient(target).get<Principal>("/v1/auth/whoami");
      cfg.contexts[name] = context;
      cfg.current = name;
      writeConfig(rt.configPath, cfg);
      if (rt.flags.json) printJson({ context: name, url: base, ...me });
      say(`logged in to ${base} as ${me.name} (${me.role}); context "${name}" saved in ${rt.configPath}`);
    });

  program
    .command("logout")
    .summary("forget a context's key (the current one, or --context)")
    .action((_opts: unknown, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const cfg = readConfig(rt.configPath);
      const name = rt.flags.context ?? cfg.current;
      if (!name || !cfg.contexts[name]) throw usageError(name ? `no context named ${name}` : "not logged in");
      delete cfg.contexts[name];
      if (cfg.current === name) cfg.current = Object.keys(cfg.contexts).sort()[0];
      writeConfig(rt.configPath, cfg);
      say(`context "${name}" removed${cfg.current ? `; current context is now "${cfg.current}"` : ""}`);
    });

  const contexts = program.command("contexts").summary("list the saved contexts, choose the current one");
  contexts
    .command("ls")
    .summary("the saved contexts (never their keys)")
    .action((_opts: unknown, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const cfg = readConfig(rt.configPath);
      const rows = Object.entries(cfg.contexts).sort(([a], [b]) => (a < b ? -1 : 1));
      const auth = (c: Context) => (c.api_key ? "api key" : c.username ? `password (${c.username})` : "none");
      if (rt.output.json) return printJson({ current: cfg.current ?? null, items: rows.map(([name, c]) => ({ name, url: c.url, auth: auth(c) })) });
      printTable(["", "NAME", "URL", "AUTH"], rows.map(([name, c]) => [name === cfg.current ? "*" : "", name, c.url, auth(c)]));
    });
  contexts
    .command("use")
    .summary("make a saved context the current one")
    .argument("<name>", "context name")
    .action((name: string, _opts: unknown, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const cfg = readConfig(rt.configPath);
      if (!cfg.contexts[name]) throw usageError(`no context named ${name}; saved: ${Object.keys(cfg.contexts).join(", ") || "none"}`);
      cfg.current = name;
      writeConfig(rt.configPath, cfg);
      say(`current context is now "${name}" (${cfg.contexts[name]!.url})`);
    });

  program
    .command("whoami")
    .summary("show the server and who it thinks you are")
    .action(async (_opts: unknown, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const client = rt.client();
      const me = await client.get<Principal>("/v1/auth/whoami");
      const out = { context: client.target.context ?? null, url: client.target.url, ...me };
      if (rt.output.json) printJson(out);
      else process.stdout.write(`${me.name} (${me.role}, via ${me.via}) at ${client.target.url}${out.context ? `, context "${out.context}"` : ""}\n`);
    });
}
