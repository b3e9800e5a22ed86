/**
 * Platform overhead: one profile (720p_h264), one chunk (SPLIT_MIN_DURATION=3600s), MP4 output, on a
 * generated 60 s 720p 30 fps clip with audio, through a standalone kernel (embedded worker, one slot).
 *
 *   platform wall = job created_at → finished_at (server clock; the upload is not included)
 *   raw wall      = the same job's FFmpeg commands (video, audio, concat+mux), exact argv recorded by an
 *                   FFMPEG_PATH wrapper, replayed one after another with /usr/bin/ffmpeg
 *
 * Rounds alternate which of the two runs first, so host load hits both alike; medians are reported. CPU
 * time (platform: the kernel's whole process tree; raw: the FFmpeg children) is reported too, because it
 * is far less sensitive to other work on the host than wall time. With --single, one more baseline: a
 * single equivalent ffmpeg command (same encoder settings, video + audio + faststart MP4 in one process).
 *
 *   node_modules/.bin/bun bench/overhead.ts [--rounds 3] [--duration 60] [--single] [--dist /tmp/bench-dist]
 */
import { rmSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  FFMPEG, Kernel, callsOfJob, distDir, ensureSource, ffWrappers, fmt, jobPhases, log, loadSampler, main, median, ms, numArg, flag, printMachine, sum, table, tempDir,
  timed, treeCpuMs, type FfCall, type JobDetail, type Phase,
} from "./lib.ts";
import { buildReplay, runReplay } from "./replay.ts";

const ROUNDS = numArg("rounds", 3);
const DURATION = numArg("duration", 60);
const PROFILE = "720p_h264";

interface Round {
  platformMs: number;
  clientMs: number;
  platformCpuMs: number;
  rawMs: number;
  rawCpuMs: number;
  rawSteps: Array<{ kind: string; wallMs: number; cpuMs: number }>;
  phases: Phase[];
  byKind: Record<string, number>;
  ffmpegCpuMs: number;
  ffprobeCpuMs: number;
}

