/**
 * The database layer against a real PostgreSQL (a private database per test) and PGlite in a temp
 * directory: migrations on an empty database, idempotence, the advisory lock serializing concurrent
 * migrators, a failing migration rolled back and named, the runbook's indexes, PGlite durability across
 * close/reopen, and the DATA_DIR lock against a second process.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Database, openDatabase } from "../../src/db/client.ts";
import { DataDirLockedError, lockDataDir } from "../../src/db/datadir-lock.ts";
import { rowsOf } from "../../src/db/exec.ts";
import { MIGRATIONS, MigrationError, migrate, migrationStatus } from "../../src/db/migrate.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { BUN, killAllProcs, ROOT, runProc, spawnProc } from "../helpers/proc.ts";

const FIXTURE = join(ROOT, "test", "fixtures", "open-datadir.ts");

async function query<T>(database: Database, text: string): Promise<T[]> {
  return rowsOf<T>(await database.db.execute(sql.raw(text)));
}

async function tableExists(database: Database, name: string): Promise<boolean> {
  const [row] = await query<{ t: string | null }>(database, `select to_regclass('public.${name}') as t`);
  return row?.t != null;
}

describe("migrations on PostgreSQL", () => {
  const dbs: TestDatabase[] = [];
  const extra: Database[] = [];
  afterAll(async () => {
    for (const d of extra) await d.close().catch(() => {});
    for (const d of dbs) await d.drop().catch(() => {});
  });

  test("an empty database: migrate applies 0000_initial, status shows all applied, a second run applies nothing", async () => {
    const t = await createTestDatabase({ migrated: false });
    dbs.push(t);
    expect(await tableExists(t.database, "jobs")).toBe(false);

    const before = await migrationStatus(t.database.db);
    expect(before.map((s) => s.tag)).toEqual(MIGRATIONS.map((m) => m.tag));
    expect(before.every((s) => !s.applied)).toBe(true);

    const applied = await migrate(t.database.db);
    expect(applied).toEqual(MIGRATIONS.map((m) => m.tag));
    expect(applied[0]).toBe("0000_initial");

    const after = await migrationStatus(t.database.db);
    expect(after.every((s) => s.applied)).toBe(true);
    for (const table of ["jobs", "tasks", "workers", "profiles", "plugin_configs"]) expect(await tableExists(t.database, table)).toBe(true);

    // drizzle-compatible bookkeeping: one row per migration, with its hash and journal timestamp.
    const rows = await query<{ hash: string; created_at: string }>(t.database, "select hash, created_at from drizzle.__drizzle_migrations order by id");
    expect(rows.map((r) => r.hash)).toEqual(MIGRATIONS.map((m) => m.hash));
    expect(rows.map((r) => Number(r.created_at))).toEqual(MIGRATIONS.map((m) => m.when));

    expect(await migrate(t.database.db)).toEqual([]);
    const [count] = await query<{ n: number }>(t.database, "select count(*)::int as n from drizzle.__drizzle_migrations");
    expect(count!.n).toBe(MIGRATIONS.length);
  });

  test("two concurrent migrators on a fresh database: both succeed, exactly one applies (advisory lock)", async () => {
    const t = await createTestDatabase({ migrated: false });
    dbs.push(t);
    // Two separate pools, as two kernels would have.
    const a = await openDatabase({ url: t.url, dataDir: "", maxConnections: 1 });
    const b = await openDatabase({ url: t.url, dataDir: "", maxConnections: 1 });
    extra.push(a, b);
    const results = await Promise.all([migrate(a.db), migrate(b.db)]);
    const appliers = results.filter((r) => r.length > 0);
    expect(appliers).toHaveLength(1);
    expect(appliers[0]).toEqual(MIGRATIONS.map((m) => m.tag));
    expect(results.filter((r) => r.length === 0)).toHaveLength(1);
    const [count] = await query<{ n: number }>(t.database, "select count(*)::int as n from drizzle.__drizzle_migrations");
    expect(count!.n).toBe(MIGRATIONS.length);
  });

  test("a failing migration throws MigrationError naming it and rolls back its earlier statements", async () => {
    const t = await createTestDatabase();
    dbs.push(t);
    const broken = [
      ...MIGRATIONS,
      { tag: "9999_broken", when: Date.now() + 1e6, hash: "x", statements: ["create table ok_t(id int)", "select * from no_such_table"] },
    ];
    let caught: unknown;
    try {
      await migrate(t.database.db, broken);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(MigrationError);
    const err = caught as MigrationError;
    expect(err.migration).toBe("9999_broken");
    expect(err.message).toContain("9999_broken");
    expect(err.message).toContain('relation "no_such_table" does not exist'); // the database's reason, not only the SQL
    expect(err.message).not.toContain("\n");

    expect(await tableExists(t.database, "ok_t")).toBe(false);
    const status = await migrationStatus(t.database.db, broken);
    expect(status.find((s) => s.tag === "9999_broken")?.applied).toBe(false);
    expect(status.filter((s) => s.tag !== "9999_broken").every((s) => s.applied)).toBe(true);
  });

  test("a migration older than the newest applied one is refused, not skipped silently", async () => {
    const t = await createTestDatabase();
    dbs.push(t);
    const late = [...MIGRATIONS, { tag: "0001_from_a_branch", when: MIGRATIONS[0]!.when - 1000, hash: "y", statements: ["create table late_t(id int)"] }];
    const err = await migrate(t.database.db, late).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).message).toContain("0001_from_a_branch");
    expect(await tableExists(t.database, "late_t")).toBe(false);
  });

  test("the runbook's indexes exist", async () => {
    const t = await createTestDatabase();
    dbs.push(t);
    const rows = await query<{ indexname: string; tablename: string; indexdef: string }>(
      t.database,
      "select indexname, tablename, indexdef from pg_indexes where schemaname = 'public' and indexname in ('idx_jobs_user_created', 'idx_tasks_job_status') order by indexname",
    );
    expect(rows.map((r) => r.indexname)).toEqual(["idx_jobs_user_created", "idx_tasks_job_status"]);
    const jobs = rows[0]!;
    expect(jobs.tablename).toBe("jobs");
    expect(jobs.indexdef).toContain("(user_id, created_at DESC");
    expect(jobs.indexdef).toMatch(/WHERE \(+status <> 'completed'/);
    const tasks = rows[1]!;
    expect(tasks.tablename).toBe("tasks");
    expect(tasks.indexdef).toContain("(job_id, status)");
    expect(tasks.indexdef).not.toContain("WHERE");
  });
});

describe("PGlite in DATA_DIR", () => {
  const dir = mkdtempSync(join(tmpdir(), "webencode-pglite-"));
  let first: Database | undefined;

  beforeAll(async () => {
    first = await openDatabase({ dataDir: dir });
  });

  afterAll(async () => {
    await first?.close().catch(() => {});
    await killAllProcs();
    rmSync(dir, { recursive: true, force: true });
  });

  test("migrations apply and a committed row survives close and reopen", async () => {
    expect(first!.driver).toBe("pglite");
    expect(await migrate(first!.db)).toEqual(MIGRATIONS.map((m) => m.tag));
    expect(await first!.ping()).toBe(true);
    await first!.db.execute(sql`insert into workers (id, hostname, version) values ('durable-1', 'h', '0.1.0')`);
    await first!.close();
    first = undefined;

    first = await openDatabase({ dataDir: dir });
    const rows = rowsOf<{ id: string; status: string }>(await first.db.execute(sql`select id, status from workers`));
    expect(rows).toEqual([{ id: "durable-1", status: "healthy" }]);
    expect((await migrationStatus(first.db)).every((s) => s.applied)).toBe(true);
    expect(await migrate(first.db)).toEqual([]);
  }, 60_000);

  test("a second process on the same DATA_DIR fails with a clear DataDirLockedError while the first holds it", async () => {
    expect(first).toBeDefined(); // opened (and locked) by this process
    const r = await runProc([BUN, FIXTURE, "open", dir], { timeoutMs: 30_000 });
    expect(r.stdout).not.toContain("opened");
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("already in use by another process");
    expect(r.stderr).toContain(`(pid ${process.pid})`);
    expect(r.stderr).toContain("DATA_DIR");
    expect(r.stderr).toContain(dir);
  });

  test("in the same process a second lock is refused too", () => {
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
  });

  test("the lock is released by close(), and by the kernel when the holder is SIGKILLed", async () => {
    await first!.close();
    first = undefined;
    const lock = lockDataDir(dir); // free again after close()
    lock.release();

    const holder = spawnProc([BUN, FIXTURE, "hold", dir]);
    await holder.waitForLine("locked", 15_000, "stdout");
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    holder.kill("SIGKILL");
    expect((await holder.exited).signal).toBe("SIGKILL");
    const again = lockDataDir(dir); // no stale lock after a crash
    again.release();
  });
});
