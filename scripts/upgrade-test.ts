/**
 * Rolling-upgrade check (issue 22; docs/deployment.md, "Upgrades and versions"): the PREVIOUS build's worker
 * against THIS build's kernel with jobs in flight, then the runbook's rolling worker upgrade — a new worker
 * joins, the old one is stopped with SIGTERM (it drains: its running task finishes or is handed back) — and
 * every job completes with the delivery invariants intact.
 *
 *   bun scripts/upgrade-test.ts [--previous <commit>] [--new-dist DIR]
 *
 * --previous: the commit whose worker plays the old release (default: the newest v* tag, else HEAD~1).
 * It is checked out with `git worktree` into a temporary directory and built there (with this checkout's
 * node_modules; the lockfiles must agree). --new-dist: this build's executables (default: built now into a
 * temporary directory). Needs PostgreSQL and NATS JetStream at TEST_DATABASE_URL / TEST_NATS_URL, like the
 * tests. Too slow for every CI run (two extra builds); run before a release and record the result in
 * docs/deployment.md. Exit code 0 = the upgrade held.
 */
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ROOT } from "./lib/compile.ts";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function git(...args: string[]): string {
  const r = Bun.spawnSync(["git", ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString().trim();
}

function build(checkout: string, outdir: string): void {
  const r = Bun.spawnSync([process.execPath, join(checkout, "scripts/build.ts"), "--outdir", outdir], { cwd: checkout, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error(`building ${checkout} failed`);
}

const lastTag = Bun.spawnSync(["git", "describe", "--tags", "--abbrev=0", "--match", "v*"], { cwd: ROOT, stdout: "pipe", stderr: "ignore" }).stdout.toString().trim();
const previous = git("rev-parse", "--short=12", arg("--previous") ?? (lastTag || "HEAD~1"));
const scratch = mkdtempSync(join(tmpdir(), "webencode-upgrade-"));
const oldTree = join(scratch, "previous");
let newDist = arg("--new-dist") ? resolve(arg("--new-dist")!) : "";
let failed = false;

try {
  process.stdout.write(`previous worker: ${previous}; new kernel: ${newDist || `this checkout (${git("rev-parse", "--short=12", "HEAD")}, working tree)`}\n`);
  git("worktree", "add", "--detach", oldTree, previous);
  symlinkSync(join(ROOT, "node_modules"), join(oldTree, "node_modules"));
  build(oldTree, join(scratch, "old-dist"));
  if (!newDist) {
    newDist = join(scratch, "new-dist");
    build(ROOT, newDist);
  }
  // test/helpers/proc.ts reads E2E_DIST when first imported: set it first, then load the helpers.
  process.env.E2E_DIST = newDist;
  const { rollingUpgrade } = await import("./lib/rolling-upgrade.ts");
  const problems = await rollingUpgrade(join(scratch, "old-dist", "webencode-worker"), join(scratch, "media"));
  if (problems.length) {
    failed = true;
    process.stdout.write(`FAILED:\n${problems.map((p) => `  - ${p}`).join("\n")}\n`);
  } else process.stdout.write("OK: old worker + new kernel completed its tasks, the rolling upgrade completed every job in flight\n");
} catch (e) {
  failed = true;
  process.stdout.write(`FAILED: ${(e as Error).stack ?? e}\n`);
} finally {
  if (existsSync(oldTree)) Bun.spawnSync(["git", "worktree", "remove", "--force", oldTree], { cwd: ROOT });
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
