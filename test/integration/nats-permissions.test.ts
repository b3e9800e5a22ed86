/**
 * NATS permissions per role (src/bus/nats-permissions.ts) against a real nats-server configured with the
 * generated `authorization` block: a kernel (full access to its prefix) and a separate worker process (the
 * restricted worker user) run a real job to completion, then a raw connection as the worker user proves
 * what a compromised worker host can NOT do: append to the audit stream, delete or administer streams,
 * publish work, pull the kernels' results consumer, listen to kernel RPCs or other roles' replies.
 *
 * The job is the proof that the worker's allow-list is complete: a missing entry makes the job hang (and the
 * server log the violation, which the failure message shows).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection, PermissionViolationError } from "@nats-io/transport-node";
import { natsAuthorizationBlock, natsInboxPrefix, natsPermissions } from "../../src/bus/nats-permissions.ts";
import { openBus } from "../../src/bus/factory.ts";
import { natsNames } from "../../src/bus/subjects.ts";
import { replyKeyPair } from "../../src/plugin-runtime/sealed-reply.ts";
import { createLogger } from "../../src/core/logger.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { makeClip } from "../helpers/media.ts";
import { type ConfiguredNats, startConfiguredNats, uniquePrefix } from "../helpers/nats.ts";
import { BUN, killAllProcs, type Proc, ROOT, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const dir = mkdtempSync(join(tmpdir(), "webencode-nats-perms-"));
const prefix = uniquePrefix();
const names = natsNames(prefix);
const users = {
  kernel: { user: "we-kernel", password: "kernel-pass-4f1c" },
  worker: { user: "we-worker", password: "worker-pass-9b2e" },
};
const WORKER_ID = "perm-w1";
const silent = createLogger("test", "silent");

const servers: ConfiguredNats[] = [];

/** A throwaway nats-server with JetStream whose only users are the generated kernel and worker for `busPrefix`. */
async function startServer(busPrefix: string): Promise<ConfiguredNats> {
  const server = await startConfiguredNats(dir, natsAuthorizationBlock(busPrefix, users));
  servers.push(server);
  return server;
}

let server: ConfiguredNats;
let k: TestKernel;
let worker: Proc;
const violations = () => server.violations();

const as = (role: "kernel" | "worker") => connect({ servers: server.url, user: users[role].user, pass: users[role].password, inboxPrefix: natsInboxPrefix(prefix, role) });

beforeAll(async () => {
  server = await startServer(prefix);
  const url = server.url;
  k = await startTestKernel({ env: { NATS_URL: url, NATS_USER: users.kernel.user, NATS_PASSWORD: users.kernel.password, BUS_PREFIX: prefix } });
  // The worker as its own process, exactly as webencode-worker starts (src/worker/main.ts).
  const cwd = join(dir, "worker");
  mkdirSync(cwd);
  worker = spawnProc([BUN, join(ROOT, "src/worker/main.ts")], {
    cwd,
    env: {
      NATS_URL: url,
      NATS_USER: users.worker.user,
      NATS_PASSWORD: users.worker.password,
      BUS_PREFIX: prefix,
      WORKER_ID,
      WORK_DIR: join(cwd, "work"),
      PLUGIN_DIR: join(cwd, "plugins"),
      HEARTBEAT_INTERVAL: "1s",
      WORKER_METRICS_PORT: "0",
      OUTBOUND_ALLOW_CIDRS: "127.0.0.0/8,::1/128",
      LOG_LEVEL: "info",
    },
  });
  try {
    await worker.waitForLine("worker registered", 60_000);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${worker.describe()}\nserver refused:\n${violations()}`);
  }
}, 120_000);

afterAll(async () => {
  await worker?.stop("SIGTERM", 10_000).catch(() => {});
  await k?.stop();
  await killAllProcs();
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("kernel and a restricted worker", () => {
  test("a real job completes with the worker on its own credentials; nothing was refused", async () => {
    const clip = await makeClip(join(k.dataDir, "storage", "sources"), "clip", { width: 320, height: 180, rate: "25", duration_s: 2, audio: true, gop: 25 });
    expect(clip.startsWith(join(k.dataDir, "storage"))).toBe(true);
    const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: "sources/clip.mp4", profiles: ["360p_h264"] }) });
    expect(r.status).toBe(201);
    const { id } = (await r.json()) as { id: string };
    let job: { status: string; tasks: Array<{ type: string; status: string; attempts: Array<{ worker_id: string; outcome: string | null }> }> } | undefined;
    try {
      await waitFor(async () => {
        job = (await (await k.fetch(`/v1/jobs/${id}`)).json()) as typeof job;
        if (job!.status === "failed" || job!.status === "cancelled") throw new Error(`job ended ${job!.status}: ${JSON.stringify(job)}`);
        // A refusal means an allow-list lacks something; the job would only hang until the timeout.
        if (violations()) throw new Error("the server refused something while the job ran");
        return job!.status === "completed";
      }, 60_000, `job ${id} to complete`, 200);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nworker:\n${worker.stderr.split("\n").slice(-15).join("\n")}\nserver refused:\n${violations()}`);
    }
    expect(job!.tasks.length).toBeGreaterThanOrEqual(3);
    // Every task ran on the restricted worker, once.
    const ran = job!.tasks.map((t) => `${t.type} ${t.status} ${t.attempts.map((a) => `${a.worker_id}:${a.outcome}`).join(",")}`);
    expect(ran.filter((t) => !t.endsWith(`completed ${WORKER_ID}:completed`))).toEqual([]);
    // Neither role was ever refused anything while doing its job.
    expect(violations()).toBe("");
  }, 120_000);

  test("the worker receives the kernel's events (drain) through its subscriptions", async () => {
    const r = await k.fetch(`/v1/workers/${WORKER_ID}/drain`, { method: "POST" });
    expect(r.status).toBe(200);
    await worker.waitForLine("drain requested", 10_000);
    expect((await k.fetch(`/v1/workers/${WORKER_ID}/undrain`, { method: "POST" })).status).toBe(200);
    await worker.waitForLine("undrain requested", 10_000);
  });
});