await main(async () => {
  printMachine();
  const dist = distDir();
  const src = await ensureSource({ width: 1280, height: 720, fps: 30, duration_s: DURATION });
  const tiny = await ensureSource({ width: 320, height: 240, fps: 30, duration_s: 2 });
  const tmp = tempDir("overhead");
  const wrap = ffWrappers(tmp);
  const workDir = join(tmp, "work");
  const { kernel } = await Kernel.start({
    dist,
    dataDir: join(tmp, "data"),
    env: { FFMPEG_PATH: wrap.ffmpeg, FFPROBE_PATH: wrap.ffprobe, WORK_DIR: workDir, SPLIT_MIN_DURATION: "3600s", WORKER_CONCURRENCY: "1" },
  });
  const srcUrl = await kernel.upload(src, "src720.mp4");
  const tinyUrl = await kernel.upload(tiny, "tiny.mp4");

  const runJob = async (source: string): Promise<{ job: JobDetail; clientMs: number; cpuMs: number; calls: FfCall[] }> => {
    const cpu0 = treeCpuMs(kernel.pid);
    const t0 = performance.now();
    const created = await kernel.api<{ id: string }>("POST", "/v1/jobs", { source_url: source, profiles: [PROFILE], outputs: ["mp4"] });
    // Polled once a second: a GET /v1/jobs/:id costs the kernel ~8 ms of CPU (several PGlite queries),
    // which would otherwise count as platform CPU. The wall time comes from the server's timestamps.
    const { job, observedAt } = await kernel.waitJob(created.id, { pollMs: 1000 });
    const cpuMs = treeCpuMs(kernel.pid) - cpu0;
    return { job, clientMs: observedAt - t0, cpuMs, calls: callsOfJob(wrap.logDir, job) };
  };

  log("warm-up job (2 s clip, not counted) …");
  await runJob(tinyUrl);
  const idle0 = treeCpuMs(kernel.pid);
  const idleT0 = performance.now();
  await Bun.sleep(10_000);
  const idleCpuPct = (100 * (treeCpuMs(kernel.pid) - idle0)) / (performance.now() - idleT0);
  log(`idle CPU of the kernel's process tree: ${fmt(idleCpuPct)}% of one core`);

  const load = loadSampler();
  const rounds: Round[] = [];
  let lastReplay: ReturnType<typeof buildReplay> | undefined;
  let lastJob: { job: JobDetail; calls: FfCall[] } | undefined;
  const replayDir = join(tmp, "replay");
  const replay = async () => {
    rmSync(replayDir, { recursive: true, force: true });
    mkdirSync(replayDir, { recursive: true });
    const steps = buildReplay(lastJob!.job, lastJob!.calls, workDir, replayDir);
    lastReplay = steps;
    const r = await runReplay(steps);
    rmSync(replayDir, { recursive: true, force: true });
    return r;
  };
  for (let i = 0; i < ROUNDS; i++) {
    let rawSteps: Round["rawSteps"] | undefined;
    // Round 1 must run the platform first (the replay needs its argv); later rounds alternate.
    if (i % 2 === 1) rawSteps = await replay();
    const p = await runJob(srcUrl);
    lastJob = p;
    rawSteps ??= await replay();
    const { phases, wallMs, byKind, ffmpegCpuMs, ffprobeCpuMs } = jobPhases(p.job, p.calls);
    const r: Round = {
      platformMs: wallMs,
      clientMs: p.clientMs,
      platformCpuMs: p.cpuMs,
      rawMs: sum(rawSteps.map((s) => s.wallMs)),
      rawCpuMs: sum(rawSteps.map((s) => s.cpuMs)),
      rawSteps,
      phases,
      byKind,
      ffmpegCpuMs,
      ffprobeCpuMs,
    };
    rounds.push(r);
    log(`  round ${i + 1}/${ROUNDS}: platform ${fmt(r.platformMs / 1000)} s, raw replay ${fmt(r.rawMs / 1000)} s → ${fmt(r.platformMs / r.rawMs, 3)}`);
    await kernel.api("DELETE", `/v1/jobs/${p.job.id}`).catch(() => undefined);
  }

  let single: { wallMs: number; cpuMs: number } | undefined;
  if (flag("single")) {
    const argv = singleCommand(lastJob!.calls, lastJob!.job, join(tmp, "single.mp4"));
    log(`single command: ${argv.join(" ")}`);
    const r = await timed(argv);
    single = { wallMs: r.wallMs, cpuMs: r.cpuMs };
  }
  const loadStats = load.stop();
  await kernel.stop();

  log("");
  log(`## Overhead: ${PROFILE}, one chunk, MP4, ${DURATION} s 1280x720 30 fps + AAC (N=${ROUNDS}; load average mean ${fmt(loadStats.mean)}, max ${fmt(loadStats.max)})`);
  const med = (f: (r: Round) => number) => median(rounds.map(f));
  table(
    ["run", "wall s (median)", "min", "max", "CPU s (median)"],
    [
      ["platform: job created → completed", med((r) => r.platformMs) / 1000, Math.min(...rounds.map((r) => r.platformMs)) / 1000, Math.max(...rounds.map((r) => r.platformMs)) / 1000, med((r) => r.platformCpuMs) / 1000],
      ["platform: client POST → completed seen (1 s polls)", med((r) => r.clientMs) / 1000, Math.min(...rounds.map((r) => r.clientMs)) / 1000, Math.max(...rounds.map((r) => r.clientMs)) / 1000, NaN],
      ["raw: replay of the same argv (sequential)", med((r) => r.rawMs) / 1000, Math.min(...rounds.map((r) => r.rawMs)) / 1000, Math.max(...rounds.map((r) => r.rawMs)) / 1000, med((r) => r.rawCpuMs) / 1000],
      ...(single ? [["raw: one equivalent ffmpeg command (N=1)", single.wallMs / 1000, single.wallMs / 1000, single.wallMs / 1000, single.cpuMs / 1000] as Array<string | number>] : []),
    ],
  );
  log("");
  log("raw replay steps (median wall s): " + (lastReplay ?? []).map((s, k) => `${s.kind} ${fmt(median(rounds.map((r) => r.rawSteps[k]?.wallMs ?? NaN)) / 1000)}`).join(", "));
  log("");
  log("## Where the platform's time goes (median ms over rounds; FFmpeg/FFprobe times from the wrapper log)");
  const names = rounds[0]!.phases.map((p) => p.phase);
  const medWall = med((r) => r.platformMs);
  table(
    ["phase", "ms", "% of wall"],
    names.map((n) => {
      const v = median(rounds.map((r) => r.phases.find((p) => p.phase === n)?.ms ?? 0));
      return [n, v, `${fmt((100 * v) / medWall, 1)}%`];
    }),
  );
  log("");
  table(
    ["kind", "ms", "% of wall"],
    Object.keys(rounds[0]!.byKind).map((k) => {
      const v = median(rounds.map((r) => r.byKind[k] ?? 0));
      return [k, v, `${fmt((100 * v) / medWall, 1)}%`];
    }),
  );
  log("");
  log("## Where the platform's CPU goes (median s)");
  table(
    ["part", "CPU s"],
    [
      ["kernel process tree, whole job", med((r) => r.platformCpuMs) / 1000],
      ["  of which FFmpeg (video, audio, concat+mux)", med((r) => r.ffmpegCpuMs) / 1000],
      ["  of which FFprobe (analyze, verification)", med((r) => r.ffprobeCpuMs) / 1000],
      ["  of which kernel + plugin processes (the rest)", med((r) => r.platformCpuMs - r.ffmpegCpuMs - r.ffprobeCpuMs) / 1000],
      ["raw replay (FFmpeg)", med((r) => r.rawCpuMs) / 1000],
    ],
  );
  log("");
  log(`idle CPU of the kernel's process tree (10 s before the rounds): ${fmt(idleCpuPct)}% of one core, i.e. ${fmt((idleCpuPct / 100) * medWall / 1000)} s of the platform's CPU over a ${fmt(medWall / 1000)} s job`);
  log("");
  log("## Ratios (target ≤ 1.05)");
  table(
    ["ratio", "value"],
    [
      ["platform wall ÷ raw replay wall (ratio of medians)", medWall / med((r) => r.rawMs)],
      ["platform wall ÷ raw replay wall (median of per-round ratios)", med((r) => r.platformMs / r.rawMs)],
      ["platform wall ÷ its own FFmpeg time (structural overhead, same run, load-insensitive)", med((r) => r.platformMs / r.byKind["FFmpeg encode/mux"]!)],
      ["platform FFmpeg time ÷ raw replay wall (same commands, inside vs outside)", med((r) => r.byKind["FFmpeg encode/mux"]!) / med((r) => r.rawMs)],
      ["platform CPU ÷ raw replay CPU", med((r) => r.platformCpuMs) / med((r) => r.rawCpuMs)],
      ["platform's FFmpeg CPU ÷ raw replay CPU (same commands)", med((r) => r.ffmpegCpuMs) / med((r) => r.rawCpuMs)],
      ...(single ? [["platform wall ÷ single ffmpeg command wall", medWall / single.wallMs] as [string, number], ["platform CPU ÷ single ffmpeg command CPU", med((r) => r.platformCpuMs) / single.cpuMs] as [string, number]] : []),
    ],
  );
});

