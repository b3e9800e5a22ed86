/**
 * `webencode-kernel admin backup [--output FILE]` and `webencode-kernel admin restore FILE [--force]`
 * (docs/ha.md, "Backups"): the runbook's hourly dumps as one command per mode.
 *
 * - Distributed (DATABASE_URL): `pg_dump --format=custom` of the whole database (any host of a host list
 *   will do: a dump reads a consistent snapshot, a replica is fine) and `pg_restore --clean --if-exists
 *   --single-transaction` into it. Kernels may keep running during a backup; stop them for a restore.
 * - Standalone (embedded database): the stopped kernel's DATA_DIR database files and its secret key
 *   (without it stored plugin and webhook secrets cannot be decrypted) packed with tar; restore unpacks them
 *   into an empty DATA_DIR (with --force the current ones are moved aside first, never deleted).
 *
 * The argument lists are pure functions; the commands themselves are PostgreSQL's and tar.
 */
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { lockDataDir } from "../db/datadir-lock.ts";
import type { KernelConfig } from "./config.ts";

/** What a standalone backup holds, relative to DATA_DIR. */
export const STANDALONE_FILES = ["pgdata", "secret.key"] as const;

export function pgDumpArgs(url: string, file: string): string[] {
  return ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file", file, "--dbname", url];
}

export function pgRestoreArgs(url: string, file: string): string[] {
  return ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", "--dbname", url, file];
}

export function tarCreateArgs(dataDir: string, file: string, present: readonly string[]): string[] {
  return ["tar", "--create", "--gzip", "--file", file, "--directory", dataDir, ...present];
}

export function tarExtractArgs(dataDir: string, file: string): string[] {
  return ["tar", "--extract", "--gzip", "--file", file, "--directory", dataDir];
}

/** The default file name: webencode-<mode>-<UTC timestamp>.<ext> in the current directory. Pure. */
export function defaultBackupName(mode: "postgres" | "standalone", now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return mode === "postgres" ? `webencode-${stamp}.pgdump` : `webencode-standalone-${stamp}.tar.gz`;
}

const USAGE = "usage: webencode-kernel admin backup [--output FILE]\n       webencode-kernel admin restore FILE [--force]\n";

export async function backupCommand(config: Pick<KernelConfig, "DATABASE_URL" | "DATA_DIR">, logger: Logger, args: string[]): Promise<number> {
  let output: string | undefined;
  try {
    const { values } = parseArgs({ args, options: { output: { type: "string", short: "o" } }, strict: true });
    output = values.output;
  } catch (e) {
    process.stderr.write(`${errorMessage(e)}\n${USAGE}`);
    return 2;
  }
  const mode = config.DATABASE_URL ? "postgres" : "standalone";
  const file = resolve(output ?? defaultBackupName(mode, new Date()));
  if (config.DATABASE_URL) return finish(await run(pgDumpArgs(config.DATABASE_URL, file), logger), file, "backup written to");
  return withDataDirLock(config.DATA_DIR, logger, async () => {
    const present = STANDALONE_FILES.filter((name) => existsSync(join(config.DATA_DIR, name)));
    if (!present.includes("pgdata")) throw new Error(`no embedded database in ${config.DATA_DIR} (no pgdata folder): nothing to back up; set DATA_DIR (or DATABASE_URL for a PostgreSQL backup)`);
    return finish(await run(tarCreateArgs(config.DATA_DIR, file, present), logger), file, "backup written to");
  });
}

export async function restoreCommand(config: Pick<KernelConfig, "DATABASE_URL" | "DATA_DIR">, logger: Logger, args: string[]): Promise<number> {
  let file: string;
  let force = false;
  try {
    const { values, positionals } = parseArgs({ args, options: { force: { type: "boolean" } }, allowPositionals: true, strict: true });
    if (positionals.length !== 1) throw new Error("name one backup file");
    file = resolve(positionals[0]!);
    force = values.force ?? false;
    if (!existsSync(file) || !statSync(file).isFile()) throw new Error(`${file} is not a file`);
  } catch (e) {
    process.stderr.write(`${errorMessage(e)}\n${USAGE}`);
    return 2;
  }
  if (config.DATABASE_URL) return finish(await run(pgRestoreArgs(config.DATABASE_URL, file), logger), file, "restored from");
  return withDataDirLock(config.DATA_DIR, logger, async () => {
    const current = STANDALONE_FILES.filter((name) => existsSync(join(config.DATA_DIR, name)));
    if (current.length && !force) {
      throw new Error(`${config.DATA_DIR} already holds a database (${current.join(", ")}): restore into an empty DATA_DIR, or add --force to move the current files aside first`);
    }
    const aside = join(config.DATA_DIR, `before-restore-${defaultBackupName("standalone", new Date()).replace(/^webencode-standalone-|\.tar\.gz$/g, "")}`);
    if (current.length) {
      mkdirSync(aside, { recursive: true });
      for (const name of current) renameSync(join(config.DATA_DIR, name), join(aside, name));
      process.stderr.write(`moved the current ${current.join(" and ")} to ${aside}\n`);
    }
    return finish(await run(tarExtractArgs(config.DATA_DIR, file), logger), file, "restored from");
  });
}

async function run(argv: string[], logger: Logger): Promise<{ code: number; stderr: string; argv: string[] }> {
  const tool = argv[0]!;
  if (!Bun.which(tool)) {
    const hint = tool === "tar" ? "apt-get install tar" : "apt-get install postgresql-client (the same major version as the server, or newer)";
    logger.fatal({ tool }, `${tool} not found on PATH: ${hint}`);
    return { code: 127, stderr: "", argv };
  }
  const proc = Bun.spawn(argv, { stdout: "inherit", stderr: "pipe", stdin: "ignore" });
  const stderr = await new Response(proc.stderr).text();
  const code = await proc.exited;
  // The URL (with its password) is never echoed: only the tool and its exit status.
  if (code !== 0) logger.fatal({ tool, code }, `${tool} failed (exit ${code}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
  return { code, stderr, argv };
}

function finish(result: { code: number }, file: string, what: string): number {
  if (result.code !== 0) return 1;
  process.stderr.write(`${what} ${file}\n`);
  return 0;
}

/** The embedded database must not be open while its files are copied or replaced: the kernel is stopped. */
async function withDataDirLock(dataDir: string, logger: Logger, work: () => Promise<number>): Promise<number> {
  let lock: { release(): void };
  try {
    mkdirSync(dataDir, { recursive: true });
    lock = lockDataDir(dataDir);
  } catch (e) {
    logger.fatal({ error: errorMessage(e) }, `${errorMessage(e)} (stop the kernel before a standalone backup or restore)`);
    return 1;
  }
  try {
    return await work();
  } catch (e) {
    logger.fatal({ error: errorMessage(e) }, errorMessage(e));
    return 1;
  } finally {
    lock.release();
  }
}
