/** How the kernel's subcommands (`migrate`, `admin …`) open the database: one connection, errors logged once. */
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { type Db, openDatabase } from "../db/client.ts";
import { migrationStatus } from "../db/migrate.ts";
import type { KernelConfig } from "./config.ts";

/**
 * Opens the database, runs `work`, closes it; exit code 0, or 1 with the reason logged. With
 * `requireCurrentSchema`, a database with pending migrations is refused (run `webencode-kernel migrate`).
 */
export async function withDatabase(
  config: Pick<KernelConfig, "DATABASE_URL" | "DATA_DIR">,
  logger: Logger,
  work: (db: Db) => Promise<number | void>,
  opts: { requireCurrentSchema: boolean },
): Promise<number> {
  let database;
  try {
    database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR, maxConnections: 1 });
  } catch (e) {
    logger.fatal({ error: errorMessage(e) }, `cannot open the database: ${errorMessage(e)}`);
    return 1;
  }
  try {
    if (opts.requireCurrentSchema) {
      const pending = (await migrationStatus(database.db)).filter((m) => !m.applied);
      if (pending.length) throw new Error(`the database schema is not current (${pending.length} pending migration(s)); run \`webencode-kernel migrate\` first`);
    }
    return (await work(database.db)) ?? 0;
  } catch (e) {
    logger.fatal({ error: errorMessage(e) }, errorMessage(e));
    return 1;
  } finally {
    await database.close();
  }
}