/**
 * One ffmpeg doing the same work: the video call's filter graph and encoder options (without the chunk
 * seek and the part-only options), the audio call's encoder options, one faststart MP4.
 */
function singleCommand(calls: FfCall[], job: JobDetail, out: string): string[] {
  const inTask = (type: string) =>
    calls.find((c) => {
      const t = job.tasks.find((t) => t.type === type);
      return c.tool === "ffmpeg" && t && c.start >= ms(t.started_at) - 2 && c.end <= ms(t.finished_at) + 2;
    });
  const v = inTask("video")?.argv;
  const a = inTask("audio")?.argv;
  if (!v || !a) throw new Error("no video/audio call recorded");
  const input = v[v.indexOf("-i") + 1]!;
  const graph = v[v.indexOf("-filter_complex") + 1]!;
  const mapAt = v.indexOf("-map");
  const fAt = v.lastIndexOf("-f");
  const videoOpts: string[] = [];
  for (let i = mapAt; i < fAt; i++) {
    const t = v[i]!;
    if (t === "-an" || t === "-map_metadata" || t === "-map_chapters" || t === "-movie_timescale") {
      if (t !== "-an") i++;
      continue;
    }
    videoOpts.push(t);
  }
  const audioOpts = a.slice(a.indexOf("-c:a"), a.indexOf("-map_metadata"));
  return [FFMPEG, "-hide_banner", "-nostdin", "-y", "-i", input, "-filter_complex", graph, ...videoOpts, "-map", "0:a:0", ...audioOpts, "-map_metadata", "-1", "-movflags", "+faststart", "-f", "mp4", out];
}
