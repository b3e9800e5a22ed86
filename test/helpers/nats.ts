/**
 * NATS for tests: the shared server (TEST_NATS_URL), unique prefixes so concurrent runs never meet, cleanup
 * of what a prefix created, and throwaway servers for the no-JetStream and restart tests.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { freePort } from "./proc.ts";
import { waitFor } from "./wait.ts";

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

export function natsUrl(): string {
  return process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";
}

/** A valid BUS_PREFIX nobody else uses: `t` + 12 hex digits. */
export function uniquePrefix(): string {
  return `t${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

/** Deletes every stream (queues, KV buckets) whose name belongs to `prefix`. */
export async function cleanupPrefix(url: string, prefix: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    const mine: string[] = [];
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(`${prefix}_`) || name.startsWith(`KV_${prefix}_`)) mine.push(name);
    }
    for (const name of mine) await jsm.streams.delete(name);
  } finally {
    await nc.close();
  }
}

export interface ThrowawayNats {
  url: string;
  port: number;
  /** Kills the server (the JetStream store directory is kept for restart). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same store. */
  restart(): Promise<void>;
  /** Stops it and removes its store directory. */
  dispose(): Promise<void>;
}

/** Starts a private nats-server on a free port, with JetStream (and its own store dir) or without. */
export async function startNatsServer(opts: { jetstream: boolean }): Promise<ThrowawayNats> {
  const port = await freePort();
  const storeDir = opts.jetstream ? mkdtempSync(join(tmpdir(), "webencode-nats-")) : undefined;
  const args = ["-a", "127.0.0.1", "-p", String(port), ...(storeDir ? ["-js", "-sd", storeDir] : [])];
  let proc: ReturnType<typeof Bun.spawn> | undefined;

  const start = async () => {
    proc = Bun.spawn([NATS_SERVER, ...args], { stdout: "ignore", stderr: "ignore" });
    const started = proc;
    await waitFor(async () => {
      if (started.exitCode !== null) throw new Error(`nats-server ${args.join(" ")} exited with ${started.exitCode}`);
      return canConnect(port);
    }, 30_000, `nats-server on port ${port} to accept connections`);
  };
  const stop = async () => {
    const running = proc;
    proc = undefined;
    if (!running) return;
    running.kill("SIGKILL");
    await running.exited;
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    dispose: async () => {
      await stop();
      if (storeDir) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
    s.connect(port, "127.0.0.1");
  });
}

export interface ConfiguredNats {
  url: string;
  /** What the server refused (permission violations from its log), for assertions and failure messages. */
  violations(): string;
  /** Kills the server (its folder stays under the caller's, which the caller removes). */
  stop(): Promise<void>;
}

/**
 * A private nats-server with JetStream, started from a config file in a new folder under `parent`: it listens on a
 * free port and `config` adds the rest (typically a generated `authorization` block). Its log is kept so a test can
 * show what it refused.
 */
export async function startConfiguredNats(parent: string, config: string): Promise<ConfiguredNats> {
  const port = await freePort();
  const home = mkdtempSync(join(parent, "nats-"));
  const conf = join(home, "nats.conf");
  const log = join(home, "nats.log");
  writeFileSync(conf, `listen: "127.0.0.1:${port}"\njetstream { store_dir: ${JSON.stringify(join(home, "js"))} }\n${config}`);
  const proc = Bun.spawn([NATS_SERVER, "-c", conf, "-l", log], { stdout: "ignore", stderr: "pipe" });
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`nats-server -c ${conf} exited with ${proc.exitCode}: ${await new Response(proc.stderr).text()}`);
    return canConnect(port);
  }, 10_000, `nats-server on port ${port}`);
  return {
    url: `nats://127.0.0.1:${port}`,
    violations: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter((l) => /violation/i.test(l)).slice(-20).join("\n") : ""),
    async stop() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
  };
}
