/**
 * Dispatch at scale, small (issue 20; bench/dispatch-scale.ts is the full run): ~300 tiny tasks of real jobs
 * (POST /v1/jobs, planned by the kernel: analyze, 10 video chunks, audio, package each) drained by 5 simulated
 * workers speaking the worker's protocol over NATS JetStream — pull, claim the lease, progress, outcome, ack —
 * without FFmpeg. Every task is leased exactly once (task_attempts and the harness agree) and every job completes.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { placeSource, runDispatchScale, TASKS_PER_JOB } from "../../bench/dispatch-scale.ts";
import { TEST_ADMIN_KEY } from "../helpers/auth.ts";
import { natsUrl } from "../helpers/nats.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

let k: TestKernel;

beforeAll(async () => {
  // A lease outliving any backlog of reports on a loaded machine: an expired lease would be re-granted (a
  // legitimate retry), and this test is about grants racing, not expiry (orchestrator.test.ts covers that).
  k = await startTestKernel({ nats: true, env: { RATE_LIMIT_RPS: "0", LEASE_TTL: "300s" } });
  placeSource(k.dataDir, "dispatch/source.mp4");
});
afterAll(async () => {
  await k?.stop();
});

test("300 tasks, 5 simulated workers: none leased twice, all completed", async () => {
  const r = await runDispatchScale({ apiUrl: k.url, apiKey: TEST_ADMIN_KEY, natsUrl: natsUrl(), prefix: k.prefix, databaseUrl: k.db.url, sourceKey: "dispatch/source.mp4", tasks: 300, workers: 5, timeoutMs: 100_000 });
  const jobs = Math.ceil(300 / TASKS_PER_JOB);
  expect({ jobs: r.jobs, completed: r.jobsCompleted, other: r.jobsNotCompleted }).toEqual({ jobs, completed: jobs, other: [] });
  expect(r.tasks).toBe(jobs * TASKS_PER_JOB);
  expect(r.tasksCompleted).toBe(r.tasks);
  expect(r.leasedTwiceDb).toBe(0);
  expect(r.leasedTwiceHarness).toBe(0);
  // Each task's one lease was granted to the harness (a refused claim is a duplicate delivery, dropped).
  expect(r.grants).toBe(r.tasks);
  expect(r.leaseP50Ms).toBeGreaterThanOrEqual(0);
}, 120_000);
