/**
 * The scenario of scripts/upgrade-test.ts, on the test harness's distributed installation
 * (test/helpers/cluster.ts: the new kernel from E2E_DIST, a private database and NATS prefix):
 *
 * 1. the new kernel and the OLD worker; two jobs submitted; the old worker completes tasks for the new kernel;
 * 2. with an old worker's video task running (jobs in flight): a new worker joins, the old one gets SIGTERM
 *    (systemctl restart does the same) and drains — it must exit 0;
 * 3. both jobs complete, each task with exactly one accepted result; both workers completed tasks.
 *
 * Returns the problems found (empty = the upgrade held); prints what each worker did and the versions the
 * kernel reported for them.
 */
import { join } from "node:path";
import { Cluster, ffmpegWrapper, generateClip, slowVideo } from "../../test/helpers/cluster.ts";
import { killAllProcs } from "../../test/helpers/proc.ts";
import { waitFor } from "../../test/helpers/wait.ts";

/** Chunking for short clips (6 s → several video tasks), as in test/e2e/delivery.test.ts. */
const SPLIT = { CHUNK_MIN_DURATION: "2s", CHUNK_MAX_DURATION: "4s", SPLIT_MIN_DURATION: "4s" };

export async function rollingUpgrade(oldWorkerBinary: string, mediaDir: string): Promise<string[]> {
  const problems: string[] = [];
  const clip = await generateClip(join(mediaDir, "clip.mp4"), { seconds: 6 });
  const c = await Cluster.create({ name: "upgrade", env: SPLIT });
  try {
    const k = await c.startKernel("kernel-new");
    // Video chunks read at half speed: tasks stay in flight long enough to upgrade under them.
    const slow = ffmpegWrapper(c.scratch, "slow", [slowVideo(0.5)]);
    const old = await c.startWorker("worker-old", { FFMPEG_PATH: slow, WORKER_SHUTDOWN_GRACE: "60s" }, oldWorkerBinary);
    const jobs = [];
    for (const n of [1, 2]) jobs.push(await c.submit(k, { source_url: c.addSource(`sources/clip-${n}.mp4`, clip), profiles: ["360p_h264"] }));
    const ids = jobs.map((j) => j.id);

    const completedBy = async (worker: string) =>
      (await c.sql<{ n: number }[]>`select count(*)::int as n from task_attempts a join tasks t on t.id = a.task_id
        where t.job_id in ${c.sql(ids)} and a.worker_id = ${worker} and a.outcome = 'completed'`)[0]!.n;
    await waitFor(async () => (await completedBy("worker-old")) >= 1, 240_000, "the old worker to complete a task for the new kernel", 250);
    const running = await c.waitTaskStarted(ids[1]!, "video", 240_000).catch(() => c.waitTaskStarted(ids[0]!, "video", 240_000));
    process.stdout.write(`old worker completed a task; now running video task ${running.taskId} on ${running.worker.id}: upgrading\n`);

    await c.startWorker("worker-new", { FFMPEG_PATH: slow });
    const stopped = await old.proc.stop("SIGTERM", 120_000);
    if (stopped.code !== 0) problems.push(`the old worker's drain ended with ${JSON.stringify(stopped)}`);

    for (const id of ids) {
      await c.waitJob(id, ["completed"], 400_000).catch((e: Error) => problems.push(e.message));
    }
    problems.push(...(await c.deliveryViolations(ids)));
    const byWorker = await c.sql<{ worker_id: string; outcome: string | null; n: number }[]>`
      select a.worker_id, a.outcome, count(*)::int as n from task_attempts a join tasks t on t.id = a.task_id
      where t.job_id in ${c.sql(ids)} group by 1, 2 order by 1, 2`;
    process.stdout.write(`attempts by worker and outcome: ${JSON.stringify(byWorker)}\n`);
    for (const w of ["worker-old", "worker-new"]) if ((await completedBy(w)) < 1) problems.push(`${w} completed no task`);

    const listed = (await (await k.fetch("/v1/workers")).json()) as { items: { id: string; version: string; status: string }[] };
    process.stdout.write(`GET /v1/workers: ${JSON.stringify(listed.items.map((w) => ({ id: w.id, version: w.version, status: w.status })))}\n`);
  } finally {
    await c.dispose();
    await killAllProcs();
  }
  return problems;
}
