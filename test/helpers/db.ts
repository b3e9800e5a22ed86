/**
 * A private PostgreSQL database per test file, cloned from a migrated template (fast and isolated; the
 * machine's PostgreSQL is shared with other runs and CI). Template name carries the migrations' hashes and timestamps, so a
 * new migration makes a new template.
 */
import { createHash } from "node:crypto";
import postgres from "postgres";
import { type Database, openDatabase } from "../../src/db/client.ts";
import { MIGRATIONS, migrate } from "../../src/db/migrate.ts";

export const adminUrl = () => process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

export function urlFor(db: string): string {
  const u = new URL(adminUrl());
  u.pathname = `/${db}`;
  return u.toString();
}

const templateName = () => `we_tpl_${createHash("sha256").update(MIGRATIONS.map((m) => `${m.hash}@${m.when}`).join()).digest("hex").slice(0, 12)}`;

async function ensureTemplate(admin: postgres.Sql): Promise<string> {
  const name = templateName();
  // A session-level lock (CREATE DATABASE cannot run inside a transaction): concurrent runs build it once.
  const conn = await admin.reserve();
  try {
    await conn`select pg_advisory_lock(4711)`;
    const [exists] = await conn`select 1 from pg_database where datname = ${name}`;
    if (!exists) {
      await conn.unsafe(`drop database if exists "${name}_build"`);
      await conn.unsafe(`create database "${name}_build"`);
      const database = await openDatabase({ url: urlFor(`${name}_build`), dataDir: "", maxConnections: 1 });
      await migrate(database.db);
      await database.close();
      await conn.unsafe(`alter database "${name}_build" rename to "${name}"`);
    }
    await conn`select pg_advisory_unlock(4711)`;
  } finally {
    conn.release();
  }
  return name;
}

/** Drops test databases left behind by runs that died more than an hour ago. */
async function dropStale(admin: postgres.Sql): Promise<void> {
  const cutoff = Math.floor(Date.now() / 1000) - 3600;
  const rows = await admin`select datname from pg_database where datname like 'we_t_%'`;
  for (const r of rows) {
    const ts = Number(String(r.datname).split("_")[2]);
    if (ts && ts < cutoff) await admin.unsafe(`drop database if exists "${r.datname}" with (force)`).catch(() => {});
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  database: Database;
  drop(): Promise<void>;
}

export async function createTestDatabase(opts: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const admin = postgres(adminUrl(), { max: 1, onnotice: () => {} });
  try {
    await dropStale(admin);
    const name = `we_t_${Math.floor(Date.now() / 1000)}_${crypto.randomUUID().slice(0, 8)}`;
    if (opts.migrated === false) await admin.unsafe(`create database "${name}"`);
    else await admin.unsafe(`create database "${name}" template "${await ensureTemplate(admin)}"`);
    const url = urlFor(name);
    const database = await openDatabase({ url, dataDir: "", maxConnections: 4 });
    return {
      name,
      url,
      database,
      async drop() {
        await database.close().catch(() => {});
        const a = postgres(adminUrl(), { max: 1, onnotice: () => {} });
        await a.unsafe(`drop database if exists "${name}" with (force)`).finally(() => a.end());
      },
    };
  } finally {
    await admin.end();
  }
}
