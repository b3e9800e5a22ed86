/** `webencode login`, `logout`, `whoami`: contexts in the config file (src/cli/config.ts). */
import type { Command } from "commander";
import { ApiClient } from "../client.ts";
import { CONTEXT_NAME, normalizeUrl, readConfig, writeConfig } from "../config.ts";
import { usageError } from "../errors.ts";
import { printJson, say } from "../output.ts";
import { runtimeOf } from "../runtime.ts";

interface Principal {
  id: string;
  name: string;
  role: string;
  via: string;
}

/** The first line of stdin (a key piped in: `webencode login URL < key-file`). */
async function readLine(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write("API key: ");
  for await (const line of console) return line.trim();
  return "";
}

export function authCommands(program: Command): void {
  program
    .command("login")
    .summary("save a server and its API key as a context, after checking them")
    .argument("[url]", "the kernel's URL (default: WEBENCODE_URL, else the context's saved URL)")
    .option("--api-key <key>", "the API key (default: WEBENCODE_API_KEY, else read from stdin)")
    .addHelpText(
      "after",
      `
Examples:
  webencode login http://127.0.0.1:8080 --api-key "$(cat data/admin-api-key)"
  webencode --context prod login https://encode.example.com < prod.key
The key is checked (GET /v1/auth/whoami) before it is saved; the file is written with mode 0600.`,
    )
    .action(async (url: string | undefined, opts: { apiKey?: string }, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const name = rt.flags.context ?? "default";
      if (!CONTEXT_NAME.test(name)) throw usageError(`bad context name ${name}: use 1-64 of A-Z a-z 0-9 _ -`);
      const cfg = readConfig(rt.configPath);
      const rawUrl = url ?? process.env.WEBENCODE_URL ?? cfg.contexts[name]?.url;
      if (!rawUrl) throw usageError("give the server's URL: webencode login http://host:8080");
      const target = { url: normalizeUrl(rawUrl), apiKey: opts.apiKey ?? process.env.WEBENCODE_API_KEY ?? (await readLine()) };
      if (!target.apiKey) throw usageError("no API key given (--api-key, WEBENCODE_API_KEY or stdin)");
      const me = await new ApiClient(target).get<Principal>("/v1/auth/whoami");
      cfg.contexts[name] = { url: target.url, api_key: target.apiKey };
      cfg.current = name;
      writeConfig(rt.configPath, cfg);
      if (rt.flags.json) printJson({ context: name, url: target.url, ...me });
      say(`logged in to ${target.url} as ${me.name} (${me.role}); context "${name}" saved in ${rt.configPath}`);
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
