/**
 * Live transcode (issue 15): the live task's FFmpeg command (exactly src/media/live/ladder.ts's argv, with the
 * encoder plugin's progress flags) against a local stand-in for the ingesting kernel: the session's HTTP-FLV
 * sent at real-time pace by `ffmpeg -re … -c copy -f flv` (a publisher that costs no CPU) and a PUT
 * receiver (test/helpers/live-source.ts). For 1 s and 2 s segments and each ladder:
 *
 *   publish → segment listed : wall time from the moment the publisher sent the segment's last media second
 *                              (first FLV byte + (n+1) × segment_seconds) to the arrival of the rung playlist
 *                              that lists segment n (p50/p95 over every segment of every rung)
 *   speed (paced)            : FFmpeg's own `speed` at the end (≈1.0 when it keeps up with the publisher), and
 *                              dropped frames
 *   CPU per stream           : FFmpeg's user+system CPU time ÷ media seconds (cores one stream holds)
 *   capacity                 : the same command with the FLV sent as fast as possible (no -re): media
 *                              seconds ÷ wall seconds, i.e. how far above real time the ladder could go
 *
 * Source: 1280x720 30 fps H.264 (2 s GOP, like OBS) + AAC, generated once (bench/lib.ts ensureSource).
 * Not measured here: RTMP ingest and the kernel's playlist building (the path through the kernel needs the
 * streams domain and delivery; see docs/BENCHMARKS.md).
 *
 * `--failover`: instead, compiled kernel + workers (LIVE_SLOTS=1, E2E_DIST or dist/) on NATS and PostgreSQL
 * (TEST_NATS_URL, TEST_DATABASE_URL) run a live task (light 2-rung ladder from a 320x240 publisher); the
 * worker running it is SIGKILLed `--kills` times per segment length and a fresh worker joins after each kill.
 * Reported: SIGKILL → first segment of the next epoch received (what a player waits for, plus its buffer).
 *
 *   node_modules/.bin/bun bench/live.ts [--seconds 30] [--ladders default,light]
 *   E2E_DIST=/tmp/dist node_modules/.bin/bun bench/live.ts --failover [--kills 3]
 */
import { join } from "node:path";
import { guardInputs } from "../src/media/input-policy.ts";
import { liveLadderArgs } from "../src/media/live/ladder.ts";
import type { LiveRung } from "../src/core/task-contracts.ts";
import { startLiveSourceServer } from "../test/helpers/live-source.ts";
import { Cluster } from "../test/helpers/cluster.ts";
import { lavfiPublisherArgs } from "../test/helpers/live-source.ts";
import { arg, ensureSource, FFMPEG, flag, fmt, loadSampler, log, main, numArg, onCleanup, percentile, printMachine, table, tempDir } from "./lib.ts";

const SECONDS = numArg("seconds", 30);
/** The kernel's presets (src/kernel/live/ladders.ts), repeated so this benchmark measures fixed ladders. */
const LADDERS: Record<string, LiveRung[]> = {
  default: [
    { name: "720p", width: 1280, height: 720, video_kbps: 2500 },
    { name: "480p", width: 854, height: 480, video_kbps: 1200 },
    { name: "360p", width: 640, height: 360, video_kbps: 700 },
  ],
  light: [
    { name: "480p", width: 854, height: 480, video_kbps: 1000 },
    { name: "240p", width: 426, height: 240, video_kbps: 400 },
  ],
};
const LADDER_NAMES = arg("ladders", "default,light").split(",");
const TOKEN = "bench-live-token";

interface Run {
  wallS: number;
  cpuS: number;
  mediaS: number;
  speed: number;
  dropped: number;
  /** publish → listed, seconds, every segment of every rung. */
  listedS: number[];
}

