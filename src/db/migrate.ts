/**
 * Applies the embedded migrations. All pending migrations run in one transaction that first takes a
 * PostgreSQL advisory lock, so concurrent kernels serialize (the second finds nothing to do) and a failure
 * rolls everything back: the database is never left half-migrated ("dirty"), and the error names the
 * migration that failed.
 */
import { sql } from "drizzle-orm";
import type { Db } from "./client.ts";
import { rowsOf } from "./exec.ts";
import { type EmbeddedMigration, embeddedMigrations } from "./migrations-macro.ts" with { type: "macro" };

/** Arbitrary constant shared by every kernel: "WEBENC" in ASCII. */
const MIGRATION_LOCK_KEY = 0x574542454e43;

export const MIGRATIONS: EmbeddedMigration[] = embeddedMigrations() as EmbeddedMigration[];

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly migration?: string,
  ) {
    super(message);
    this.name = "MigrationError";
  }
}

export interface MigrationState {
  tag: string;
  when: number;
  applied: boolean;
}

const BOOKKEEPING = [
  sql`create schema if not exists drizzle`,
  sql`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`,
];

async function appliedWhens(db: Pick<Db, "execute">): Promise<Set<number>> {
  const exists = await db.execute(sql`select to_regclass('drizzle.__drizzle_migrations') as t`);
  if (!rowsOf<{ t: string | null }>(exists)[0]?.t) return new Set();
  const rows = rowsOf<{ created_at: string | number }>(await db.execute(sql`select created_at from drizzle.__drizzle_migrations`));
  return new Set(rows.map((r) => Number(r.created_at)));
}

export async function migrationStatus(db: Db, migrations = MIGRATIONS): Promise<MigrationState[]> {
  const applied = await appliedWhens(db);
  return migrations.map((m) => ({ tag: m.tag, when: m.when, applied: applied.has(m.when) }));
}

/** Applies pending migrations; returns the tags applied. Throws MigrationError naming the failing one. */
export async function migrate(db: Db, migrations = MIGRATIONS): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    for (const stmt of BOOKKEEPING) await tx.execute(stmt);
    const applied = await appliedWhens(tx);
    const newest = Math.max(0, ...applied);
    const done: string[] = [];
    for (const m of migrations) {
      if (applied.has(m.when)) continue;
      if (m.when < newest) {
        throw new MigrationError(
          `Migration ${m.tag} is older than the newest applied migration and would never run; regenerate it with \`bun run db:generate\` after the others`,
          m.tag,
        );
      }
      for (const stmt of m.statements) {
        try {
          await tx.execute(sql.raw(stmt));
        } catch (e) {
          throw new MigrationError(`Migration ${m.tag} failed: ${failureReason(e)} (rolled back; the database is unchanged)`, m.tag);
        }
      }
      await tx.execute(sql`insert into drizzle.__drizzle_migrations (hash, created_at) values (${m.hash}, ${m.when})`);
      done.push(m.tag);
    }
    return done;
  });
}

/**
 * drizzle wraps the driver's error as "Failed query: <sql>\nparams: " with the PostgreSQL error as its
 * cause: report the database's own reason (e.g. `relation "x" does not exist`) on one line.
 */
function failureReason(error: unknown): string {
  let reason: unknown = error;
  while (reason instanceof Error && reason.cause instanceof Error) reason = reason.cause;
  const text = reason instanceof Error ? reason.message : String(reason);
  return text.replace(/\s*\n\s*/g, " ").trim();
}
