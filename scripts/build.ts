/**
 * `bun run build`: compiles dist/webencode-kernel and dist/webencode-worker (migrations, Swagger UI assets
 * and PGlite's WASM inside), plus, with `--plugins`, each standard plugin in plugins/<id>/main.ts as its own
 * binary in dist/plugins/ (not needed for a normal release: the standard plugins are built into the two
 * executables; see docs/plugins.md). Prints every artifact's size.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const root = join(import.meta.dir, "..");
// --outdir DIR builds elsewhere (e.g. a benchmark's private copy) instead of dist/.
const outdirArg = process.argv.indexOf("--outdir");
const dist = outdirArg > 0 && process.argv[outdirArg + 1] ? resolve(process.argv[outdirArg + 1]!) : join(root, "dist");
const withPlugins = process.argv.includes("--plugins");

function compile(entry: string, outfile: string): void {
  // --bytecode needs --format=esm (top-level await); together they cut startup to ~30 ms (STACK.md).
  const args = [process.execPath, "build", "--compile", "--minify", "--bytecode", "--format=esm", "--sourcemap=none", entry, "--outfile", outfile];
  const r = Bun.spawnSync(args, { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) {
    process.stderr.write(r.stdout.toString() + r.stderr.toString());
    throw new Error(`build failed for ${entry}`);
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

mkdirSync(dist, { recursive: true });
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

let total = 0;
for (const a of artifacts) {
  const size = statSync(a).size;
  total += size;
  process.stdout.write(`${mib(size).padStart(10)}  ${relative(root, a)}\n`);
}
process.stdout.write(`${mib(total).padStart(10)}  total\n`);
