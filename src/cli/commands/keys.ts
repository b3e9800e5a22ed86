/** `webencode keys create|ls|revoke`: API keys (admin role). */
import { type Command, InvalidArgumentError, Option } from "commander";
import { printJson, printTable, say, shortTime } from "../output.ts";
import { runtimeOf } from "../runtime.ts";

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: string;
  status: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

function parseDays(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3650) throw new InvalidArgumentError("a whole number of days from 1 to 3650");
  return n;
}

export function keysCommands(program: Command): void {
  const keys = program.command("keys").summary("create, list and revoke API keys (admin)");
  keys
    .command("create")
    .summary("create a key; it is printed once, on stdout, and never again")
    .argument("<name>", "what the key is for (1-100 characters)")
    .addOption(new Option("--role <role>", "what it may do").choices(["viewer", "operator", "admin"]).default("operator"))
    .option("--expires-in-days <n>", "lifetime in days (default: no expiry)", parseDays)
    .addHelpText("after", "\nExample:\n  webencode keys create ci --role operator --expires-in-days 90 > ci.key")
    .action(async (name: string, opts: { role: string; expiresInDays?: number }, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const k = await rt.client().post<ApiKey & { key: string }>("/v1/api-keys", { name, role: opts.role, ...(opts.expiresInDays ? { expires_in_days: opts.expiresInDays } : {}) });
      if (rt.flags.json) return printJson(k);
      process.stdout.write(`${k.key}\n`);
      say(`key ${k.id} (${k.name}, ${k.role}) created; it is shown only this once`);
    });
  keys
    .command("ls")
    .summary("the keys (never the keys themselves)")
    .action(async (_o: unknown, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const page = await rt.client().get<{ items: ApiKey[] }>("/v1/api-keys");
      if (rt.output.json) return printJson(page);
      printTable(
        ["ID", "NAME", "PREFIX", "ROLE", "STATUS", "EXPIRES (UTC)", "LAST USED (UTC)"],
        page.items.map((k) => [k.id, k.name, k.prefix, k.role, k.status, shortTime(k.expires_at) || "-", shortTime(k.last_used_at) || "-"]),
      );
    });
  keys
    .command("revoke")
    .summary("revoke a key at once (its open event streams end too)")
    .argument("<id>", "key id (from keys ls)")
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await runtimeOf(cmd).client().del(`/v1/api-keys/${encodeURIComponent(id)}`);
      say(`key ${id} revoked`);
    });
}
