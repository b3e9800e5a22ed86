/**
 * Shared set-up for end-to-end files that start the compiled executables themselves: the binaries' paths
 * (resolved before the tests, so a missing build fails there with the build hint) and a scratch folder whose
 * sub-folders serve as each process's cwd, removed with every started process after the file.
 */
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { binary, killAllProcs } from "./proc.ts";

export interface CompiledE2E {
  /** Path of webencode-kernel; set once the file's beforeAll ran. */
  kernel: string;
  /** Path of webencode-worker; set once the file's beforeAll ran. */
  worker: string;
  /** A fresh folder under the file's scratch folder, named after `name`. */
  dir(name: string): string;
}

/** Registers the file's beforeAll/afterAll; call at the top level of a test file. `prefix` names its scratch folder. */
export function useCompiledBinaries(prefix: string): CompiledE2E {
  const scratch = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const e2e: CompiledE2E = { kernel: "", worker: "", dir: (name) => mkdtempSync(join(scratch, `${name}-`)) };
  beforeAll(() => {
    e2e.kernel = binary("webencode-kernel");
    e2e.worker = binary("webencode-worker");
  });
  afterAll(async () => {
    await killAllProcs();
    rmSync(scratch, { recursive: true, force: true });
  });
  return e2e;
}
