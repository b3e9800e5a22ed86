/**
 * `webencode-kernel admin create-key [--name NAME] [--role viewer|operator|admin] [--expires-days N]`: a new
 * API key straight into the database — for a lost first key or automation. The key is printed once on stdout
 * and saved in DATA_DIR/api-key-<id> (mode 0600). In standalone mode stop the kernel first (its embedded
 * database allows one process); distributed kernels may keep running.
 */
import { parseArgs } from "node:util";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { backupCommand, restoreCommand } from "./backup-command.ts";
import { withDatabase } from "./command-db.ts";
import { createApiKey } from "./auth/api-keys.ts";
import { writeKeyFile } from "./auth/bootstrap.ts";
import { ROLES, type Role } from "./auth/principal.ts";
import { assertSecretKey, type KernelConfig } from "./config.ts";
import { exitOnConfigError } from "../core/config.ts";
import { kernelSecretBox, reencryptSecrets } from "./secrets.ts";

const CURRENT = { requireCurrentSchema: true };

const USAGE =
  "usage: webencode-kernel admin create-key [--name NAME] [--role viewer|operator|admin] [--expires-days N]\n" +
  "       webencode-kernel admin reencrypt-secrets   (after a SECRET_KEY rotation, with SECRET_KEY_PREVIOUS set)\n" +
  "       webencode-kernel admin backup [--output FILE]\n" +
  "       webencode-kernel admin restore FILE [--force]\n";

export async function adminCommand(config: KernelConfig, logger: Logger, args: string[]): Promise<number> {
  if (args[0] === "backup") return backupCommand(config, logger, args.slice(1));
  if (args[0] === "restore") return restoreCommand(config, logger, args.slice(1));
  if (args[0] === "reencrypt-secrets") {
    try {
      assertSecretKey(config);
    } catch (e) {
      exitOnConfigError(e);
    }
    return withDatabase(config, logger, async (db) => {
      const n = await reencryptSecrets(db, kernelSecretBox(config));
      process.stdout.write(`re-encrypted ${n} secret value(s) with the current SECRET_KEY; SECRET_KEY_PREVIOUS can now be removed\n`);
    }, CURRENT);
  }
  if (args[0] !== "create-key") {
    process.stderr.write(`unknown admin command: ${args.join(" ") || "(none)"}\n${USAGE}`);
    return 2;
  }
  let opts: { name: string; role: Role; expiresDays?: number };
  try {
    const { values } = parseArgs({ args: args.slice(1), options: { name: { type: "string" }, role: { type: "string" }, "expires-days": { type: "string" } }, strict: true });
    const role = (values.role ?? "admin") as Role;
    if (!ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(", ")}`);
    const days = values["expires-days"] === undefined ? undefined : Number(values["expires-days"]);
    if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650)) throw new Error("--expires-days must be a whole number from 1 to 3650");
    opts = { name: values.name ?? `${role} key (created with webencode-kernel admin)`, role, expiresDays: days };
  } catch (e) {
    process.stderr.write(`${errorMessage(e)}\n${USAGE}`);
    return 2;
  }
  return withDatabase(config, logger, async (db) => {
    const expiresAt = opts.expiresDays ? new Date(Date.now() + opts.expiresDays * 86_400_000) : null;
    const { row, key } = await createApiKey(db, { name: opts.name, role: opts.role, expiresAt, createdBy: "cli" });
    const file = writeKeyFile(config.DATA_DIR, `api-key-${row.id}`, key);
    process.stdout.write(`${key}\n`);
    process.stderr.write(`created ${row.role} API key ${row.prefix}… (id ${row.id}); it is not shown again and was saved in ${file} (readable only by this user)\n`);
  }, CURRENT);
}
