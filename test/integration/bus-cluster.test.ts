/**
 * The bus on a 3-node NATS cluster (docs/ha.md): NATS_URL lists every node, BUS_REPLICAS=3 gives every stream
 * and the presence bucket three replicas, and losing the node that leads the work stream does not lose or
 * stop the queue. On a single server, BUS_REPLICAS=3 is refused with a message that says what to do.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { connectNatsBus } from "../../src/bus/nats.ts";
import { type Bus, Slots } from "../../src/bus/types.ts";
import { type NatsCluster, startNatsCluster } from "../helpers/nats-cluster.ts";
import { cleanupPrefix, natsUrl, uniquePrefix } from "../helpers/nats.ts";
import { waitFor } from "../helpers/wait.ts";

let cluster: NatsCluster;

beforeAll(async () => {
  cluster = await startNatsCluster(3);
}, 90_000);

afterAll(async () => {
  await cluster?.dispose();
});

describe("bus on a NATS cluster", () => {
  test("BUS_REPLICAS=3: three replicas everywhere; the stream leader killed → nothing lost, work continues", async () => {
    const prefix = uniquePrefix();
    const bus: Bus = await connectNatsBus({ url: cluster.url, prefix, presenceTtlMs: 5000, replicas: 3 });
    try {
      await bus.ensureQueues([{ name: "work-cpu", ackWaitMs: 2000, maxDeliver: 10 }]);
      await bus.presence.put("w1", { id: "w1" });
      const nc = await connect({ servers: cluster.urls });
      try {
        const jsm = await jetstreamManager(nc);
        expect((await jsm.streams.info(`${prefix}_QUEUES`)).config.num_replicas).toBe(3);
        expect((await jsm.streams.info(`KV_${prefix}_presence`)).config.num_replicas).toBe(3);
      } finally {
        await nc.close();
      }

      for (let n = 0; n < 20; n++) await bus.enqueue("work-cpu", { n }, { msgId: `before-${n}` });
      const leader = await cluster.leaderOf(`${prefix}_QUEUES`);
      await cluster.kill(leader);
      // Enqueued after the fault: the bus reconnects to a surviving node and the stream elects a new leader.
      const enqueuedAfter: number[] = [];
      await waitFor(async () => {
        const n = 20 + enqueuedAfter.length;
        try {
          await bus.enqueue("work-cpu", { n }, { msgId: `after-${n}` });
          enqueuedAfter.push(n);
        } catch {
          // leader election in progress
        }
        return enqueuedAfter.length >= 5;
      }, 30_000, "enqueue to work again after the stream leader died", 250);

      const seen = new Set<number>();
      const consumer = bus.consume<{ n: number }>("work-cpu", { slots: new Slots(4) }, async (message) => {
        seen.add(message.data.n);
      });
      await waitFor(() => seen.size === 25, 30_000, "all 25 messages consumed after the fault");
      await consumer.stop();
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, n) => n));
      await cluster.start(leader);
    } finally {
      await bus.close();
      await cleanupPrefix(cluster.urls.join(","), prefix).catch(() => {});
    }
  }, 120_000);

  test("BUS_REPLICAS=3 on a single server is refused with what to do", async () => {
    const prefix = uniquePrefix();
    const error = await connectNatsBus({ url: natsUrl(), prefix, presenceTtlMs: 5000, replicas: 3 }).then(
      async (bus) => {
        await bus.ensureQueues([{ name: "work-cpu", ackWaitMs: 2000, maxDeliver: 3 }]).finally(() => bus.close());
        return undefined;
      },
      (e: unknown) => e,
    );
    await cleanupPrefix(natsUrl(), prefix);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/BUS_REPLICAS=3 needs a NATS cluster with JetStream on at least 3 servers/);
  }, 60_000);
});