async function runLadder(source: string, rungs: LiveRung[], segmentSeconds: 1 | 2, paced: boolean, dir: string): Promise<Run> {
  const publisher = ["-hide_banner", "-loglevel", "error", ...(paced ? ["-re"] : []), "-i", source, "-c", "copy", "-f", "flv", "pipe:1"];
  const server = startLiveSourceServer({ dir, token: TOKEN, publisherArgs: publisher });
  onCleanup(() => server.stop());
  try {
    const args = liveLadderArgs({ epoch: 1, params: { source_url: server.sourceUrl, push_url: server.pushUrl, token: TOKEN, segment_seconds: segmentSeconds, rungs, audio_kbps: 128 } });
    const started = performance.now();
    const ffmpeg = Bun.spawn([FFMPEG, "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", ...guardInputs(args)], { stdout: "pipe", stderr: "inherit" });
    const report = await new Response(ffmpeg.stdout).text();
    const exit = await ffmpeg.exited;
    const wallS = (performance.now() - started) / 1000;
    if (exit !== 0) throw new Error(`live ladder FFmpeg exited with ${exit}`);
    const usage = ffmpeg.resourceUsage();
    const cpuS = usage ? Number(usage.cpuTime.user + usage.cpuTime.system) / 1e6 : NaN;
    const last = (key: string) => [...report.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].at(-1)?.[1]?.trim() ?? "";
    const mediaS = Number(last("out_time_us")) / 1e6;
    const speed = Number(last("speed").replace(/x$/, ""));
    const dropped = Number(last("drop_frames"));

    const listedS: number[] = [];
    const t0 = server.firstByteAt;
    if (paced && t0 !== undefined) {
      for (const rung of rungs) {
        const files = server.received.filter((file) => file.rung === rung.name);
        for (const segment of files.filter((file) => file.file.endsWith(".ts"))) {
          const n = Number(/_(\d+)\.ts$/.exec(segment.file)![1]);
          const endMediaS = (n + 1) * segmentSeconds;
          if (endMediaS > mediaS - 0.01) continue; // the last, short segment is cut by the end of the stream
          // Listed = the first playlist naming it has arrived, and so has the segment (the small playlist PUT
          // may complete before the segment's body does).
          const listed = files.find((file) => file.text?.includes(`\n${segment.file}\n`) === true);
          if (listed) listedS.push((Math.max(listed.at, segment.at) - (t0 + endMediaS * 1000)) / 1000);
        }
      }
    }
    return { wallS, cpuS, mediaS, speed, dropped, listedS };
  } finally {
    await server.stop();
  }
}

/** SIGKILL → first segment of the next epoch, seconds, `kills` times with `segmentSeconds` segments. */
async function failover(segmentSeconds: 1 | 2, kills: number): Promise<number[]> {
  const cluster = await Cluster.create({ name: "bench-live-failover" });
  onCleanup(() => cluster.dispose());
  const server = startLiveSourceServer({
    dir: join(cluster.scratch, "received"),
    token: TOKEN,
    publisherArgs: lavfiPublisherArgs({ seconds: 600, width: 320, height: 240, fps: 30, realtime: true, keyframeSeconds: segmentSeconds }),
  });
  onCleanup(() => server.stop());
  try {
    await cluster.startKernel("k1");
    const workers = [await cluster.startWorker("live-0", { LIVE_SLOTS: "1" }), await cluster.startWorker("live-1", { LIVE_SLOTS: "1" })];
    const rungs = [
      { name: "240p", width: 320, height: 240, video_kbps: 400 },
      { name: "120p", width: 160, height: 120, video_kbps: 150 },
    ];
    const params = { stream_id: "st1", session_id: "ss1", source_url: server.sourceUrl, push_url: server.pushUrl, token: TOKEN, segment_seconds: segmentSeconds, rungs, audio_kbps: 64 };
    const [job] = await cluster.sql<{ id: string }[]>`insert into jobs (source_url, profiles, status) values ('live:st1', '[]'::jsonb, 'processing') returning id`;
    const [task] = await cluster.sql<{ id: string }[]>`insert into tasks (job_id, type, seq, pool, params, max_attempts) values (${job!.id}, 'live', 0, 'live', ${cluster.sql.json(params)}, 5) returning id`;
    const segments = (epoch: number) => server.received.filter((file) => file.file.startsWith(`e${epoch}_`) && file.file.endsWith(".ts"));
    const until = async (what: string, cond: () => boolean | Promise<boolean>) => {
      const deadline = Date.now() + 120_000;
      while (!(await cond())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await Bun.sleep(20);
      }
    };
    const gaps: number[] = [];
    for (let kill = 1; kill <= kills; kill++) {
      await until(`3 segments of epoch ${kill}`, () => segments(kill).length >= 3 * rungs.length);
      const [row] = await cluster.sql<{ lease_worker_id: string; attempt: number }[]>`select lease_worker_id, attempt from tasks where id = ${task!.id}`;
      if (row!.attempt !== kill) throw new Error(`expected attempt ${kill}, the task is on attempt ${row!.attempt}`);
      const victim = workers.find((worker) => worker.id === row!.lease_worker_id)!;
      victim.proc.kill("SIGKILL");
      const killedAt = performance.now();
      await until(`the first segment of epoch ${kill + 1}`, () => segments(kill + 1).length > 0);
      gaps.push((segments(kill + 1)[0]!.at - killedAt) / 1000);
      log(`${segmentSeconds} s segments, kill ${kill}: first epoch-${kill + 1} segment ${fmt(gaps.at(-1)!, 2)} s after SIGKILL`);
      workers.splice(workers.indexOf(victim), 1);
      workers.push(await cluster.startWorker(`live-${kill + 1}`, { LIVE_SLOTS: "1" }));
    }
    return gaps;
  } finally {
    await server.stop();
    await cluster.dispose();
  }
}

