/**
 * `npm start` builds only when the sources changed (scripts/build.ts --if-changed): a second start with the
 * same sources reuses the binaries (no 30 s rebuild), and a stamp that does not match the sources rebuilds.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, runProc } from "../helpers/proc.ts";

const out = mkdtempSync(join(tmpdir(), "webencode-build-stamp-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const build = () => runProc([process.execPath, "scripts/build.ts", "--if-changed", "--outdir", out], { cwd: ROOT, timeoutMs: 300_000 });

test("unchanged sources: the second build is skipped; a stale stamp rebuilds", async () => {
  const first = await build();
  expect(first.code).toBe(0);
  expect(first.stdout).toContain("webencode-kernel");
  const kernelTime = statSync(join(out, "webencode-kernel")).mtimeMs;

  const started = Date.now();
  const second = await build();
  expect(second.code).toBe(0);
  expect(second.stdout).toContain("up to date");
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(statSync(join(out, "webencode-kernel")).mtimeMs).toBe(kernelTime);

  writeFileSync(join(out, ".build-stamp"), "0".repeat(64));
  const third = await build();
  expect(third.code).toBe(0);
  expect(third.stdout).not.toContain("up to date");
  expect(statSync(join(out, "webencode-kernel")).mtimeMs).toBeGreaterThan(kernelTime);
}, 600_000);
