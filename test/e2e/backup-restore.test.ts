/**
 * `webencode-kernel admin backup` and `admin restore` (docs/ha.md, "Backups"), run as an operator runs them:
 * the compiled kernel's subcommands. What was committed before the backup comes back after a restore, and
 * what came after it does not — checked through the API with keys made before and after.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { TEST_KERNEL_SECURITY_ENV } from "../helpers/auth.ts";
import { createTestDatabase } from "../helpers/db.ts";
import { useCompiledBinaries } from "../helpers/e2e-setup.ts";
import { startStandaloneKernel } from "../helpers/first-job.ts";
import { freePort, spawnProc } from "../helpers/proc.ts";

const e2e = useCompiledBinaries("webencode-backup");

async function kernelCommand(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = spawnProc([e2e.kernel, ...args], { env, cwd });
  const status = await proc.exited;
  return { code: status.code ?? -1, stdout: proc.stdout, stderr: proc.stderr };
}

describe("admin backup / restore", () => {
  test("PostgreSQL: pg_dump then pg_restore brings back the backed-up rows and drops later ones", async () => {
    const db = await createTestDatabase({ migrated: false });
    const dir = e2e.dir("pg");
    const env = { DATABASE_URL: db.url, DATA_DIR: join(dir, "data"), ...TEST_KERNEL_SECURITY_ENV, LOG_LEVEL: "warn" };
    try {
      expect((await kernelCommand(["migrate"], env, dir)).code).toBe(0);
      const before = await kernelCommand(["admin", "create-key", "--name", "before-backup"], env, dir);
      expect(before.code).toBe(0);
      const file = join(dir, "site.pgdump");
      const backup = await kernelCommand(["admin", "backup", "--output", file], env, dir);
      expect(backup.stderr).toContain(`backup written to ${file}`);
      expect(backup.code).toBe(0);
      // The password in DATABASE_URL never reaches the output.
      expect(`${backup.stdout}${backup.stderr}`).not.toContain(db.url);
      const after = await kernelCommand(["admin", "create-key", "--name", "after-backup"], env, dir);
      expect(after.code).toBe(0);

      const restore = await kernelCommand(["admin", "restore", file], env, dir);
      expect(restore.stderr).toContain(`restored from ${file}`);
      expect(restore.code).toBe(0);
      const names = await namesOf(db.url);
      expect(names).toContain("before-backup");
      expect(names).not.toContain("after-backup");

      const missing = await kernelCommand(["admin", "restore", join(dir, "nope.pgdump")], env, dir);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain("is not a file");
    } finally {
      await db.drop();
    }
  }, 180_000);

  test("standalone: the stopped kernel's DATA_DIR is packed and restored into an empty one; the old key works again", async () => {
    const dir = e2e.dir("standalone");
    const dataDir = join(dir, "data");
    const port = await freePort();
    const env = { PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: "warn" };
    const kernel = await startStandaloneKernel(e2e.kernel, dir, env, dataDir);
    const firstKey = kernel.key;
    // A running kernel holds DATA_DIR: the backup refuses and says why.
    const busy = await kernelCommand(["admin", "backup", "--output", join(dir, "busy.tar.gz")], env, dir);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain("stop the kernel before a standalone backup or restore");
    await kernel.proc.stop("SIGTERM", 20_000);

    const file = join(dir, "standalone.tar.gz");
    const backup = await kernelCommand(["admin", "backup", "--output", file], env, dir);
    expect(backup.code).toBe(0);
    expect(existsSync(file)).toBe(true);

    const refused = await kernelCommand(["admin", "restore", file], env, dir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("already holds a database");
    const forced = await kernelCommand(["admin", "restore", file, "--force"], env, dir);
    expect(forced.code).toBe(0);
    expect(readdirSync(dataDir).some((name) => name.startsWith("before-restore-"))).toBe(true);

    const restarted = spawnProc([e2e.kernel], { env, cwd: dir });
    try {
      await restarted.waitForHttp200(`http://127.0.0.1:${port}/v1/health`, 120_000);
      const answer = await fetch(`http://127.0.0.1:${port}/v1/api-keys`, { headers: { authorization: `Bearer ${firstKey}` } });
      expect(answer.status).toBe(200);
    } finally {
      await restarted.stop("SIGTERM", 20_000);
    }
  }, 240_000);
});

async function namesOf(url: string): Promise<string[]> {
  const postgres = (await import("postgres")).default;
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return (await sql<{ name: string }[]>`select name from api_keys order by name`).map((row) => row.name);
  } finally {
    await sql.end();
  }
}
