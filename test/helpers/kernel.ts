/**
 * An in-process kernel for integration tests: the real startKernel() on a free port (PORT=0), against a
 * private PostgreSQL database (createTestDatabase) and a unique BUS_PREFIX, so nothing is shared with other
 * test files or concurrent runs. `stop()` stops the kernel, drops the database and, for NATS, removes the
 * prefix's streams — call it in afterAll even when a test failed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type LogLevel } from "../../src/core/logger.ts";
import { loadKernelConfig } from "../../src/kernel/config.ts";
import { type KernelHandle, startKernel } from "../../src/kernel/start.ts";
import { TEST_KERNEL_SECURITY_ENV, withAuth } from "./auth.ts";
import { createTestDatabase, type TestDatabase } from "./db.ts";
import { cleanupPrefix, natsUrl, uniquePrefix } from "./nats.ts";

export interface TestKernel {
  handle: KernelHandle;
  url: string;
  db: TestDatabase;
  prefix: string;
  dataDir: string;
  /** fetch() against the kernel's base URL with the test admin key: `k.fetch("/v1/health")` (helpers/auth.ts). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Stops the kernel (idempotent) and removes its database, temp dir and bus prefix. */
  stop(): Promise<void>;
  /** True once the kernel handle's stop() resolved. */
  readonly stopped: boolean;
}

export interface TestKernelOptions {
  /** Use the shared NATS JetStream (TEST_NATS_URL) instead of the in-process bus. */
  nats?: boolean;
  /** Extra or overriding variables (e.g. EMBEDDED_WORKER, MAX_BODY_SIZE). */
  env?: Record<string, string>;
  logLevel?: LogLevel;
  /** Collects every log line (JSON text) here instead of discarding them (level: logLevel, default debug). */
  logSink?: string[];
}

export async function startTestKernel(opts: TestKernelOptions = {}): Promise<TestKernel> {
  const db = await createTestDatabase();
  const prefix = uniquePrefix();
  const dataDir = mkdtempSync(join(tmpdir(), "webencode-kernel-test-"));
  const nats = opts.nats ? natsUrl() : undefined;
  let handle: KernelHandle;
  try {
    const config = loadKernelConfig({
      PORT: "0",
      HOST: "127.0.0.1",
      DATABASE_URL: db.url,
      DATA_DIR: dataDir,
      // Not ./plugins: the repository's plugins/ holds plugin sources, and a test must not pick up whatever
      // binaries or plugins.toml happen to be there.
      PLUGIN_DIR: join(dataDir, "plugins"),
      BUS_PREFIX: prefix,
      EMBEDDED_WORKER: "false",
      SHUTDOWN_TIMEOUT: "5s",
      ...TEST_KERNEL_SECURITY_ENV,
      ...(nats ? { NATS_URL: nats } : {}),
      ...opts.env,
    });
    const sink = opts.logSink;
    const logger = sink ? createLogger("kernel", opts.logLevel ?? "debug", { write: (line: string) => void sink.push(line) }) : createLogger("kernel", opts.logLevel ?? "silent");
    handle = await startKernel(config, logger);
    // The kernel listens before its plugin processes are ready (issue 20; test/integration/kernel-early-listen.test.ts
    // covers that window): tests written against a started kernel get its plugins running too.
    await handle.ctx.plugins.started();
  } catch (e) {
    await db.drop().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
    if (nats) await cleanupPrefix(nats, prefix).catch(() => {});
    throw e;
  }
  let stopping: Promise<void> | undefined;
  let stopped = false;
  return {
    handle,
    url: handle.url,
    db,
    prefix,
    dataDir,
    fetch: (path, init) => fetch(`${handle.url}${path}`, withAuth(init)),
    get stopped() {
      return stopped;
    },
    stop() {
      stopping ??= (async () => {
        try {
          await handle.stop();
          stopped = true;
        } finally {
          await db.drop().catch(() => {});
          rmSync(dataDir, { recursive: true, force: true });
          if (nats) await cleanupPrefix(nats, prefix).catch(() => {});
        }
      })();
      return stopping;
    },
  };
}
