/**
 * An exclusive lock on DATA_DIR for the embedded database. PGlite has no cross-process lock, and two
 * processes on one directory lose committed rows (docs/architecture.md §9), so the second process must refuse to start.
 *
 * flock(2) through bun:ffi: the kernel releases the lock when the holder dies, even on SIGKILL, so there
 * is no stale lock file to clean up by hand.
 */
import { dlopen, FFIType } from "bun:ffi";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, ftruncateSync } from "node:fs";
import { join, resolve } from "node:path";

const LOCK_EX = 2;
const LOCK_NB = 4;

let libc: { symbols: { flock: (fd: number, op: number) => number } } | undefined;
function flock(fd: number, op: number): number {
  libc ??= dlopen("libc.so.6", { flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 } }) as never;
  return libc!.symbols.flock(fd, op);
}

export class DataDirLockedError extends Error {
  constructor(dir: string, holder: string) {
    super(
      `DATA_DIR ${resolve(dir)} is already in use by another process${holder ? ` (pid ${holder})` : ""}: ` +
        "the embedded database allows one process at a time. Stop the other process, or give this one its own DATA_DIR or a DATABASE_URL.",
    );
    this.name = "DataDirLockedError";
  }
}

export interface DirLock {
  release(): void;
}

export function lockDataDir(dir: string): DirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "webencode.lock");
  const fd = openSync(path, "a+");
  if (flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    let holder = "";
    try {
      holder = readFileSync(path, "utf8").trim();
    } catch {}
    closeSync(fd);
    throw new DataDirLockedError(dir, holder);
  }
  ftruncateSync(fd, 0);
  writeFileSync(path, `${process.pid}\n`);
  return {
    release() {
      try {
        closeSync(fd); // closing the descriptor drops the flock
      } catch {}
    },
  };
}