describe("what the worker user cannot do", () => {
  let nc: NatsConnection;
  let kernelNc: NatsConnection;
  let kjsm: JetStreamManager;
  beforeAll(async () => {
    nc = await as("worker");
    kernelNc = await as("kernel");
    kjsm = await jetstreamManager(kernelNc);
  });
  afterAll(async () => {
    await nc?.close();
    await kernelNc?.close();
  });

  /** The error a request (or a JetStream call) on `subject` ends with; undefined if it succeeded. */
  const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
  /** Requests fail with a RequestError whose cause is the server's permission violation. */
  const expectRefused = (e: unknown, subject: string) => {
    let c = e;
    while (c instanceof Error && !(c instanceof PermissionViolationError) && c.cause) c = c.cause;
    expect(c instanceof PermissionViolationError ? `refused ${c.subject}` : String(e)).toBe(`refused ${subject}`);
  };

  test("append to the audit stream: refused, the stream unchanged", async () => {
    const before = (await kjsm.streams.info(names.auditStream)).state.messages;
    expect(before).toBeGreaterThan(0); // the kernel's own entries (the job submission) went in
    expectRefused(await refusal(jetstream(nc).publish(names.auditSubject("forged"), JSON.stringify({ action: "forged" }))), names.auditSubject("forged"));
    // Nothing on the forged subject. (Not the total: the kernel appends its own entries for the requests above
    // in batches after answering them, so the count can still grow meanwhile.)
    const forged = await kjsm.streams.info(names.auditStream, { subjects_filter: names.auditSubject("forged") });
    expect(forged.state.subjects?.[names.auditSubject("forged")] ?? 0).toBe(0);
  });

  test("delete, purge or change the queue stream, or delete a consumer: refused, all still there", async () => {
    const wjsm = await jetstreamManager(nc);
    expectRefused(await refusal(wjsm.streams.delete(names.queueStream)), `$JS.API.STREAM.DELETE.${names.queueStream}`);
    expectRefused(await refusal(wjsm.streams.purge(names.queueStream)), `$JS.API.STREAM.PURGE.${names.queueStream}`);
    expectRefused(await refusal(wjsm.streams.delete(names.auditStream)), `$JS.API.STREAM.DELETE.${names.auditStream}`);
    expectRefused(await refusal(wjsm.consumers.delete(names.queueStream, "q-results")), `$JS.API.CONSUMER.DELETE.${names.queueStream}.q-results`);
    const info = await wjsm.streams.info(names.queueStream); // a lookup is allowed
    expectRefused(await refusal(wjsm.streams.update(names.queueStream, { ...info.config, max_msgs: 1 })), `$JS.API.STREAM.UPDATE.${names.queueStream}`);
    expect((await kjsm.streams.info(names.queueStream)).config.max_msgs).toBe(-1);
    expect((await kjsm.consumers.info(names.queueStream, "q-results")).name).toBe("q-results");
  });

  test("publish work, or pull the kernels' results consumer: refused", async () => {
    expectRefused(await refusal(jetstream(nc).publish(names.queueSubject("work-cpu"), "{}")), names.queueSubject("work-cpu"));
    const next = `$JS.API.CONSUMER.MSG.NEXT.${names.queueStream}.q-results`;
    expectRefused(await refusal(nc.request(next, JSON.stringify({ batch: 1, no_wait: true }))), next);
    // Nor settle (e.g. ack away) result messages: acks are publishes to the consumer's ack subjects.
    const ack = `$JS.ACK.${names.queueStream}.q-results.1.1.1.${Date.now()}000000.0`;
    expectRefused(await refusal(nc.request(ack, "+ACK", { timeout: 5000 })), ack);
    // Its own work consumer is allowed (no_wait: an empty queue answers at once with a status).
    const own = `$JS.API.CONSUMER.MSG.NEXT.${names.queueStream}.q-work-cpu`;
    expect(await refusal(nc.request(own, JSON.stringify({ batch: 1, no_wait: true }), { timeout: 5000 }))).toBeUndefined();
  });

  test("answer or listen to kernel RPCs, read other roles' replies, or reply as a kernel: refused", async () => {
    for (const subject of [names.rpc("task.claim"), names.rpc(">"), `${prefix}.>`, "_INBOX.>", `${natsInboxPrefix(prefix, "kernel")}.>`, `${prefix}.ev.events.progress`]) {
      const sub = nc.subscribe(subject, { queue: subject.startsWith(`${prefix}.rpc.`) ? names.rpcQueueGroup : undefined });
      const closed = await Promise.race([sub.closed, Bun.sleep(5000).then(() => "still open")]);
      expect(closed instanceof PermissionViolationError ? `refused ${closed.subject}` : String(closed)).toBe(`refused ${subject}`);
    }
    // Nor forge replies to a kernel's requests (its inbox takes publishes from kernels only).
    const forged = `${natsInboxPrefix(prefix, "kernel")}.x.1`;
    expectRefused(await refusal(nc.request(forged, "{}", { timeout: 5000 })), forged);
    // The worker's real requests still go to (and are answered by) the kernel, sealed to the worker's key.
    const keys = await replyKeyPair();
    const reply = await nc.request(names.rpc("plugins.settings"), JSON.stringify({ ids: ["storage-fs"], reply_key: keys.publicKey }), { timeout: 5000 });
    expect(Object.keys(await keys.open<Record<string, unknown>>((JSON.parse(reply.string()) as { data: { sealed: unknown } }).data.sealed))).toEqual(["storage-fs"]);
  });

  test("the generated lists: workers get no wildcard over the prefix, no stream administration, no audit", () => {
    const { worker: w, kernel: kp } = natsPermissions(prefix);
    const all = [...w.publish, ...w.subscribe];
    expect(all.filter((s) => s === ">" || s === `${prefix}.>` || (s.startsWith("$JS.API.STREAM.") && !s.startsWith("$JS.API.STREAM.INFO.")))).toEqual([]);
    expect(all.filter((s) => s.includes(".audit.") || s.includes("q-results.") || (s.endsWith(".q-results") && !s.includes(".CONSUMER.INFO.")))).toEqual([]);
    expect(w.subscribe.some((s) => s.startsWith(`${prefix}.rpc.`))).toBe(false);
    expect(kp.subscribe).toContain(`${prefix}.>`);
    expect(kp.publish).toContain(`${prefix}.>`);
  });
});

