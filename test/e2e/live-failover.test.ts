/**
 * Live failover through the compiled executables (issue 15): one kernel and two workers with LIVE_SLOTS=1 on
 * a real NATS JetStream and PostgreSQL. A live task runs on one worker, pulling an HTTP-FLV published at
 * real-time pace and PUTting its ladder; that worker is killed with SIGKILL; the kernel notices within its
 * live lease (4 s), re-queues the task at once as the next attempt, and the other worker carries on: segments
 * of epoch 2 arrive for every rung, each starting on a key frame.
 *
 * The ingest and delivery sides are played by a local server (test/helpers/live-source.ts): the task is
 * inserted as the streams domain would create it, its source_url/push_url point at that server. The kernel's
 * own playlists (discontinuity at the new epoch) are the delivery's tests.
 *
 * Build first: `bun scripts/build.ts --plugins --outdir DIR`, run with E2E_DIST=DIR.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Cluster, type WorkerProc } from "../helpers/cluster.ts";
import { lavfiPublisherArgs, type LiveSourceServer, startLiveSourceServer } from "../helpers/live-source.ts";
import { binary } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const TOKEN = "live-failover-token-0123456789";
const RUNGS = [
  { name: "240p", width: 320, height: 240, video_kbps: 400 },
  { name: "120p", width: 160, height: 120, video_kbps: 150 },
];
let cluster: Cluster;
let source: LiveSourceServer;

beforeAll(async () => {
  binary("webencode-kernel");
  binary("webencode-worker");
  cluster = await Cluster.create({ name: "live-failover" });
  source = startLiveSourceServer({ dir: join(cluster.scratch, "received"), token: TOKEN, publisherArgs: lavfiPublisherArgs({ seconds: 120, width: 320, height: 240, fps: 30, realtime: true, keyframeSeconds: 1 }) });
});

afterAll(async () => {
  await source?.stop();
  await cluster?.dispose();
});

/** First video frame of a received segment: a key frame? */
async function startsOnKeyFrame(path: string): Promise<boolean> {
  const out = await Bun.$`ffprobe -v error -select_streams v:0 -read_intervals %+#1 -show_entries frame=key_frame,pict_type -of json ${path}`.text();
  const frame = (JSON.parse(out) as { frames: Array<{ key_frame: number; pict_type: string }> }).frames[0];
  return frame?.key_frame === 1 && frame.pict_type === "I";
}

const segmentsOf = (epoch: number, rung?: string) => source.received.filter((file) => file.file.startsWith(`e${epoch}_`) && file.file.endsWith(".ts") && (rung === undefined || file.rung === rung));

describe("live failover", () => {
  test("the worker running a live task is killed with SIGKILL: the other worker continues the ladder as the next epoch", async () => {
    await cluster.startKernel("k1");
    const workers: WorkerProc[] = [await cluster.startWorker("live-a", { LIVE_SLOTS: "1" }), await cluster.startWorker("live-b", { LIVE_SLOTS: "1" })];
    await cluster.waitWorkerStatus("live-a", "healthy");
    await cluster.waitWorkerStatus("live-b", "healthy");

    // The live task as the streams domain creates it for a session (pool live, params per the contract).
    const params = { stream_id: "st1", session_id: "ss1", source_url: source.sourceUrl, push_url: source.pushUrl, token: TOKEN, segment_seconds: 1, rungs: RUNGS, audio_kbps: 64 };
    const [job] = await cluster.sql<{ id: string }[]>`insert into jobs (source_url, profiles, status) values ('live:st1', '[]'::jsonb, 'processing') returning id`;
    const [task] = await cluster.sql<{ id: string }[]>`
      insert into tasks (job_id, type, seq, pool, params, max_attempts) values (${job!.id}, 'live', 0, 'live', ${cluster.sql.json(params)}, 5) returning id`;

    await waitFor(() => RUNGS.every((rung) => segmentsOf(1, rung.name).length >= 2), 60_000, "two segments of epoch 1 on every rung");
    const [leased] = await cluster.sql<{ lease_worker_id: string; attempt: number }[]>`select lease_worker_id, attempt from tasks where id = ${task!.id}`;
    expect(leased!.attempt).toBe(1);
    const victim = workers.find((worker) => worker.id === leased!.lease_worker_id)!;
    const survivor = workers.find((worker) => worker !== victim)!;

    victim.proc.kill("SIGKILL");
    const killedAt = performance.now();
    await victim.proc.exited;

    await waitFor(() => RUNGS.every((rung) => segmentsOf(2, rung.name).length >= 2), 60_000, "two segments of epoch 2 on every rung");
    const firstOfEpoch2 = Math.min(...segmentsOf(2).map((file) => file.at));
    // Reported, not asserted (timing bounds belong to bench/live.ts): kill → first segment of the new epoch.
    console.log(`live failover: first epoch-2 segment ${((firstOfEpoch2 - killedAt) / 1000).toFixed(1)} s after SIGKILL (1 s segments)`);

    const [after] = await cluster.sql<{ lease_worker_id: string; attempt: number; status: string }[]>`select lease_worker_id, attempt, status from tasks where id = ${task!.id}`;
    expect(after).toEqual({ lease_worker_id: survivor.id, attempt: 2, status: "leased" });
    const [lost] = await cluster.sql<{ outcome: string; error_code: string }[]>`select outcome, error_code from task_attempts where task_id = ${task!.id} and attempt = 1`;
    expect(lost).toEqual({ outcome: "lease-expired", error_code: "WE-WRK-003" });
    for (const rung of RUNGS) {
      const [first] = segmentsOf(2, rung.name);
      expect({ rung: rung.name, file: first!.file, key: await startsOnKeyFrame(join(cluster.scratch, "received", rung.name, first!.file)) }).toEqual({ rung: rung.name, file: "e2_0.ts", key: true });
      expect(source.received.some((file) => file.rung === rung.name && file.file === "e2.m3u8")).toBe(true);
    }
    expect(source.refused).toBe(0);
    // The killed worker's FFmpeg died with it (its encoder plugin stops FFmpeg when its host is gone): epoch 1
    // sent nothing after epoch 2 began.
    expect(segmentsOf(1).filter((file) => file.at > firstOfEpoch2).map((file) => `${file.rung}/${file.file}`)).toEqual([]);
  });
});
