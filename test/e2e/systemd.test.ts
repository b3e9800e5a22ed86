/**
 * The systemd units and the installer: scripts/install.sh stages binaries, units and environment files, and
 * `systemd-analyze verify` accepts the installed units (scripts/test.sh installs systemd-analyze where it is
 * missing; without it the test fails). The worker's stop timeout must outlast its drain grace, or systemd
 * would kill FFmpeg mid-task.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseDuration } from "../../src/core/config.ts";
import { DIST } from "../helpers/proc.ts";

const repo = resolve(import.meta.dir, "../..");
const root = mkdtempSync(join(tmpdir(), "we-install-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const hasAnalyze = Bun.which("systemd-analyze") !== null;
const unitText = (name: string) => readFileSync(join(repo, "systemd", name), "utf8");
const directive = (text: string, key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => m[1]!);

describe("systemd units", () => {
  test("install.sh stages binaries, units and env files into a destdir", () => {
    const r = Bun.spawnSync(["bash", "scripts/install.sh", "--from", DIST, "--destdir", root, "--bindir", "/opt/webencode/bin", "--kernel", "--worker"], { cwd: repo, stderr: "pipe", stdout: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
    for (const f of ["opt/webencode/bin/webencode-kernel", "opt/webencode/bin/webencode-worker", "etc/webencode/kernel.env", "etc/webencode/worker.env", "etc/systemd/system/webencode-kernel.service", "etc/systemd/system/webencode-worker.service", "etc/systemd/system/webencode-worker@.service"]) {
      expect(Bun.file(join(root, f)).size).toBeGreaterThan(0);
    }
    expect(readFileSync(join(root, "etc/systemd/system/webencode-kernel.service"), "utf8")).toContain("ExecStart=/opt/webencode/bin/webencode-kernel");
  });

  test("install.sh gives the kernel its own random SECRET_KEY and each template instance its own metrics port", () => {
    const dest = join(root, "instances");
    const r = Bun.spawnSync(["bash", "scripts/install.sh", "--from", DIST, "--destdir", dest, "--kernel", "--workers", "3"], { cwd: repo, stderr: "pipe", stdout: "pipe" });
    expect(r.exitCode).toBe(0);
    const [key] = directive(readFileSync(join(dest, "etc/webencode/kernel.env"), "utf8"), "SECRET_KEY");
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const ports = [1, 2, 3].map((i) => directive(readFileSync(join(dest, `etc/webencode/worker-${i}.env`), "utf8"), "WORKER_METRICS_PORT")[0]);
    expect(new Set(ports).size).toBe(3);
    // A second installation has another key (never a shared default).
    const again = join(root, "instances-2");
    Bun.spawnSync(["bash", "scripts/install.sh", "--from", DIST, "--destdir", again, "--kernel"], { cwd: repo });
    expect(directive(readFileSync(join(again, "etc/webencode/kernel.env"), "utf8"), "SECRET_KEY")[0]).not.toBe(key);
  });

  test("the default install is standalone: the kernel alone, no worker unit waiting for a NATS that is not there", () => {
    const dest = join(root, "default");
    const r = Bun.spawnSync(["bash", "scripts/install.sh", "--from", DIST, "--destdir", dest], { cwd: repo, stderr: "pipe", stdout: "pipe" });
    expect(r.exitCode).toBe(0);
    const out = r.stdout.toString();
    expect(out).toContain("units to enable: webencode-kernel.service\n");
    expect(out).not.toContain("webencode-worker");
    expect(out).toContain("standalone mode");
    expect(existsSync(join(dest, "etc/systemd/system/webencode-worker.service"))).toBe(false);
    expect(existsSync(join(dest, "etc/webencode/worker.env"))).toBe(false);
  });

  test("--workers N names the template instances it enables", () => {
    const r = Bun.spawnSync(["bash", "scripts/install.sh", "--from", DIST, "--destdir", join(root, "three"), "--workers", "3"], { cwd: repo, stderr: "pipe", stdout: "pipe" });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toContain("units to enable: webencode-worker@1.service webencode-worker@2.service webencode-worker@3.service\n");
    expect(r.stdout.toString()).not.toContain("webencode-worker.service");
    const bad = Bun.spawnSync(["bash", "scripts/install.sh", "--from", DIST, "--destdir", join(root, "bad"), "--workers", "x"], { cwd: repo, stderr: "pipe", stdout: "pipe" });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.toString()).toContain("--workers needs a number");
  });

  test("every worker has its own WORK_DIR: the single unit, each template instance and the kernel's embedded worker", () => {
    const workerEnv = readFileSync(join(root, "etc/webencode/worker.env"), "utf8");
    // worker.env is read by every instance after the unit's Environment=: a WORK_DIR there would be shared by all.
    expect(directive(workerEnv, "WORK_DIR")).toEqual([]);
    expect(directive(workerEnv, "BUS_PREFIX")).toEqual(["webencode"]);
    const single = directive(unitText("webencode-worker.service"), "Environment").find((e) => e.startsWith("WORK_DIR="))!.slice(9);
    const template = directive(unitText("webencode-worker@.service"), "Environment").find((e) => e.startsWith("WORK_DIR="))!.slice(9);
    const embedded = join(directive(readFileSync(join(root, "etc/webencode/kernel.env"), "utf8"), "DATA_DIR")[0]!, "work"); // src/worker/embedded.ts
    const dirs = [single, template.replace("%i", "1"), template.replace("%i", "2"), embedded];
    expect(new Set(dirs).size).toBe(dirs.length);
  });

  test("a missing FFmpeg is reported with how to install it", () => {
    const r = Bun.spawnSync(["bash", "scripts/install.sh", "--from", DIST, "--destdir", join(root, "noffmpeg"), "--worker"], { cwd: repo, stderr: "pipe", stdout: "pipe", env: { ...process.env, FFMPEG_PATH: "/nonexistent/ffmpeg" } });
    expect(r.exitCode).toBe(0);
    expect(r.stderr.toString()).toContain("/nonexistent/ffmpeg not found");
    expect(r.stderr.toString()).toContain("apt-get install ffmpeg");
  });

  test("units run as a dedicated user with EnvironmentFile, restart on failure and sandboxing", () => {
    for (const name of ["webencode-kernel.service", "webencode-worker.service", "webencode-worker@.service"]) {
      const t = unitText(name);
      expect(directive(t, "User")).toEqual(["webencode"]);
      expect(directive(t, "EnvironmentFile").length).toBeGreaterThan(0);
      expect(directive(t, "Restart")).toEqual(["on-failure"]);
      // Not restarted on a configuration error (2) or an address it cannot listen on (3).
      expect(directive(t, "RestartPreventExitStatus")).toEqual(["2 3"]);
      for (const k of ["NoNewPrivileges", "ProtectSystem", "PrivateTmp", "ProtectHome"]) expect(directive(t, k).length).toBe(1);
    }
    const worker = unitText("webencode-worker.service");
    expect(directive(worker, "DeviceAllow")).toContain("char-drm rw");
    expect(directive(worker, "DeviceAllow")).toContain("/dev/nvidiactl rw");
    expect(directive(worker, "PrivateDevices")).toEqual([]);
  });

  test("the worker's TimeoutStopSec outlasts WORKER_SHUTDOWN_GRACE", () => {
    const grace = parseDuration(directive(readFileSync(join(root, "etc/webencode/worker.env"), "utf8"), "WORKER_SHUTDOWN_GRACE")[0] ?? "60s")!;
    for (const name of ["webencode-worker.service", "webencode-worker@.service"]) {
      const stop = parseDuration(directive(unitText(name), "TimeoutStopSec")[0]!)!;
      expect(stop).toBeGreaterThan(grace + 10_000);
    }
  });

  test("systemd-analyze verify accepts the installed units", () => {
    // No silent pass where the tool is missing: scripts/test.sh installs it (Debian package systemd).
    if (!hasAnalyze) throw new Error("systemd-analyze is not installed: apt-get install --no-install-recommends systemd (scripts/test.sh does)");
    const dir = join(root, "verify");
    Bun.spawnSync(["mkdir", "-p", dir]);
    for (const [src, dst] of [
      ["webencode-kernel.service", "webencode-kernel.service"],
      ["webencode-worker.service", "webencode-worker.service"],
      ["webencode-worker@.service", "webencode-worker@1.service"],
    ] as const) {
      const text = readFileSync(join(root, "etc/systemd/system", src), "utf8")
        .replaceAll("/etc/webencode/", `${join(root, "etc/webencode")}/`)
        .replaceAll("/opt/webencode/bin/", `${join(root, "opt/webencode/bin")}/`);
      writeFileSync(join(dir, dst), text);
    }
    const r = Bun.spawnSync(["systemd-analyze", "verify", ...["webencode-kernel.service", "webencode-worker.service", "webencode-worker@1.service"].map((u) => join(dir, u))], { stderr: "pipe", stdout: "pipe" });
    expect(r.stdout.toString() + r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });
});
