/**
 * Live failover through the compiled executables (issue 15): one kernel and two workers with LIVE_SLOTS=1 on
 * a real NATS JetStream and PostgreSQL. A live task runs on one worker, pulling an HTTP-FLV published at
 * real-time pace and PUTting its ladder; that worker is killed with SIGKILL; the kernel notices within its
 * live lease (4 s), re-queues the task at once as the next attempt, and the other worker carries on: segments
 * of epoch 2 arrive for every rung, each starting on a key frame.
 *
 * First with the ingest and delivery sides played by a local server (test/helpers/live-source.ts; the task is
 * inserted as the streams domain creates it): every segment of both epochs is seen as the worker sends it.
 * Then the whole path: FFmpeg publishes over RTMP to the kernel, the kernel creates the session's live task,
 * the worker pulls the kernel's HTTP-FLV and PUTs to the kernel's receiver; after the SIGKILL the kernel's
 * media playlist goes on with an EXT-X-DISCONTINUITY and segments of the next epoch.
 *
 * Build first: `bun scripts/build.ts --plugins --outdir DIR`, run with E2E_DIST=DIR.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Cluster, type WorkerProc } from "../helpers/cluster.ts";
import { lavfiPublisherArgs, type LiveSourceServer, startLiveSourceServer } from "../helpers/live-source.ts";
import { binary, freePort, type Proc, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const TOKEN = "live-failover-token-0123456789";
const RUNGS = [
  { name: "240p", width: 320, height: 240, video_kbps: 400 },
  { name: "120p", width: 160, height: 120, video_kbps: 150 },
];
let cluster: Cluster;
let source: LiveSourceServer;
let fullPath: Cluster | undefined;
let publisher: Proc | undefined;

beforeAll(async () => {
  binary("webencode-kernel");
  binary("webencode-worker");
  cluster = await Cluster.create({ name: "live-failover" });
  source = startLiveSourceServer({ dir: join(cluster.scratch, "received"), token: TOKEN, publisherArgs: lavfiPublisherArgs({ seconds: 120, width: 320, height: 240, fps: 30, realtime: true, keyframeSeconds: 1 }) });
});

afterAll(async () => {
  publisher?.kill("SIGKILL");
  await publisher?.exited.catch(() => {});
  await source?.stop();
  await cluster?.dispose();
  await fullPath?.dispose();
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

  test("through the kernel (RTMP publisher, HTTP-FLV pull, PUT receiver): the media playlist continues after a discontinuity with the next epoch", async () => {
    // The first installation is done: its survivor would keep its live slot busy.
    await source.stop();
    await cluster.dispose();
    fullPath = await Cluster.create({ name: "live-failover-kernel" });
    const rtmpPort = await freePort();
    const kernel = await fullPath.startKernel("k1", { LIVE_RTMP_PORT: String(rtmpPort) });
    const workers: WorkerProc[] = [await fullPath.startWorker("kl-a", { LIVE_SLOTS: "1" }), await fullPath.startWorker("kl-b", { LIVE_SLOTS: "1" })];
    await fullPath.waitWorkerStatus("kl-a", "healthy");
    await fullPath.waitWorkerStatus("kl-b", "healthy");

    const created = await kernel.fetch("/v1/streams", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "failover", ladder: "light", segment_seconds: 1 }) });
    expect(created.status).toBe(201);
    const stream = (await created.json()) as { id: string; key: string; playback_url: string };
    publisher = spawnProc([
      ...["ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-re"],
      ...["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "90"],
      ...["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p", "-b:v", "500k", "-c:a", "aac", "-b:a", "64k"],
      ...["-f", "flv", `rtmp://127.0.0.1:${rtmpPort}/live/${stream.key}`],
    ]);
    const master = `${kernel.url}/live/${stream.id}/master.m3u8`;
    await waitFor(async () => (await fetch(master)).status === 200, 60_000, "the master playlist", 250);
    const rung = (await (await fetch(master)).text()).split("\n").find((line) => line !== "" && !line.startsWith("#"))!.split("/")[0]!;
    const media = async () => {
      const response = await fetch(`${kernel.url}/live/${stream.id}/${rung}/index.m3u8`);
      return response.status === 200 ? response.text() : "";
    };

    const [leased] = await fullPath.sql<{ id: string; lease_worker_id: string; attempt: number }[]>`select id, lease_worker_id, attempt from tasks where type = 'live' and status = 'leased'`;
    expect(leased!.attempt).toBe(1);
    const victim = workers.find((worker) => worker.id === leased!.lease_worker_id)!;
    const survivor = workers.find((worker) => worker !== victim)!;
    victim.proc.kill("SIGKILL");
    const killedAt = performance.now();

    // The playlist players poll: a discontinuity, then segments of epoch 2.
    let playlist = "";
    await waitFor(async () => /#EXT-X-DISCONTINUITY\n(#[^\n]*\n)*[^#\n]*e2_\d+\.ts/.test((playlist = await media())), 60_000, "an epoch-2 segment after a discontinuity in the media playlist", 100).catch(async (error: unknown) => {
      const attempts = await fullPath!.sql`select attempt, worker_id, outcome, error_code, error_message from task_attempts where task_id = ${leased!.id} order by attempt`;
      const task = await fullPath!.sql`select status, attempt, lease_worker_id, error_message from tasks where id = ${leased!.id}`;
      const logs = [survivor.proc, kernel.proc].map((proc) => proc.stderr.split("\n").filter((line) => /live|task|lease|warn|error/i.test(line)).slice(-15).join("\n"));
      throw new Error(`${(error as Error).message}\nplaylist:\n${playlist}\ntask: ${JSON.stringify(task)}\nattempts: ${JSON.stringify(attempts)}\nsurvivor:\n${logs[0]}\nkernel:\n${logs[1]}`);
    });
    console.log(`live failover through the kernel: epoch 2 listed ${((performance.now() - killedAt) / 1000).toFixed(1)} s after SIGKILL (1 s segments)`);
    expect(playlist).toMatch(/e1_\d+\.ts\n(#[^\n]*\n)*#EXT-X-DISCONTINUITY\n(#[^\n]*\n)*[^#\n]*e2_0\.ts\n/);
    expect((await fetch(master)).status).toBe(200);
    const [after] = await fullPath.sql<{ lease_worker_id: string; attempt: number; status: string }[]>`select lease_worker_id, attempt, status from tasks where id = ${leased!.id}`;
    expect(after).toEqual({ lease_worker_id: survivor.id, attempt: 2, status: "leased" });
    // The new epoch's segments are served to players.
    const segment = /^([^#\n]*e2_\d+\.ts)$/m.exec(playlist)![1]!;
    const served = await fetch(`${kernel.url}/live/${stream.id}/${rung}/${segment}`);
    expect(served.status).toBe(200);
    expect((await served.arrayBuffer()).byteLength).toBeGreaterThan(1000);
  });
});
