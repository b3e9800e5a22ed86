/**
 * A 3-node NATS cluster with JetStream on loopback, for the HA tests and scripts/ha-drill.ts. Each node has its
 * own client port, cluster port and store directory; `kill(i)` and `start(i)` take one node down and back.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { canConnect } from "./nats.ts";
import { freePort } from "./proc.ts";
import { waitFor } from "./wait.ts";

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";

export interface NatsCluster {
  /** All client URLs, comma-separated (what NATS_URL takes). */
  url: string;
  urls: string[];
  /** The node name (`n0`…) of each index. */
  names: string[];
  kill(index: number): Promise<void>;
  start(index: number): Promise<void>;
  /** Index of the node that leads `stream`'s replica group. */
  leaderOf(stream: string): Promise<number>;
  dispose(): Promise<void>;
}

export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const dir = mkdtempSync(join(tmpdir(), "webencode-nats-cluster-"));
  const clientPorts: number[] = [];
  const clusterPorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freePort());
    clusterPorts.push(await freePort());
  }
  const names = clientPorts.map((_, i) => `n${i}`);
  const procs: Array<ReturnType<typeof Bun.spawn> | undefined> = [];
  const routes = clusterPorts.map((port) => `nats-route://127.0.0.1:${port}`).join(",");
  for (let i = 0; i < size; i++) {
    writeFileSync(
      join(dir, `${names[i]}.conf`),
      [
        `server_name: ${names[i]}`,
        `listen: 127.0.0.1:${clientPorts[i]}`,
        `jetstream { store_dir: "${join(dir, names[i]!)}" }`,
        `cluster { name: webencode-test, listen: 127.0.0.1:${clusterPorts[i]}, routes: [${routes.split(",").map((r) => `"${r}"`).join(", ")}] }`,
      ].join("\n"),
    );
  }
  const start = async (index: number) => {
    procs[index] = Bun.spawn([NATS_SERVER, "-c", join(dir, `${names[index]}.conf`)], { stdout: "ignore", stderr: "ignore" });
    const proc = procs[index]!;
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`nats-server ${names[index]} exited with ${proc.exitCode}`);
      return canConnect(clientPorts[index]!);
    }, 30_000, `nats-server ${names[index]} to accept connections`);
  };
  const kill = async (index: number) => {
    const proc = procs[index];
    procs[index] = undefined;
    if (!proc) return;
    proc.kill("SIGKILL");
    await proc.exited;
  };
  const urls = clientPorts.map((port) => `nats://127.0.0.1:${port}`);
  await Promise.all(names.map((_, i) => start(i)));
  // JetStream answers only once the meta group has a leader.
  await waitFor(async () => jetStreamReady(urls.join(",")), 60_000, "the NATS cluster's JetStream meta leader");
  return {
    url: urls.join(","),
    urls,
    names,
    kill,
    start,
    async leaderOf(stream) {
      const nc = await connect({ servers: urls.filter((_, i) => procs[i]) });
      try {
        const info = await (await jetstreamManager(nc)).streams.info(stream);
        const leader = info.cluster?.leader;
        const index = names.indexOf(leader ?? "");
        if (index < 0) throw new Error(`stream ${stream} has no leader yet (${leader ?? "none"})`);
        return index;
      } finally {
        await nc.close();
      }
    },
    async dispose() {
      await Promise.all(names.map((_, i) => kill(i)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function jetStreamReady(url: string): Promise<boolean> {
  try {
    const nc = await connect({ servers: url.split(","), timeout: 2000 });
    try {
      await (await jetstreamManager(nc)).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  } catch {
    return false;
  }
}
