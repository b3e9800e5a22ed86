/**
 * The first admin: on a kernel's first start against an empty database (no API keys yet), one admin key is
 * created — ADMIN_API_KEY when set (automation), otherwise a random one that is printed to the log once and
 * written to DATA_DIR/admin-api-key (mode 0600). Several kernels starting together create exactly one key
 * (a transaction-scoped advisory lock). `webencode-kernel admin create-key` makes more later.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { sql } from "drizzle-orm";
import type { Logger } from "../../core/logger.ts";
import type { Db } from "../../db/client.ts";
import { rowsOf } from "../../db/exec.ts";
import { apiKeys } from "../../db/schema.ts";
import { displayPrefix, generateApiKey, hashApiKey } from "./api-keys.ts";

export const ADMIN_KEY_FILE = "admin-api-key";

/** Writes a key to a file only its owner can read; returns the path. */
export function writeKeyFile(dataDir: string, name: string, key: string): string {
  mkdirSync(dataDir, { recursive: true });
  const path = resolve(dataDir, name);
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

export async function ensureFirstAdmin(db: Db, opts: { dataDir: string; adminKey?: string; logger: Logger }): Promise<void> {
  const created = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('webencode:first-admin-key'))`);
    const [row] = rowsOf<{ n: number }>(await tx.execute(sql`select count(*)::int as n from api_keys`));
    if ((row?.n ?? 0) > 0) return undefined;
    const key = opts.adminKey ?? generateApiKey();
    await tx.insert(apiKeys).values({ name: "first admin", role: "admin", createdBy: "system", prefix: displayPrefix(key), keyHash: hashApiKey(key) });
    return key;
  });
  if (!created) return;
  if (opts.adminKey) {
    opts.logger.info({ prefix: displayPrefix(created) }, "first start: the admin API key is ADMIN_API_KEY");
    return;
  }
  const path = writeKeyFile(opts.dataDir, ADMIN_KEY_FILE, created);
  opts.logger.warn(
    { prefix: displayPrefix(created), file: path },
    `first start: created an admin API key: ${created} — it is shown only now and saved in ${path} (readable only by this user). ` +
      "Send it as `Authorization: Bearer <key>`; create personal keys with POST /v1/api-keys and delete the file.",
  );
}
