/** `webencode-kernel migrate [status]`. */
import type { Logger } from "../core/logger.ts";
import { withDatabase } from "./command-db.ts";
import { migrate, migrationStatus } from "../db/migrate.ts";
import type { KernelConfig } from "./config.ts";

export async function migrateCommand(config: KernelConfig, logger: Logger, args: string[]): Promise<number> {
  const sub = args[0] ?? "up";
  if (!["up", "status"].includes(sub)) {
    process.stderr.write(`unknown migrate command: ${sub} (expected: migrate, migrate status)\n`);
    return 2;
  }
  return withDatabase(
    config,
    logger,
    async (db) => {
      if (sub === "status") {
        const states = await migrationStatus(db);
        for (const s of states) process.stdout.write(`${s.applied ? "applied" : "pending"}  ${s.tag}\n`);
        const pending = states.filter((s) => !s.applied).length;
        process.stdout.write(`${states.length - pending} applied, ${pending} pending\n`);
        return;
      }
      const applied = await migrate(db);
      process.stdout.write(applied.length ? applied.map((t) => `applied  ${t}\n`).join("") : "database is up to date\n");
    },
    { requireCurrentSchema: false },
  );
}
