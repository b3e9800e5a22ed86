/** Builds PLUGIN_DIR executables for tests: a shell launcher that runs a fixture plugin under Bun. */
import { chmodSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { AppError } from "../../src/core/errors.ts";
import type { Logger } from "../../src/core/logger.ts";
import { createLogger } from "../../src/core/logger.ts";

export const ECHO_FIXTURE = resolve(import.meta.dir, "../fixtures/plugins/echo.ts");

export function tempPluginDir(): string {
  return mkdtempSync(join(tmpdir(), "we-plugins-"));
}

/** Writes an executable launcher `dir/name` for the echo fixture claiming `apiVersion`, `id` and `version`. */
export function writeEchoLauncher(dir: string, name: string, opts: { apiVersion?: string; id?: string; version?: string } = {}): string {
  const path = join(dir, name);
  // Written to a temporary name and renamed: how a binary is replaced in place (a new inode), and never half-written.
  const temporary = `${path}.new`;
  writeFileSync(temporary, `#!/bin/sh\nexec "${process.execPath}" "${ECHO_FIXTURE}" "${opts.apiVersion ?? "1.0"}" "${opts.id ?? name}" "${opts.version ?? "0.0.1"}"\n`);
  chmodSync(temporary, 0o755);
  renameSync(temporary, path);
  return path;
}

/** A logger whose JSON lines are collected in memory, for asserting on what reached the log. */
export function capturingLogger(service = "test"): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger(service, "debug", {
    write(s: string) {
      for (const l of s.split("\n")) if (l.trim()) lines.push(JSON.parse(l));
    },
  } as never);
  return { logger, lines };
}

/** The error a plugin host call rejects with; a call that succeeds fails the test. */
export async function rejection(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    return e as AppError;
  }
  throw new Error("expected the call to fail");
}
