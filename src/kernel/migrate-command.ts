/** `webencode-kernel migrate [status]`. */
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { openDatabase } from "../db/client.ts";
import { migrate, migrationStatus } from "../db/migrate.ts";
import type { KernelConfig } from "./config.ts";

export async function migrateCommand(config: KernelConfig, logger: Logger, args: string[]): Promise<number> {
  const sub = args[0] ?? "up";
  if (!["up", "status"].includes(sub)) {
    process.stderr.write(`unknown migrate command: ${sub} (expected: migrate, migrate status)\n`);
    return 2;
  }
  let database;
  try {
    database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, maxConnections: 1 });
  } catch (e) {
    logger.fatal({ error: errorMessage(e) }, `cannot open the database: ${errorMessage(e)}`);
    return 1;
  }
  try {
    if (sub === "status") {
      const states = await migrationStatus(database.db);
      for (const s of states) process.stdout.write(`${s.applied ? "applied" : "pending"}  ${s.tag}\n`);
      const pending = states.filter((s) => !s.applied).length;
      process.stdout.write(`${states.length - pending} applied, ${pending} pending\n`);
      return 0;
    }
    const applied = await migrate(database.db);
    process.stdout.write(applied.length ? applied.map((t) => `applied  ${t}\n`).join("") : "database is up to date\n");
    return 0;
  } catch (e) {
    logger.fatal({ error: errorMessage(e) }, errorMessage(e));
    return 1;
  } finally {
    await database.close();
  }
}
