/**
 * The compiled kernel (E2E_DIST or dist/) started as an operator would, on a private PostgreSQL database and
 * a unique NATS prefix, with no embedded worker: for tests where the HTTP layer or the process itself is what
 * is under test (aborted uploads, fuzzing). `dispose()` stops it and removes everything it made.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TEST_KERNEL_SECURITY_ENV } from "./auth.ts";
import { createTestDatabase, type TestDatabase } from "./db.ts";
import { cleanupPrefix, natsUrl, uniquePrefix } from "./nats.ts";
import { binary, freePort, type Proc, spawnProc } from "./proc.ts";

export interface CompiledKernel {
  proc: Proc;
  base: string;
  port: number;
  dataDir: string;
  db: TestDatabase;
  dispose(): Promise<void>;
}

export async function startCompiledKernel(env: Record<string, string> = {}): Promise<CompiledKernel> {
  const kernel = binary("webencode-kernel");
  const db = await createTestDatabase();
  const prefix = uniquePrefix();
  const scratch = mkdtempSync(join(tmpdir(), "webencode-ck-"));
  const dataDir = join(scratch, "data");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = spawnProc([kernel], {
    env: { DATABASE_URL: db.url, NATS_URL: natsUrl(), BUS_PREFIX: prefix, PORT: String(port), HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "info", ...TEST_KERNEL_SECURITY_ENV, ...env },
    cwd: scratch,
  });
  const dispose = async () => {
    await proc.stop("SIGTERM", 10_000).catch(() => {});
    await db.drop().catch(() => {});
    await cleanupPrefix(natsUrl(), prefix).catch(() => {});
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    await proc.waitForHttp200(`${base}/v1/health`, 120_000);
    // It listens before its plugin processes are ready (issue 20): the tests start from a kernel whose plugins run.
    if (["trace", "debug", "info"].includes(env.LOG_LEVEL ?? "info")) await proc.waitForLine("plugins started", 120_000);
  } catch (e) {
    await dispose();
    throw e;
  }
  return { proc, base, port, dataDir, db, dispose };
}