await main(async () => {
  printMachine();
  if (flag("failover")) {
    const kills = numArg("kills", 3);
    const load = loadSampler();
    const rows: Array<Array<string | number>> = [];
    for (const segmentSeconds of [1, 2] as const) {
      const gaps = await failover(segmentSeconds, kills);
      rows.push([`${segmentSeconds} s`, String(gaps.length), fmt(percentile(gaps, 50), 2), fmt(Math.max(...gaps), 2)]);
    }
    const l = load.stop();
    log(`\nload average mean ${l.mean.toFixed(1)}, max ${l.max.toFixed(1)}\n`);
    table(["segments", "kills", "SIGKILL → next epoch's first segment p50 s", "max s"], rows);
    return;
  }
  const source = await ensureSource({ width: 1280, height: 720, fps: 30, duration_s: SECONDS, gop: 60 });
  const root = tempDir("live");
  const load = loadSampler();
  const latencyRows: Array<Array<string | number>> = [];
  const costRows: Array<Array<string | number>> = [];
  let k = 0;
  for (const ladder of LADDER_NAMES) {
    const rungs = LADDERS[ladder];
    if (!rungs) throw new Error(`unknown ladder ${ladder} (known: ${Object.keys(LADDERS).join(", ")})`);
    for (const segmentSeconds of [1, 2] as const) {
      const paced = await runLadder(source, rungs, segmentSeconds, true, join(root, String(k++)));
      const fast = await runLadder(source, rungs, segmentSeconds, false, join(root, String(k++)));
      const label = `${ladder} (${rungs.map((rung) => rung.name).join("/")}), ${segmentSeconds} s`;
      latencyRows.push([label, String(paced.listedS.length), fmt(percentile(paced.listedS, 50), 2), fmt(percentile(paced.listedS, 95), 2), fmt(Math.max(...paced.listedS), 2)]);
      costRows.push([label, fmt(paced.speed, 3), String(paced.dropped), fmt(paced.cpuS / paced.mediaS, 2), fmt(fast.mediaS / fast.wallS, 2)]);
      log(`${label}: paced speed ${paced.speed}x, dropped ${paced.dropped}, ${fmt(paced.cpuS, 1)} CPU s for ${fmt(paced.mediaS, 1)} media s; unpaced ${fmt(fast.mediaS / fast.wallS, 2)}x`);
    }
  }
  const l = load.stop();
  log(`\n${SECONDS} s 1280x720 30 fps source, sent at real-time pace; load average mean ${l.mean.toFixed(1)}, max ${l.max.toFixed(1)}\n`);
  table(["ladder, segment", "segments", "publish → listed p50 s", "p95 s", "max s"], latencyRows);
  log("");
  table(["ladder, segment", "speed (paced)", "dropped frames", "CPU cores per stream", "capacity (unpaced ×)"], costRows);
});
