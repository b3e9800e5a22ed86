/**
 * The bus contract (src/bus/types.ts): every Bus implementation runs this suite. A behaviour that only one
 * implementation has is a bug in the other, so standalone mode cannot pass tests distributed mode would fail.
 *
 * Timing assertions use short ack waits; absence ("never redelivered") is asserted by watching for longer
 * than the deadline that would have caused it.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { AppError } from "../../src/core/errors.ts";
import { PULL_EXPIRES_MS } from "../../src/bus/common.ts";
import { type Bus, BusRequestError, type BusMessage, type QueueSpec, Slots } from "../../src/bus/types.ts";
import { holdsFor, waitFor } from "../helpers/wait.ts";

/** makeBus must create its bus with this presence TTL. */
export const CONTRACT_PRESENCE_TTL_MS = 1000;
const ACK_WAIT_MS = 1000;
/** Slack for timer granularity when asserting "no sooner than". */
const TOLERANCE_MS = 60;

/** Per-test limit; each wait inside a test has its own, tighter timeout. */
const TEST_TIMEOUT_MS = 30_000;

export type MakeBus = () => Promise<{ bus: Bus; cleanup: () => Promise<void> }>;

interface Delivery<T> {
  data: T;
  deliveryCount: number;
  msgId: string | undefined;
  at: number;
}

