/**
 * The downloadable release (issue 22): `scripts/release.ts` (what `npm run release` runs) into a temporary
 * directory, then what an operator does with its output — check SHA256SUMS, unpack the x64 archive into a
 * clean directory, read the manifest, start the kernel from there to a completed job, install, upgrade and
 * roll back with the archive's own install.sh — and the arm64 binary answering `--version` under Debian's
 * qemu-user-static (scripts/test.sh installs it). The x64-baseline target is left out to keep CI time down:
 * it is the same build step with another runtime (docs/BENCHMARKS.md lists its size).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { runFirstJob, startStandaloneKernel } from "../helpers/first-job.ts";
import { checkHls, checkMp4, makeClip, sourceFacts } from "../helpers/media.ts";
import { BUN, freePort, killAllProcs, ROOT, runProc } from "../helpers/proc.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-release-"));
const out = join(scratch, "release");
const name = (target: string) => `webencode-${pkg.version}-${target}`;
const commit = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: ROOT }).stdout.toString().trim();
let releaseLog = "";

/** Unpacks an archive of `out` into a fresh directory; returns the directory the archive holds. */
async function unpack(target: string): Promise<string> {
  const dir = join(scratch, `unpacked-${target}`);
  mkdirSync(dir);
  const r = await runProc(["tar", "-xzf", join(out, `${name(target)}.tar.gz`), "-C", dir], { timeoutMs: 120_000 });
  expect(r.code).toBe(0);
  expect(readdirSync(dir)).toEqual([name(target)]);
  return join(dir, name(target));
}

beforeAll(async () => {
  const r = await runProc([BUN, "scripts/release.ts", "--outdir", out, "--targets", "linux-x64,linux-arm64"], { cwd: ROOT, timeoutMs: 1_200_000 });
  releaseLog = r.stdout + r.stderr;
  if (r.code !== 0) throw new Error(`release failed (${r.code}):\n${releaseLog}`);
}, 1_250_000);

afterAll(async () => {
  await killAllProcs();
  rmSync(scratch, { recursive: true, force: true });
});

