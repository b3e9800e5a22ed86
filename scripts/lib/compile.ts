/**
 * `bun build --compile` of the two executables, shared by scripts/build.ts (dist/, the end-to-end tests) and
 * scripts/release.ts (one pair per target platform). The git commit goes into the binaries through a
 * `--define` (src/core/version.ts reads it), so `--version` and `/v1/system/health` name the exact sources.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

export const ROOT = join(import.meta.dir, "..", "..");

/**
 * The executables of a build and of a release, with their entry points: the kernel, the worker and the
 * command-line client `webencode` (docs/cli.md: built from src/cli/ alone, a small client).
 */
export const EXECUTABLES = [
  ["src/kernel/main.ts", "webencode-kernel"],
  ["src/worker/main.ts", "webencode-worker"],
  ["src/cli/main.ts", "webencode"],
] as const;

/** Targets a release is built for (`bun build --target=bun-<target>`); the first is this machine's usual one. */
export const RELEASE_TARGETS = ["linux-x64", "linux-x64-baseline", "linux-arm64"] as const;
export type ReleaseTarget = (typeof RELEASE_TARGETS)[number];

export interface CompileOptions {
  /** A `bun-<target>` cross-compile target; none = this machine's platform (the running Bun's runtime). */
  target?: ReleaseTarget;
  /** The commit embedded in the binary (src/core/version.ts); "unknown" outside a git checkout. */
  commit: string;
  /** Files embedded as they are (Bun.embeddedFiles), e.g. the dashboard's archive in the kernel. */
  embed?: string[];
}

/** The checkout's commit (12 hex digits), "unknown" when git or the repository is not there (a source tarball). */
export function gitCommit(): string {
  const r = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const sha = r.exitCode === 0 ? r.stdout.toString().trim() : "";
  return /^[0-9a-f]{7,40}$/.test(sha) ? sha : "unknown";
}

/** The commit's date in seconds since 1970 (reproducible archive timestamps), or undefined outside git. */
export function gitCommitTime(): number | undefined {
  const r = Bun.spawnSync(["git", "log", "-1", "--format=%ct", "HEAD"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const t = Number(r.stdout.toString().trim());
  return r.exitCode === 0 && Number.isInteger(t) && t > 0 ? t : undefined;
}

/** Compiles `entry` (relative to the repository root) into `outfile`; throws with Bun's output on failure. */
export function compile(entry: string, outfile: string, opts: CompileOptions): void {
  // --bytecode needs --format=esm (top-level await); together they cut startup to ~30 ms (docs/architecture.md §9).
  const args = [process.execPath, "build", "--compile", "--minify", "--bytecode", "--format=esm", "--sourcemap=none"];
  // Bun fetches a cross-compile target's runtime from the npm registry (@oven/bun-<target>) once and caches it.
  if (opts.target) args.push(`--target=bun-${opts.target}`);
  args.push("--define", `WEBENCODE_COMMIT=${JSON.stringify(opts.commit)}`, entry, ...(opts.embed ?? []), "--outfile", outfile);
  const r = Bun.spawnSync(args, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    process.stderr.write(r.stdout.toString() + r.stderr.toString());
    throw new Error(`build failed for ${entry}${opts.target ? ` (target ${opts.target})` : ""}`);
  }
}

/**
 * The web dashboard's archive (scripts/build-ui.ts) in a scratch folder, for the kernel to embed; the caller
 * removes the folder. Prints the bundle's sizes.
 */
export function buildUiArchive(): { file: string; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), "webencode-ui-"));
  const file = join(dir, "webencode-ui.bundle");
  const r = Bun.spawnSync([process.execPath, "scripts/build-ui.ts", "--out", file], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(r.stdout.toString() + r.stderr.toString());
    throw new Error("the web dashboard (src/ui/) did not build");
  }
  process.stdout.write(r.stdout.toString());
  return { file, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Compiles every executable (EXECUTABLES) into `outdir`, the kernel with the dashboard inside; returns their paths. */
export function compileExecutables(outdir: string, opts: CompileOptions): string[] {
  mkdirSync(outdir, { recursive: true });
  const ui = buildUiArchive();
  try {
    return EXECUTABLES.map(([entry, name]) => {
      compile(entry, join(outdir, name), name === "webencode-kernel" ? { ...opts, embed: [ui.file] } : opts);
      return join(outdir, name);
    });
  } finally {
    ui.dispose();
  }
}

/** Every file under `dir`, sorted (a stable order makes a stable hash). */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.name !== "node_modules")
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

/** What the executables are built from; equal hashes mean equal binaries. */
export function sourceHash(extra: string): string {
  const h = new Bun.CryptoHasher("sha256");
  h.update(`bun ${Bun.version} ${Bun.revision} ${extra}\n`);
  const inputs = ["src", "plugins", "migrations", "package.json", "package-lock.json", "tsconfig.json", "scripts/build.ts", "scripts/build-ui.ts", "scripts/lib/compile.ts"];
  for (const f of inputs.flatMap((p) => filesUnder(join(ROOT, p)))) {
    h.update(`${relative(ROOT, f)}\0`);
    h.update(readFileSync(f));
  }
  return h.digest("hex");
}

export const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
