/**
 * `bun run build`: compiles dist/webencode-kernel and dist/webencode-worker (migrations, Swagger UI assets
 * and PGlite's WASM inside), plus, with `--plugins`, each standard plugin in plugins/<id>/main.ts as its own
 * binary in dist/plugins/ (not needed for a normal release: the standard plugins are built into the two
 * executables; see docs/plugins.md). Prints every artifact's size.
 *
 * `--if-changed` (npm start) skips the build when the output directory's stamp says it was built from exactly
 * these sources: a hash of src/, plugins/, migrations/, the package files, this script and the Bun version.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const root = join(import.meta.dir, "..");
// --outdir DIR builds elsewhere (e.g. a benchmark's private copy) instead of dist/.
const outdirArg = process.argv.indexOf("--outdir");
const dist = outdirArg > 0 && process.argv[outdirArg + 1] ? resolve(process.argv[outdirArg + 1]!) : join(root, "dist");
const withPlugins = process.argv.includes("--plugins");
const ifChanged = process.argv.includes("--if-changed");
const STAMP = ".build-stamp";

/** Every file under `dir`, sorted (a stable order makes a stable hash). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (statSync(dir).isFile()) return [dir];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.name !== "node_modules")
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

/** What the executables are built from; equal hashes mean equal binaries. */
function sourceHash(): string {
  const h = new Bun.CryptoHasher("sha256");
  h.update(`bun ${Bun.version} ${Bun.revision} plugins=${withPlugins}\n`);
  for (const f of ["src", "plugins", "migrations", "package.json", "package-lock.json", "tsconfig.json", "scripts/build.ts"].flatMap((p) => filesUnder(join(root, p)))) {
    h.update(`${relative(root, f)}\0`);
    h.update(readFileSync(f));
  }
  return h.digest("hex");
}

const hash = sourceHash();
const names = ["webencode-kernel", "webencode-worker"];
if (ifChanged && existsSync(join(dist, STAMP)) && readFileSync(join(dist, STAMP), "utf8").trim() === hash && names.every((n) => existsSync(join(dist, n)))) {
  process.stdout.write(`${relative(root, dist) || dist}: up to date (sources unchanged since the last build)\n`);
  process.exit(0);
}

function compile(entry: string, outfile: string): void {
  // --bytecode needs --format=esm (top-level await); together they cut startup to ~30 ms (docs/architecture.md §9).
  const args = [process.execPath, "build", "--compile", "--minify", "--bytecode", "--format=esm", "--sourcemap=none", entry, "--outfile", outfile];
  const r = Bun.spawnSync(args, { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    process.stderr.write(r.stdout.toString() + r.stderr.toString());
    throw new Error(`build failed for ${entry}`);
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

mkdirSync(dist, { recursive: true });
// No stamp while the binaries are being replaced: an interrupted build must not look up to date.
rmSync(join(dist, STAMP), { force: true });
const artifacts: string[] = [];
for (const [entry, name] of [
  ["src/kernel/main.ts", "webencode-kernel"],
  ["src/worker/main.ts", "webencode-worker"],
] as const) {
  compile(entry, join(dist, name));
  artifacts.push(join(dist, name));
}

if (withPlugins && existsSync(join(root, "plugins"))) {
  mkdirSync(join(dist, "plugins"), { recursive: true });
  for (const id of readdirSync(join(root, "plugins"))) {
    const entry = join("plugins", id, "main.ts");
    if (!existsSync(join(root, entry))) continue;
    compile(entry, join(dist, "plugins", id));
    artifacts.push(join(dist, "plugins", id));
  }
}

writeFileSync(join(dist, STAMP), `${hash}\n`);

let total = 0;
for (const a of artifacts) {
  const size = statSync(a).size;
  total += size;
  process.stdout.write(`${mib(size).padStart(10)}  ${relative(root, a)}\n`);
}
process.stdout.write(`${mib(total).padStart(10)}  total\n`);