export function runBusContract(name: string, makeBus: MakeBus): void {
  describe(`bus contract: ${name}`, () => {
    const it = (title: string, fn: () => Promise<void> | void) => test(title, fn, TEST_TIMEOUT_MS);
    let bus: Bus;
    let cleanup: () => Promise<void>;
    /** Releases handlers a test left blocked, so nothing is pending when the bus closes. */
    let releases: Array<() => void> = [];

    beforeEach(async () => {
      ({ bus, cleanup } = await makeBus());
      releases = [];
    });

    afterEach(async () => {
      for (const r of releases) r();
      await cleanup();
    });

    const queue = async (spec: Partial<QueueSpec> = {}): Promise<string> => {
      const s: QueueSpec = { name: "work", ackWaitMs: ACK_WAIT_MS, maxDeliver: 5, ...spec };
      await bus.ensureQueues([s]);
      return s.name;
    };

    /** A gate a handler can wait on; the test (or afterEach) opens it. */
    const gate = (): { wait: Promise<void>; open: () => void } => {
      const { promise, resolve } = Promise.withResolvers<void>();
      releases.push(resolve);
      return { wait: promise, open: resolve };
    };

    /** Starts a consumer recording every delivery; `onMessage` decides what to do with each. */
    const record = <T>(q: string, slots: Slots, onMessage: (m: BusMessage<T>) => Promise<void> | void = () => {}, autoWorking = true) => {
      const seen: Delivery<T>[] = [];
      const consumer = bus.consume<T>(q, { slots, autoWorking, errorNakDelayMs: 300 }, async (m) => {
        seen.push({ data: m.data, deliveryCount: m.deliveryCount, msgId: m.msgId, at: Date.now() });
        await onMessage(m);
      });
      return { seen, consumer };
    };

    describe("queues", () => {
      it("ack (explicit or by returning) removes the message: no redelivery after the ack wait", async () => {
        const q = await queue();
        await bus.enqueue(q, { n: 1 });
        await bus.enqueue(q, { n: 2 });
        const { seen } = record<{ n: number }>(q, new Slots(2), async (m) => {
          if (m.data.n === 1) await m.ack();
        });
        await waitFor(() => seen.length === 2, 5000, "both messages delivered");
        await holdsFor(() => seen.length === 2, ACK_WAIT_MS + 500, "no redelivery");
        expect(seen.map((d) => d.data.n).sort()).toEqual([1, 2]);
        expect(seen.every((d) => d.deliveryCount === 1)).toBe(true);
      });

      it("nak(delay) redelivers no sooner than the delay, with deliveryCount 2", async () => {
        const q = await queue();
        const delay = 700;
        await bus.enqueue(q, "x");
        const { seen } = record(q, new Slots(1), async (m) => {
          if (m.deliveryCount === 1) await m.nak(delay);
        });
        await waitFor(() => seen.length === 2, 5000, "redelivery after nak");
        const [first, second] = seen as [Delivery<string>, Delivery<string>];
        expect(second.at - first.at).toBeGreaterThanOrEqual(delay - TOLERANCE_MS);
        expect([first.deliveryCount, second.deliveryCount]).toEqual([1, 2]);
        expect(second.data).toBe("x");
      });

      it("term never redelivers", async () => {
        const q = await queue();
        await bus.enqueue(q, "doomed");
        const { seen } = record(q, new Slots(1), (m) => m.term("bad input"));
        await waitFor(() => seen.length === 1, 5000, "first delivery");
        await holdsFor(() => seen.length === 1, ACK_WAIT_MS + 500, "no redelivery after term");
      });

      it("an unsettled message is redelivered after the ack wait", async () => {
        const q = await queue();
        await bus.enqueue(q, "slow");
        const stuck = gate();
        // Two slots, so the consumer can take the redelivery while the first handler is still blocked.
        const { seen } = record(q, new Slots(2), (m) => (m.deliveryCount === 1 ? stuck.wait : undefined), false);
        await waitFor(() => seen.length === 2, ACK_WAIT_MS * 4, "redelivery after ack wait");
        const [first, second] = seen as [Delivery<string>, Delivery<string>];
        expect(second.at - first.at).toBeGreaterThanOrEqual(ACK_WAIT_MS - TOLERANCE_MS);
        expect(second.deliveryCount).toBe(2);
      });

      it("working() keeps a message through a handler running 3.5x the ack wait", async () => {
        const ackWaitMs = 800;
        const q = await queue({ ackWaitMs });
        await bus.enqueue(q, "long");
        let finished = false;
        const { seen } = record(q, new Slots(2), async () => {
          await Bun.sleep(ackWaitMs * 3.5); // the "work": autoWorking heartbeats keep it ours meanwhile
          finished = true;
        });
        await waitFor(() => finished, ackWaitMs * 6, "the long handler to finish");
        expect(seen.length).toBe(1);
        await holdsFor(() => seen.length === 1, 400, "no redelivery after the ack");
      });

      it("a message is delivered at most maxDeliver times", async () => {
        const q = await queue({ maxDeliver: 3 });
        await bus.enqueue(q, "poison");
        const { seen } = record(q, new Slots(1), (m) => m.nak());
        await waitFor(() => seen.length >= 3, 5000, "three deliveries");
        await holdsFor(() => seen.length === 3, ACK_WAIT_MS + 500, "no fourth delivery");
        expect(seen.map((d) => d.deliveryCount)).toEqual([1, 2, 3]);
      });

      it("a handler that throws gets its message nak-ed with errorNakDelayMs", async () => {
        const q = await queue();
        await bus.enqueue(q, "flaky");
        const { seen } = record(q, new Slots(1), (m) => {
          if (m.deliveryCount === 1) throw new Error("boom");
        });
        await waitFor(() => seen.length === 2, 5000, "redelivery after a throw");
        const [first, second] = seen as [Delivery<string>, Delivery<string>];
        expect(second.at - first.at).toBeGreaterThanOrEqual(300 - TOLERANCE_MS);
        expect(second.deliveryCount).toBe(2);
      });

      it("a repeated msgId is dropped as a duplicate", async () => {
        const q = await queue();
        expect(await bus.enqueue(q, { v: 1 }, { msgId: "task:1:1" })).toEqual({ duplicate: false });
        expect(await bus.enqueue(q, { v: 2 }, { msgId: "task:1:1" })).toEqual({ duplicate: true });
        expect(await bus.enqueue(q, { v: 3 }, { msgId: "task:1:2" })).toEqual({ duplicate: false });
        const { seen } = record<{ v: number }>(q, new Slots(2));
        await waitFor(() => seen.length === 2, 5000, "the two distinct messages");
        await holdsFor(() => seen.length === 2, 300, "no third delivery");
        expect(seen.map((d) => [d.data.v, d.msgId])).toEqual([
          [1, "task:1:1"],
          [3, "task:1:2"],
        ]);
      });

      it("never more handlers run than free slots, and all messages are handled", async () => {
        const q = await queue();
        for (let i = 0; i < 5; i++) await bus.enqueue(q, i);
        const slots = new Slots(2);
        let running = 0;
        let maxRunning = 0;
        const done: number[] = [];
        bus.consume<number>(q, { slots }, async (m) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          await Bun.sleep(150);
          running--;
          done.push(m.data);
        });
        await waitFor(() => done.length === 5, 10_000, "all five handled");
        expect(maxRunning).toBe(2);
        expect(done.sort()).toEqual([0, 1, 2, 3, 4]);
      });

      it("two consumers of one queue share the messages; each is handled once", async () => {
        const q = await queue();
        for (let i = 0; i < 10; i++) await bus.enqueue(q, i);
        const handledBy: Array<[number, string]> = [];
        for (const who of ["a", "b"]) {
          bus.consume<number>(q, { slots: new Slots(1) }, async (m) => {
            await Bun.sleep(60);
            handledBy.push([m.data, who]);
          });
        }
        await waitFor(() => handledBy.length >= 10, 10_000, "ten messages handled");
        await holdsFor(() => handledBy.length === 10, 300, "no duplicate handling");
        expect(handledBy.map(([n]) => n).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(new Set(handledBy.map(([, who]) => who))).toEqual(new Set(["a", "b"]));
      });

      it("stop() returns promptly, during a pull or while waiting for a slot, and fetches nothing more", async () => {
        const q = await queue();
        const { seen, consumer } = record(q, new Slots(1));
        // Prompt = sooner than the pull in flight would expire by itself (PULL_EXPIRES_MS, 2 s): a stop that
        // waited for it is the failure; anything below is fine, however loaded the machine.
        let t = Date.now();
        await consumer.stop();
        expect(Date.now() - t).toBeLessThan(PULL_EXPIRES_MS);

        const busy = new Slots(1);
        expect(await busy.reserve(1)).toBe(1); // every slot taken: the consumer waits in reserve()
        const waiting = record(q, busy);
        t = Date.now();
        await waiting.consumer.stop(); // without a prompt stop it would wait for the slot: forever
        expect(Date.now() - t).toBeLessThan(PULL_EXPIRES_MS);

        await bus.enqueue(q, "after stop");
        busy.release(1);
        await holdsFor(() => seen.length === 0 && waiting.seen.length === 0, 400, "nothing consumed after stop");
      });

      it("enqueue or consume on a queue that was not ensured throws a clear error", async () => {
        await queue();
        await expect(bus.enqueue("nope", 1)).rejects.toThrow(/queue "nope".*ensureQueues/);
        expect(() => bus.consume("nope", { slots: new Slots(1) }, async () => {})).toThrow(/ensureQueues/);
      });
    });

    describe("events", () => {
      it("every subscriber receives every event (fan-out)", async () => {
        const a: unknown[] = [];
        const b: unknown[] = [];
        bus.subscribe("job.progress", (d) => a.push(d));
        bus.subscribe("job.progress", (d) => b.push(d));
        await bus.publish("job.progress", { pct: 10 });
        await bus.publish("job.progress", { pct: 20 });
        await waitFor(() => a.length === 2 && b.length === 2, 3000, "both subscribers got both events");
        expect(a).toEqual([{ pct: 10 }, { pct: 20 }]);
        expect(b).toEqual(a);
      });

      it("`*` matches one token, a trailing `>` one or more; unsubscribe stops delivery", async () => {
        const star: string[] = [];
        const rest: string[] = [];
        const gone: string[] = [];
        bus.subscribe("job.*", (_d, s) => star.push(s));
        bus.subscribe("job.>", (_d, s) => rest.push(s));
        bus.subscribe("job.x", (_d, s) => gone.push(s))();
        for (const s of ["task.a", "job.x", "job.x.y", "job", "job.end"]) await bus.publish(s, null);
        // Events from one publisher arrive in order: once "job.end" is in, everything before it is too.
        await waitFor(() => star.includes("job.end") && rest.includes("job.end"), 3000, "the end marker");
        expect(star).toEqual(["job.x", "job.end"]);
        expect(rest).toEqual(["job.x", "job.x.y", "job.end"]);
        expect(gone).toEqual([]);
      });

      it("bad subjects are refused", async () => {
        await expect(bus.publish("job.*", 1)).rejects.toThrow(/invalid subject/);
        expect(() => bus.subscribe("job.>.x", () => {})).toThrow(/invalid subject pattern/);
      });
    });

    describe("requests", () => {
      it("one of several responders answers each request", async () => {
        let calls = 0;
        for (let i = 0; i < 2; i++) {
          bus.respond("task.claim", async (d) => {
            calls++;
            return { echo: d };
          });
        }
        for (let i = 0; i < 4; i++) expect(await bus.request("task.claim", { i }, 2000)).toEqual({ echo: { i } });
        expect(calls).toBe(4);
      });

      it("a responder's error code and details reach the requester", async () => {
        bus.respond("job.get", async () => {
          throw new AppError("WE-JOB-004", "job j1 not found", { id: "j1" });
        });
        const err = await bus.request("job.get", { id: "j1" }, 2000).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(BusRequestError);
        expect(err).toMatchObject({ code: "remote", message: "job j1 not found", remoteCode: "WE-JOB-004", remoteDetails: { id: "j1" } });
      });

      it("a request nobody answers in time rejects with timeout", async () => {
        const never = gate();
        bus.respond("slow.op", () => never.wait);
        const t = Date.now();
        const err = await bus.request("slow.op", {}, 300).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: "timeout" });
        expect(Date.now() - t).toBeGreaterThanOrEqual(300 - TOLERANCE_MS);
      });

      it("a request with no responder rejects with no_responders at once", async () => {
        const t = Date.now();
        const err = await bus.request("nobody.home", {}, 10_000).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: "no_responders" });
        expect(Date.now() - t).toBeLessThan(5_000); // "at once": not after the 10 s timeout
      });
    });

    describe("presence", () => {
      it("put, list, refresh, remove", async () => {
        await bus.presence.put("w1", { gpu: false });
        await bus.presence.put("w2", { gpu: true });
        const list = await bus.presence.list<{ gpu: boolean }>();
        expect(list.map((e) => [e.id, e.info]).sort()).toEqual([
          ["w1", { gpu: false }],
          ["w2", { gpu: true }],
        ]);
        expect(list.every((e) => e.updatedAt instanceof Date && Math.abs(Date.now() - e.updatedAt.getTime()) < 60_000)).toBe(true);
        await bus.presence.put("w1", { gpu: false, load: 1 });
        await bus.presence.remove("w2");
        expect((await bus.presence.list()).map((e) => [e.id, e.info])).toEqual([["w1", { gpu: false, load: 1 }]]);
      });

      it("an entry expires after the TTL unless refreshed", async () => {
        const ttl = CONTRACT_PRESENCE_TTL_MS;
        const t0 = Date.now();
        await bus.presence.put("stale", {});
        await bus.presence.put("fresh", {});
        const ids = async () => (await bus.presence.list()).map((e) => e.id).sort();
        // Refresh "fresh" at 60% of the TTL: it must outlive "stale".
        await waitFor(() => Date.now() - t0 >= ttl * 0.6, ttl, "60% of the TTL");
        await bus.presence.put("fresh", {});
        await waitFor(async () => (await ids()).join() === "fresh", ttl * 3, "the unrefreshed entry to expire");
        expect(Date.now() - t0).toBeGreaterThanOrEqual(ttl - TOLERANCE_MS);
        await waitFor(async () => (await ids()).length === 0, ttl * 3, "the refreshed entry to expire too");
      });
    });

    it("health is ok while open", () => {
      expect(bus.health().ok).toBe(true);
    });
  });
}
