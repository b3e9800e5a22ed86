/**
 * A scheduled file-as-live restream through the compiled executables (issue 16, "Done when"): one kernel and
 * two workers with LIVE_SLOTS=1 on NATS JetStream and PostgreSQL, a local RTMP receiver (the project's own
 * ingest server, in this process) recording what arrives. A 4 s clip is uploaded and restreamed with loop on,
 * start_at = now + 5 s, stop_at = start_at + 20 s:
 * - the receiver's first media arrives within 2 s of start_at;
 * - it loops: the first session alone carries more media than the clip is long;
 * - the worker running it is SIGKILLed mid-way: the other worker takes the task as attempt 2 (lease expiry),
 *   starts the file at the position the first attempt reached (the row's position_s, not 0), and the receiver
 *   gets a new session;
 * - media stops within 2 s of stop_at (the worker stops by itself at stop_at; the kernel cancels the job) and
 *   the restream is `stopped`.
 *
 * Build first: `bun scripts/build.ts --plugins --outdir DIR`, run with E2E_DIST=DIR.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import pino from "pino";
import { FlvTagType } from "../../src/live/flv/tags.ts";
import { DEFAULT_INGEST_LIMITS, startRtmpServer, type RtmpServer } from "../../src/live/ingest/server.ts";
import { FlvReader } from "../../src/media/restream/flv-reader.ts";
import { Cluster, type WorkerProc } from "../helpers/cluster.ts";
import { makeClip } from "../helpers/media.ts";
import { binary } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

interface Tag {
  session: number;
  type: number;
  timestamp: number;
  at: number;
}

let cluster: Cluster;
let receiver: RtmpServer;
const tags: Tag[] = [];
let sessions = 0;

beforeAll(async () => {
  binary("webencode-kernel");
  binary("webencode-worker");
  cluster = await Cluster.create({ name: "restream-scheduled" });
  receiver = await startRtmpServer({
    host: "127.0.0.1",
    port: 0,
    limits: DEFAULT_INGEST_LIMITS,
    logger: pino({ level: "silent" }),
    authorize: async (request) => (request.streamKey === "e2e-key" ? { accept: true, streamId: "receiver" } : { accept: false, code: "NetStream.Publish.BadName", description: "unknown stream key" }),
    onPublish: (session) => {
      const number = ++sessions;
      const reader = new FlvReader();
      void (async () => {
        try {
          for await (const chunk of session.subscribe()) for (const tag of reader.push(chunk)) tags.push({ session: number, type: tag.type, timestamp: tag.timestamp, at: Date.now() });
        } catch {
          // the session ended
        }
      })();
    },
    onEnd: () => {},
  });
});

afterAll(async () => {
  await receiver?.stop();
  await cluster?.dispose();
});

const video = (session?: number) => tags.filter((tag) => tag.type === FlvTagType.video && (session === undefined || tag.session === session));
const spanMs = (session: number) => {
  const list = video(session);
  return list.length > 1 ? list[list.length - 1]!.timestamp - list[0]!.timestamp : 0;
};

test("scheduled start and stop (±2 s), looping, resumed on the other worker from the position reached after a SIGKILL", async () => {
  const kernel = await cluster.startKernel("k1");
  const workers: WorkerProc[] = [await cluster.startWorker("rs-a", { LIVE_SLOTS: "1" }), await cluster.startWorker("rs-b", { LIVE_SLOTS: "1" })];
  await cluster.waitWorkerStatus("rs-a", "healthy");
  await cluster.waitWorkerStatus("rs-b", "healthy");

  const clip = await makeClip(cluster.scratch, "clip", { width: 320, height: 240, rate: "25", duration_s: 4, audio: true, gop: 25 });
  const uploaded = await kernel.fetch("/v1/files?filename=clip.mp4", { method: "POST", body: Bun.file(clip) });
  expect(uploaded.status).toBe(201);
  const { source_url: key } = (await uploaded.json()) as { source_url: string };

  const startAt = Date.now() + 5_000;
  const stopAt = startAt + 20_000;
  const created = await kernel.fetch("/v1/restreams", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      name: "e2e",
      input: { storage_key: key },
      loop: true,
      start_at: new Date(startAt).toISOString(),
      stop_at: new Date(stopAt).toISOString(),
      destinations: [{ url: `rtmp://127.0.0.1:${receiver.port}/live`, key: "e2e-key" }],
    }),
  });
  expect(created.status).toBe(201);
  const restream = (await created.json()) as { id: string; status: string };
  expect(restream.status).toBe("scheduled");
  const row = async () => (await cluster.sql<{ status: string; position_s: number; task_id: string | null }[]>`select status, position_s, task_id from restreams where id = ${restream.id}`)[0]!;

  // Started on time: the receiver's first media within 2 s of start_at.
  await waitFor(() => video().length > 0, 20_000, "media at the receiver", 20);
  const firstAt = video()[0]!.at;
  console.log(`restream: first media ${((firstAt - startAt) / 1000).toFixed(2)} s after start_at`);
  const [timing] = await cluster.sql<{ created_at: Date; started_at: Date | null }[]>`select t.created_at, t.started_at from tasks t join restreams r on r.task_id = t.id where r.id = ${restream.id}`;
  console.log(`restream: task queued ${((timing!.created_at.getTime() - startAt) / 1000).toFixed(2)} s, leased ${(((timing!.started_at?.getTime() ?? NaN) - startAt) / 1000).toFixed(2)} s from start_at`);
  expect(Math.abs(firstAt - startAt)).toBeLessThan(2_000);

  // It loops: more media in the first session than the 4 s clip holds.
  await waitFor(() => spanMs(1) > 5_000, 20_000, "more than 5 s of media in the first session (the 4 s clip looped)", 50);
  await waitFor(async () => (await row()).position_s > 0, 10_000, "a position recorded on the row", 100);

  // Kill the worker running it.
  const taskId = (await row()).task_id!;
  const [leased] = await cluster.sql<{ lease_worker_id: string; attempt: number }[]>`select lease_worker_id, attempt from tasks where id = ${taskId}`;
  expect(leased!.attempt).toBe(1);
  const victim = workers.find((worker) => worker.id === leased!.lease_worker_id)!;
  const survivor = workers.find((worker) => worker !== victim)!;
  victim.proc.kill("SIGKILL");
  await victim.proc.exited;
  const killedAt = Date.now();
  const positionAtKill = (await row()).position_s;

  // The other worker takes it as attempt 2 and the receiver gets a new session.
  await waitFor(async () => {
    const [task] = await cluster.sql<{ attempt: number; lease_worker_id: string | null }[]>`select attempt, lease_worker_id from tasks where id = ${taskId}`;
    return task!.attempt === 2 && task!.lease_worker_id === survivor.id;
  }, 15_000, "attempt 2 leased by the other worker", 100);
  await waitFor(() => video().some((tag) => tag.session > 1 && tag.at > killedAt), 15_000, "media of a new receiver session after the kill", 50);
  console.log(`restream: media again ${((video().find((tag) => tag.session > 1 && tag.at > killedAt)!.at - killedAt) / 1000).toFixed(2)} s after the SIGKILL`);
  // Resumed from the position reached, not from 0: the survivor's attempt started at the row's position.
  const started = survivor.proc.stderr
    .split("\n")
    .filter((line) => line.includes("restream starting"))
    .map((line) => JSON.parse(line) as { start_s: number });
  expect(started.length).toBe(1);
  expect(positionAtKill).toBeGreaterThan(0);
  expect(started[0]!.start_s).toBeCloseTo(positionAtKill % 4.04, 0);
  expect(started[0]!.start_s).toBeGreaterThan(0);

  // Stopped on time: the last media within 2 s of stop_at.
  await waitFor(async () => (await row()).status === "stopped", stopAt - Date.now() + 10_000, "the restream stopped at stop_at", 100);
  await waitFor(() => Date.now() - video().at(-1)!.at > 1_500, 10_000, "no more media", 100);
  const lastAt = video().at(-1)!.at;
  console.log(`restream: last media ${((lastAt - stopAt) / 1000).toFixed(2)} s after stop_at`);
  expect(Math.abs(lastAt - stopAt)).toBeLessThan(2_000);
  const [job] = await cluster.sql<{ status: string }[]>`select j.status from jobs j join restreams r on r.job_id = j.id where r.id = ${restream.id}`;
  // Cancelled by the kernel's stop, or completed when the worker's own stop at stop_at got there first.
  expect(["cancelled", "completed"]).toContain(job!.status);
}, 120_000);
