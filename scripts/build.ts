/**
 * `bun run build`: compiles dist/webencode-kernel and dist/webencode-worker (migrations, Swagger UI assets
 * and PGlite's WASM inside) and the command-line client dist/webencode (docs/cli.md), plus, with `--plugins`, each standard plugin in plugins/<id>/main.ts as its own
 * binary in dist/plugins/ (not needed for a normal release: the standard plugins are built into the two
 * executables; see docs/plugins.md). Prints every artifact's size. Release archives for several platforms:
 * scripts/release.ts (the same compile step, scripts/lib/compile.ts).
 *
 * `--if-changed` (npm start) skips the build when the output directory's stamp says it was built from exactly
 * these sources: a hash of src/, plugins/, migrations/, the package files, the build scripts and the Bun
 * version. The commit is not part of the hash (a commit that changes no source needs no 30 s rebuild), so
 * after such a commit `--version` may still name the earlier one.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { compile, compileExecutables, EXECUTABLES, gitCommit, mib, ROOT, sourceHash } from "./lib/compile.ts";

// --outdir DIR builds elsewhere (e.g. a benchmark's private copy) instead of dist/.
const outdirArg = process.argv.indexOf("--outdir");
const dist = outdirArg > 0 && process.argv[outdirArg + 1] ? resolve(process.argv[outdirArg + 1]!) : join(ROOT, "dist");
const withPlugins = process.argv.includes("--plugins");
const ifChanged = process.argv.includes("--if-changed");
const STAMP = ".build-stamp";

const hash = sourceHash(`plugins=${withPlugins}`);
if (ifChanged && existsSync(join(dist, STAMP)) && readFileSync(join(dist, STAMP), "utf8").trim() === hash && EXECUTABLES.every(([, n]) => existsSync(join(dist, n)))) {
  process.stdout.write(`${relative(ROOT, dist) || dist}: up to date (sources unchanged since the last build)\n`);
  process.exit(0);
}

const commit = gitCommit();
mkdirSync(dist, { recursive: true });
// No stamp while the binaries are being replaced: an interrupted build must not look up to date.
rmSync(join(dist, STAMP), { force: true });
const artifacts = compileExecutables(dist, { commit });

if (withPlugins && existsSync(join(ROOT, "plugins"))) {
  mkdirSync(join(dist, "plugins"), { recursive: true });
  for (const id of readdirSync(join(ROOT, "plugins"))) {
    const entry = join("plugins", id, "main.ts");
    if (!existsSync(join(ROOT, entry))) continue;
    compile(entry, join(dist, "plugins", id), { commit });
    artifacts.push(join(dist, "plugins", id));
  }
}

writeFileSync(join(dist, STAMP), `${hash}\n`);

let total = 0;
for (const a of artifacts) {
  const size = statSync(a).size;
  total += size;
  process.stdout.write(`${mib(size).padStart(10)}  ${relative(ROOT, a)}\n`);
}
process.stdout.write(`${mib(total).padStart(10)}  total\n`);
