/**
 * HAProxy in front of kernels on loopback, from deploy/haproxy.cfg's settings (health checks on
 * /v1/system/health, SSE and uploads passed through), for scripts/ha-drill.ts. `url` is the balancer.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./proc.ts";
import { waitFor } from "./wait.ts";

export interface Balancer {
  url: string;
  stop(): Promise<void>;
}

/** The test copy of deploy/haproxy.cfg: same defaults and checks, loopback backends, no logging to syslog. */
export function haproxyConfig(port: number, backends: Array<{ name: string; port: number }>, checkIntervalMs = 1000): string {
  const template = readFileSync(join(import.meta.dir, "..", "..", "deploy", "haproxy.cfg"), "utf8");
  const servers = backends.map((b) => `    server ${b.name} 127.0.0.1:${b.port} check inter ${checkIntervalMs} fall 2 rise 2`).join("\n");
  return template
    .replace(/^\s*log .*$/gm, "")
    .replace(/^\s*(user|group|chroot|stats socket)\b.*$/gm, "")
    .replace(/^\s*daemon\s*$/gm, "")
    // The operator's 20 000 connections need 40 000 file descriptors; a test needs few.
    .replace(/maxconn \d+/, "maxconn 1000")
    .replace(/^\s*option httplog\s*$/gm, "")
    .replace(/bind :8080/, `bind 127.0.0.1:${port}`)
    .replace(/^ {4}server kernel-\d .*$\n?/gm, "")
    .replace(/(backend webencode_kernels[\s\S]*?)(\n# end backend)/, `$1\n${servers}$2`);
}

export async function startHaproxy(backends: Array<{ name: string; port: number }>): Promise<Balancer> {
  const haproxy = Bun.which("haproxy") ?? "/usr/sbin/haproxy";
  const dir = mkdtempSync(join(tmpdir(), "webencode-haproxy-"));
  const port = await freePort();
  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(cfg, haproxyConfig(port, backends));
  const check = Bun.spawnSync([haproxy, "-c", "-f", cfg], { stdout: "pipe", stderr: "pipe" });
  if (check.exitCode !== 0) throw new Error(`haproxy -c refused the configuration: ${check.stderr.toString()}${check.stdout.toString()}`);
  const proc = Bun.spawn([haproxy, "-f", cfg, "-db"], { stdout: "ignore", stderr: "pipe" });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`haproxy exited with ${proc.exitCode}`);
    return (await fetch(`${url}/v1/health`).catch(() => undefined))?.status === 200;
  }, 30_000, "haproxy to forward /v1/health", 200);
  return {
    url,
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