describe("release archives", () => {
  test("one archive per target plus SHA256SUMS that sha256sum -c accepts; sizes printed", async () => {
    expect(readdirSync(out).sort()).toEqual(["SHA256SUMS", `${name("linux-arm64")}.tar.gz`, `${name("linux-x64")}.tar.gz`]);
    const sums = readFileSync(join(out, "SHA256SUMS"), "utf8");
    expect(sums.trim().split("\n")).toHaveLength(2);
    const check = await runProc(["sha256sum", "-c", "SHA256SUMS"], { cwd: out });
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`${name("linux-x64")}.tar.gz: OK`);
    expect(check.stdout).toContain(`${name("linux-arm64")}.tar.gz: OK`);
    expect(releaseLog).toMatch(/\d+\.\d MiB .*webencode-kernel \d+\.\d MiB/);
  });

  test("x64: kernel, worker, CLI, install.sh, units, docs, LICENSE and a manifest whose checksums match", async () => {
    const dir = await unpack("linux-x64");
    expect(readdirSync(dir).sort()).toEqual(["LICENSE", "MANIFEST.json", "README.md", "docs", "install.sh", "systemd", "webencode", "webencode-kernel", "webencode-worker"]);
    expect(readdirSync(join(dir, "systemd")).sort()).toEqual(["webencode-kernel.service", "webencode-worker.service", "webencode-worker@.service"]);
    expect(readFileSync(join(dir, "LICENSE"), "utf8")).toContain("Apache License");
    expect(existsSync(join(dir, "docs", "deployment.md"))).toBe(true);
    for (const f of ["webencode-kernel", "webencode-worker", "webencode", "install.sh"]) expect(statSync(join(dir, f)).mode & 0o111).toBe(0o111);

    const m = JSON.parse(readFileSync(join(dir, "MANIFEST.json"), "utf8")) as Record<string, unknown> & { files: { path: string; size: number; sha256: string }[] };
    expect({ version: m.version, target: m.target, commit: m.commit }).toEqual({ version: pkg.version, target: "linux-x64", commit });
    expect(String(m.bun_version)).toStartWith(Bun.version);
    expect(String(m.ffmpeg)).toContain("5.1");
    expect(Number.isNaN(Date.parse(String(m.build_date)))).toBe(false);
    expect(m.files.map((f) => f.path)).toContain("webencode-kernel");
    for (const f of m.files) {
      const h = new Bun.CryptoHasher("sha256");
      for await (const chunk of Bun.file(join(dir, f.path)).stream()) h.update(chunk);
      expect({ path: f.path, sha256: h.digest("hex"), size: statSync(join(dir, f.path)).size }).toEqual({ path: f.path, sha256: f.sha256, size: f.size });
    }

    for (const bin of ["webencode-kernel", "webencode-worker"]) {
      const v = await runProc([join(dir, bin), "--version"], { cwd: dir });
      expect({ code: v.code, stdout: v.stdout }).toEqual({ code: 0, stdout: `${bin} ${pkg.version}+${commit}\n` });
    }
    const cli = await runProc([join(dir, "webencode"), "--version"], { cwd: dir });
    expect({ code: cli.code, stdout: cli.stdout }).toEqual({ code: 0, stdout: `${pkg.version}+${commit}\n` });
  });

  test("x64: the unpacked kernel (cwd = the archive's directory) completes an MP4 + HLS job", async () => {
    const dir = join(scratch, `unpacked-linux-x64`, name("linux-x64"));
    const clip = await makeClip(join(scratch, "clips"), "release", { width: 320, height: 240, rate: "25", duration_s: 3, audio: true, gop: 25 });
    const dataDir = join(scratch, "data");
    const k = await startStandaloneKernel(join(dir, "webencode-kernel"), dir, { PORT: String(await freePort()), DATA_DIR: dataDir }, dataDir);
    // The kernel reports its version and commit, and that its (embedded) worker's version is compatible.
    const health = (await (await fetch(`${k.base}/v1/system/health`, { headers: { authorization: `Bearer ${k.key}` } })).json()) as {
      version: string;
      commit: string;
      checks: Record<string, { status: string; detail: string }>;
    };
    expect({ version: health.version, commit: health.commit, worker_versions: health.checks.worker_versions }).toEqual({
      version: pkg.version,
      commit,
      worker_versions: { status: "ok", detail: `1 on ${pkg.version.split(".").slice(0, 2).join(".")}` },
    });
    const { job, outputs, uploadStatus, submitStatus } = await runFirstJob(k, clip);
    expect({ uploadStatus, submitStatus, status: job.status, error: job.error }).toEqual({ uploadStatus: 201, submitStatus: 201, status: "completed", error: null });
    const facts = await sourceFacts(clip);
    expect((await checkMp4(outputs.find((o) => o.kind === "mp4")!.url!, facts)).problems).toEqual([]);
    expect((await checkHls(outputs.find((o) => o.kind === "hls")!.url!, facts, { expectVariants: 1 })).problems).toEqual([]);
    expect((await k.proc.stop()).code).toBe(0);
  }, 600_000);

  test("x64: the archive's install.sh installs, upgrades in the runbook's order (old binaries kept) and rolls back", async () => {
    const dir = join(scratch, `unpacked-linux-x64`, name("linux-x64"));
    const dest = join(scratch, "install");
    const bin = join(dest, "usr/local/bin");
    const sh = (...args: string[]) => runProc(["bash", join(dir, "install.sh"), "--destdir", dest, ...args], { cwd: scratch });

    const none = await sh("--upgrade");
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("nothing installed");

    const inst = await sh("--kernel", "--worker");
    expect(inst.code).toBe(0);
    expect(readdirSync(bin).sort()).toEqual(["webencode", "webencode-kernel", "webencode-worker"]);
    expect(readdirSync(join(dest, "etc/systemd/system")).sort()).toEqual(["webencode-kernel.service", "webencode-worker.service", "webencode-worker@.service"]);
    expect(readFileSync(join(dest, "usr/share/doc/webencode/LICENSE"), "utf8")).toContain("Apache License");
    const env = readFileSync(join(dest, "etc/webencode/kernel.env"), "utf8");

    // An "older" installed kernel: upgrade must keep exactly it as .prev and put the archive's in place.
    await Bun.write(join(bin, "webencode-kernel"), "#!/bin/sh\necho webencode-kernel 0.0.9+old\n");
    const up = await sh("--upgrade");
    expect(up.code).toBe(0);
    expect(readFileSync(join(bin, "webencode-kernel.prev"), "utf8")).toContain("0.0.9+old");
    expect((await runProc([join(bin, "webencode-kernel"), "--version"])).stdout).toBe(`webencode-kernel ${pkg.version}+${commit}\n`);
    expect(existsSync(join(bin, "webencode-worker.prev")) && existsSync(join(bin, "webencode.prev"))).toBe(true);
    // The runbook's order: kernel stopped, binaries replaced, migrated, kernel started, then workers one by one.
    const steps = up.stdout.split("\n").filter((l) => l.startsWith("step: "));
    const at = (s: string) => steps.findIndex((l) => l.includes(s));
    const order = ["systemctl stop webencode-kernel", "replaced /usr/local/bin/webencode-kernel", "webencode-kernel migrate", "systemctl start webencode-kernel", "systemctl restart <each running webencode-worker"];
    expect(order.map(at).every((i) => i >= 0)).toBe(true);
    expect(order.map(at)).toEqual([...order.map(at)].sort((a, b) => a - b));
    expect(readFileSync(join(dest, "etc/webencode/kernel.env"), "utf8")).toBe(env);

    const back = await sh("--rollback");
    expect(back.code).toBe(0);
    expect((await runProc([join(bin, "webencode-kernel"), "--version"])).stdout).toBe("webencode-kernel 0.0.9+old\n");
    expect(existsSync(join(bin, "webencode-kernel.prev"))).toBe(false);
    expect(back.stdout).not.toContain("step: webencode-kernel migrate");
    const again = await sh("--rollback");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(".prev is missing");
  }, 120_000);

  test("arm64: the kernel and the worker answer --version under qemu-user-static", async () => {
    const qemu = Bun.which("qemu-aarch64-static") ?? Bun.which("qemu-aarch64");
    const sysroot = "/usr/aarch64-linux-gnu";
    if (!qemu || !existsSync(join(sysroot, "lib", "ld-linux-aarch64.so.1"))) {
      throw new Error("qemu-user-static and an arm64 C library are needed (Debian: apt-get install qemu-user-static libc6-arm64-cross; scripts/test.sh installs them)");
    }
    const dir = await unpack("linux-arm64");
    const file = await runProc(["file", "-b", join(dir, "webencode-kernel")]);
    if (file.code === 0) expect(file.stdout).toContain("aarch64");
    for (const bin of ["webencode-kernel", "webencode-worker"]) {
      const v = await runProc([qemu, "-L", sysroot, join(dir, bin), "--version"], { cwd: dir, timeoutMs: 180_000 });
      expect({ code: v.code, stdout: v.stdout }).toEqual({ code: 0, stdout: `${bin} ${pkg.version}+${commit}\n` });
    }
  }, 400_000);
});
