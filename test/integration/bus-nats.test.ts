/**
 * The bus contract against NATS JetStream (distributed mode), plus what only NATS has: stream/consumer
 * setup, connection errors and riding out a server restart. Every test uses its own prefix and deletes its
 * streams afterwards, since the server is shared with other runs.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import { connectNatsBus } from "../../src/bus/nats.ts";
import { type Bus, Slots } from "../../src/bus/types.ts";
import { CONTRACT_PRESENCE_TTL_MS, runBusContract } from "../contract/bus.contract.ts";
import { cleanupPrefix, natsUrl, startNatsServer, type ThrowawayNats, uniquePrefix } from "../helpers/nats.ts";
import { waitFor } from "../helpers/wait.ts";

runBusContract("nats", async () => {
  const url = natsUrl();
  const prefix = uniquePrefix();
  const bus = await connectNatsBus({ url, prefix, presenceTtlMs: CONTRACT_PRESENCE_TTL_MS });
  return {
    bus,
    cleanup: async () => {
      await bus.close();
      await cleanupPrefix(url, prefix);
    },
  };
});

/** Per-test limit; each wait inside a test has its own, tighter timeout. */
const TEST_TIMEOUT_MS = 45_000;

describe("nats bus", () => {
  const toClose: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of toClose.splice(0).reverse()) await c();
  });

  const open = async (url = natsUrl()): Promise<{ bus: Bus; prefix: string }> => {
    const prefix = uniquePrefix();
    const bus = await connectNatsBus({ url, prefix, presenceTtlMs: 5000 });
    toClose.push(async () => {
      await bus.close();
      await cleanupPrefix(url, prefix);
    });
    return { bus, prefix };
  };

  test("ensureQueues creates one WorkQueue stream and a durable consumer per queue; again is idempotent and updates it", async () => {
    const { bus, prefix } = await open();
    await bus.ensureQueues([
      { name: "work-cpu", ackWaitMs: 1000, maxDeliver: 3 },
      { name: "results", ackWaitMs: 1000, maxDeliver: 3 },
    ]);
    await bus.ensureQueues([{ name: "work-cpu", ackWaitMs: 2500, maxDeliver: 4 }]);

    const nc = await connect({ servers: natsUrl() });
    try {
      const jsm = await jetstreamManager(nc);
      const stream = await jsm.streams.info(`${prefix}_QUEUES`);
      expect(stream.config).toMatchObject({ retention: "workqueue", subjects: [`${prefix}.q.>`], duplicate_window: nanos(120_000) });
      const cpu = await jsm.consumers.info(`${prefix}_QUEUES`, "q-work-cpu");
      expect(cpu.config).toMatchObject({
        durable_name: "q-work-cpu",
        filter_subject: `${prefix}.q.work-cpu`,
        ack_policy: "explicit",
        ack_wait: nanos(2500),
        max_deliver: 4,
      });
      const consumers: string[] = [];
      for await (const c of jsm.consumers.list(`${prefix}_QUEUES`)) consumers.push(c.name);
      expect(consumers.sort()).toEqual(["q-results", "q-work-cpu"]);
    } finally {
      await nc.close();
    }
  }, TEST_TIMEOUT_MS);

  test("a server without JetStream is refused with a message naming `nats-server -js`", async () => {
    const server = await startNatsServer({ jetstream: false });
    toClose.push(server.dispose);
    const err = await connectNatsBus({ url: server.url, prefix: uniquePrefix(), presenceTtlMs: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe(
      `NATS Connection Failed: JetStream is not enabled on ${server.url}. Start the server with JetStream enabled: nats-server -js`,
    );
  }, TEST_TIMEOUT_MS);

  test("an unreachable server is refused with a message naming the URL", async () => {
    const server = await startNatsServer({ jetstream: false });
    await server.dispose(); // a port that was free a moment ago and has nothing listening now
    const err = await connectNatsBus({ url: server.url, prefix: uniquePrefix(), presenceTtlMs: 5000 }).catch((e: unknown) => e);
    expect((err as Error).message).toStartWith(`NATS Connection Failed: cannot connect to ${server.url} (`);
    expect((err as Error).message).toContain("nats-server -js");
  }, TEST_TIMEOUT_MS);

  describe("server restart", () => {
    let server: ThrowawayNats | undefined;
    afterAll(async () => {
      await server?.dispose();
    });

    test("health goes down while the server is away and back after; queued work and running consumers survive", async () => {
      server = await startNatsServer({ jetstream: true });
      const bus = await connectNatsBus({ url: server.url, prefix: uniquePrefix(), presenceTtlMs: 5000 });
      try {
        await bus.ensureQueues([
          { name: "work", ackWaitMs: 1000, maxDeliver: 5 },
          { name: "live", ackWaitMs: 1000, maxDeliver: 5 },
        ]);
        await bus.enqueue("work", { job: "before-restart" });
        const live: Array<{ job: string }> = [];
        bus.consume<{ job: string }>("live", { slots: new Slots(1) }, async (m) => {
          live.push(m.data);
        });
        // One message through first, so the outage hits a consumer in its steady state (pulling).
        await bus.enqueue("live", { job: "warm-up" });
        await waitFor(() => live.length === 1, 5000, "the warm-up message");
        expect(bus.health()).toMatchObject({ ok: true });

        await server.stop();
        await waitFor(() => !bus.health().ok, 5000, "health to report the lost connection");
        expect(bus.health().detail).toMatch(/disconnected|reconnecting/);

        await server.restart();
        await waitFor(() => bus.health().ok, 15_000, "health to recover after reconnect");

        const got: unknown[] = [];
        bus.consume("work", { slots: new Slots(1) }, async (m) => {
          got.push(m.data);
        });
        await waitFor(() => got.length === 1, 10_000, "the message enqueued before the restart");
        expect(got).toEqual([{ job: "before-restart" }]);

        // The consumer that was pulling through the outage picks up new work without a restart of its own.
        await bus.enqueue("live", { job: "after-restart" });
        // At-least-once: the warm-up may come again if its ack had not reached the store before the kill.
        await waitFor(() => live.some((d) => d.job === "after-restart"), 15_000, "the running consumer to get work enqueued after the restart");
      } finally {
        await bus.close();
      }
    }, TEST_TIMEOUT_MS);

    test("close() settles promptly while the server is down", async () => {
      server ??= await startNatsServer({ jetstream: true });
      const bus = await connectNatsBus({ url: server.url, prefix: uniquePrefix(), presenceTtlMs: 5000 });
      await bus.ensureQueues([{ name: "work", ackWaitMs: 1000, maxDeliver: 5 }]);
      bus.consume("work", { slots: new Slots(1) }, async () => {});
      bus.respond("ping", async () => "pong");
      await server.stop();
      await waitFor(() => !bus.health().ok, 5000, "health to report the lost connection");
      const t = Date.now();
      await bus.close();
      expect(Date.now() - t).toBeLessThan(10_000); // a close that waits on reconnects never ends
      expect(bus.health()).toMatchObject({ ok: false, detail: "closed" });
      await server.restart(); // leave it running for dispose()
    }, TEST_TIMEOUT_MS);
  });
});
