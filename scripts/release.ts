/**
 * `npm run release`: the archives people download. For each target platform one
 * `webencode-<version>-<target>.tar.gz` holding a directory of the same name with webencode-kernel,
 * webencode-worker (the standard plugins are built in), the `webencode` CLI, install.sh, systemd/, README.md, docs/, LICENSE and
 * MANIFEST.json (version, commit, build date, Bun version, FFmpeg requirement, every file's SHA-256); plus one
 * SHA256SUMS over the archives (`sha256sum -c SHA256SUMS`).
 *
 *   bun scripts/release.ts [--outdir DIR] [--targets linux-x64,linux-x64-baseline,linux-arm64]
 *
 * Default: dist/release/, all three targets. Cross-compiling fetches the target's Bun runtime from the npm
 * registry (@oven/bun-linux-*) once; it is cached under ~/.bun/install/cache. Reproducible as far as cheap:
 * archive entries are sorted, owned by 0:0 and dated at the commit's time, gzip stores no name or time, and
 * SOURCE_DATE_EPOCH (if set) fixes the manifest's build date.
 */
import { copyFileSync, cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { compileExecutables, filesUnder, gitCommit, gitCommitTime, mib, RELEASE_TARGETS, type ReleaseTarget, ROOT } from "./lib/compile.ts";

/** What the archive asks of the host: FFmpeg is not bundled (docs/media.md lists the encoders it uses). */
const FFMPEG_REQUIREMENT = "ffmpeg and ffprobe 5.1 or newer on PATH (or FFMPEG_PATH/FFPROBE_PATH); tested with Debian 12's 5.1";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function parseTargets(value: string | undefined): ReleaseTarget[] {
  if (!value) return [...RELEASE_TARGETS];
  const out = value.split(",").map((t) => t.trim()).filter(Boolean);
  const unknown = out.filter((t) => !(RELEASE_TARGETS as readonly string[]).includes(t));
  if (unknown.length || !out.length) {
    process.stderr.write(`unknown target(s) ${unknown.join(", ") || "(none)"}; known: ${RELEASE_TARGETS.join(", ")}\n`);
    process.exit(2);
  }
  return out as ReleaseTarget[];
}

/** SHA-256 of a file, read in chunks (the archives are ~100 MiB). */
async function sha256(path: string): Promise<string> {
  const h = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) h.update(chunk);
  return h.digest("hex");
}

function run(argv: string[], cwd: string): void {
  const r = Bun.spawnSync(argv, { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr.toString().trim()}`);
}

/** Fills `stage` with everything but the binaries: install script, units, docs, licence. */
function copyPayload(stage: string): void {
  copyFileSync(join(ROOT, "scripts/install.sh"), join(stage, "install.sh"));
  mkdirSync(join(stage, "systemd"));
  for (const unit of readdirSync(join(ROOT, "systemd")).filter((f) => f.endsWith(".service"))) copyFileSync(join(ROOT, "systemd", unit), join(stage, "systemd", unit));
  cpSync(join(ROOT, "docs"), join(stage, "docs"), { recursive: true });
  for (const f of ["README.md", "LICENSE"]) copyFileSync(join(ROOT, f), join(stage, f));
}

const outdir = resolve(arg("--outdir") ?? join(ROOT, "dist", "release"));
const targets = parseTargets(arg("--targets"));
const commit = gitCommit();
const mtime = gitCommitTime() ?? Math.floor(Date.now() / 1000);
const epoch = Number(process.env.SOURCE_DATE_EPOCH);
const buildDate = new Date(Number.isInteger(epoch) && epoch > 0 ? epoch * 1000 : Date.now()).toISOString();

mkdirSync(outdir, { recursive: true });
const archives: string[] = [];
for (const target of targets) {
  const name = `webencode-${pkg.version}-${target}`;
  const stage = join(outdir, name);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const started = performance.now();
  compileExecutables(stage, { target, commit });
  copyPayload(stage);
  const files = await Promise.all(
    filesUnder(stage).map(async (file) => ({ path: relative(stage, file), size: statSync(file).size, sha256: await sha256(file) })),
  );
  const manifest = {
    name: "webencode",
    version: pkg.version,
    target,
    commit,
    build_date: buildDate,
    bun_version: `${Bun.version}+${Bun.revision.slice(0, 9)}`,
    ffmpeg: FFMPEG_REQUIREMENT,
    files,
  };
  writeFileSync(join(stage, "MANIFEST.json"), `${JSON.stringify(manifest, null, 2)}\n`);

  const archive = join(outdir, `${name}.tar.gz`);
  // GNU tar: sorted entries, fixed owner and dates; gzip -n leaves out the name and time: same inputs, same bytes.
  const tar = `tar --sort=name --mtime=@${mtime} --owner=0 --group=0 --numeric-owner -cf - ${name} | gzip -n > ${name}.tar.gz`;
  run(["bash", "-o", "pipefail", "-c", tar], outdir);
  rmSync(stage, { recursive: true, force: true });
  archives.push(archive);
  const binSizes = files.filter((f) => f.path.startsWith("webencode")).map((f) => `${f.path} ${mib(f.size)}`);
  process.stdout.write(`${mib(statSync(archive).size).padStart(10)}  ${relative(process.cwd(), archive)}  (${binSizes.join(", ")}; ${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
}

// One checksum file for every archive of this version in the directory (earlier --targets runs included),
// in `sha256sum -c` format.
const all = readdirSync(outdir).filter((f) => f.startsWith(`webencode-${pkg.version}-`) && f.endsWith(".tar.gz")).sort();
const sums = await Promise.all(all.map(async (f) => `${await sha256(join(outdir, f))}  ${f}`));
writeFileSync(join(outdir, "SHA256SUMS"), `${sums.join("\n")}\n`);
process.stdout.write(`${" ".repeat(10)}  ${relative(process.cwd(), join(outdir, "SHA256SUMS"))} (${all.length} archive${all.length === 1 ? "" : "s"}; commit ${commit})\n`);
