/**
 * A draining worker (SIGTERM, an upgrade, POST …/drain) hands its live tasks back at once instead of waiting
 * WORKER_SHUTDOWN_GRACE for them: a live transcode never finishes by itself, so waiting would only delay its
 * restart on another worker. Real executor and in-process bus; the task handlers are stand-ins that run until
 * they are stopped (this is about the executor's slots and drain, not FFmpeg).
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBus } from "../../src/bus/memory.ts";
import { queueSpecs } from "../../src/bus/queues.ts";
import { Slots } from "../../src/bus/types.ts";
import { createLogger } from "../../src/core/logger.ts";
import { CLAIM_SUBJECT, type ClaimReply, type ClaimRequest, type ResultMessage, type TaskDelivery, type TaskType } from "../../src/core/messages.ts";
import type { LiveParams, ParamsOf } from "../../src/core/task-contracts.ts";
import { RESULTS_QUEUE, workQueue } from "../../src/core/topology.ts";
import { PluginHost } from "../../src/plugin-runtime/host/host.ts";
import { type TaskContext, TaskExecutor, type TaskHandlers } from "../../src/worker/executor.ts";
import { waitFor } from "../helpers/wait.ts";

const logger = createLogger("test", "silent");
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const LIVE: LiveParams = {
  stream_id: "st1",
  session_id: "ss1",
  source_url: "http://127.0.0.1:9/internal/live/ss1/source.flv",
  push_url: "http://127.0.0.1:9/internal/live/ss1",
  token: "t",
  segment_seconds: 2,
  rungs: [{ name: "360p", width: 640, height: 360, video_kbps: 700 }],
  audio_kbps: 128,
};
const ANALYZE: ParamsOf<"analyze"> = { source_url: "https://example.com/in.mp4", storage: "storage-fs" };

test("drain hands a live task back at once; a VOD task keeps its grace", async () => {
  const bus = new MemoryBus({ presenceTtlMs: 15_000 });
  await bus.ensureQueues(queueSpecs());
  cleanups.push(() => bus.close());
  const dir = mkdtempSync(join(tmpdir(), "we-live-drain-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const plugins = new PluginHost({ logger, pluginDir: join(dir, "plugins"), pillars: [], settings: { get: async () => ({ enabled: false, config: {} }) }, builtins: {} });

  const params: Record<string, unknown> = { live: LIVE, analyze: ANALYZE };
  bus.respond(CLAIM_SUBJECT, async (data) => {
    const request = data as ClaimRequest;
    const type = request.task_id.split("-")[0] as TaskType;
    return {
      granted: true,
      lease: { task_id: request.task_id, attempt: request.attempt, token: `token-${request.task_id}`, worker_id: request.worker_id },
      job_id: "job-1",
      type,
      params: params[type],
      media_seconds: 10,
      deadline: new Date(Date.now() + 600_000).toISOString(),
      lease_ttl_ms: type === "live" ? 4_000 : 30_000,
    } satisfies ClaimReply;
  });
  const outcomes: ResultMessage[] = [];
  const results = bus.consume<ResultMessage>(RESULTS_QUEUE, { slots: new Slots(4) }, async (message) => {
    outcomes.push(message.data);
    await message.ack();
  });
  cleanups.push(() => results.stop());

  const started = new Set<string>();
  const untilStopped = async (ctx: TaskContext): Promise<never> => {
    started.add(ctx.type);
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
    throw new Error("stopped");
  };
  const handlers: TaskHandlers = { analyze: untilStopped, video: untilStopped, audio: untilStopped, package: untilStopped, live: untilStopped, restream: untilStopped };
  const executor = new TaskExecutor({ workerId: "w1", workDir: dir, concurrency: 1, liveConcurrency: 1, pools: ["cpu", "live"], bus, plugins, logger, handlers });
  executor.start();
  cleanups.push(() => executor.stop());

  await bus.enqueue(workQueue("live"), { task_id: "live-1", job_id: "job-1", type: "live", attempt: 1 } satisfies TaskDelivery);
  await bus.enqueue(workQueue("cpu"), { task_id: "analyze-1", job_id: "job-1", type: "analyze", attempt: 1 } satisfies TaskDelivery);
  // Both run at once: the live task has a slot of its own beside WORKER_CONCURRENCY=1.
  await waitFor(() => started.has("live") && started.has("analyze"), 10_000, "both tasks to start");
  expect(executor.liveSlots.inUse).toBe(1);
  expect(executor.slots.inUse).toBe(1);

  const draining = executor.drain(600_000);
  await waitFor(() => outcomes.some((message) => message.kind === "outcome" && message.lease.task_id === "live-1"), 10_000, "the live task's outcome");
  const live = outcomes.find((message) => message.kind === "outcome" && message.lease.task_id === "live-1");
  expect(live).toMatchObject({ kind: "outcome", outcome: "aborted" });
  // The VOD task is still within its grace.
  expect(outcomes.some((message) => message.kind === "outcome" && message.lease.task_id === "analyze-1")).toBe(false);
  expect(executor.runningCount).toBe(1);
  await executor.stop();
  await draining;
  expect(outcomes.find((message) => message.kind === "outcome" && message.lease.task_id === "analyze-1")).toMatchObject({ outcome: "aborted" });
});