describe("a worker whose setup would need more than lookups", () => {
  const workerSettings = (url: string, busPrefix: string, ackWaitMs: number) => ({
    NATS_URL: url,
    BUS_PREFIX: busPrefix,
    NATS_USER: users.worker.user,
    NATS_PASSWORD: users.worker.password,
    BUS_ACK_WAIT: ackWaitMs,
  });
  const failure = (p: Promise<{ close(): Promise<void> }>) =>
    p.then(
      async (bus) => (await bus.close(), "connected"),
      (e: Error) => e.message,
    );

  test("started before any kernel (no streams yet): refused, and told to start a kernel first", async () => {
    const other = uniquePrefix();
    const fresh = await startServer(other);
    const err = await failure(openBus(workerSettings(fresh.url, other, 60_000), silent, "early-worker", "worker"));
    expect(err).toContain("NATS Connection Failed");
    expect(err).toContain(`"$JS.API.STREAM.CREATE.KV_${other}_presence"`);
    expect(err).toContain("Start a kernel first");
    await fresh.stop();
  });

  test("a BUS_ACK_WAIT that differs from the kernels': refused (it would change the consumers), consumers unchanged", async () => {
    const err = await failure(openBus(workerSettings(server.url, prefix, 5_000), silent, "odd-worker", "worker"));
    expect(err).toContain("setting up the queues failed");
    expect(err).toContain("same BUS_PREFIX and BUS_ACK_WAIT");
    const kc = await as("kernel");
    try {
      const info = await (await jetstreamManager(kc)).consumers.info(names.queueStream, "q-work-cpu");
      expect(info.config.ack_wait).toBe(60_000 * 1e6);
    } finally {
      await kc.close();
    }
  });
});
