/**
 * Dispatch latency in standalone mode (in-process bus, embedded worker with one slot): ~20 tiny jobs
 * (2 s 160x120 clips with audio), one at a time so no job waits behind another.
 *
 *   submit → analyze  : analyze task started_at − job created_at (the lease of the first task)
 *   plan + dispatch   : first video task started_at − analyze task finished_at (excludes analyze)
 *   … and the same two measured to the actual exec of FFprobe/FFmpeg (FFMPEG_PATH/FFPROBE_PATH wrapper
 *   timestamps; includes ~2 ms of bash start of the wrapper)
 *
 * Baselines in the same run: spawning `ffprobe -version` from this process (the irreducible cost of
 * starting an FFmpeg binary) and a GET /v1/health round trip.
 *
 *   node_modules/.bin/bun bench/dispatch.ts [--jobs 20]
 */
import { join } from "node:path";
import {
  FFPROBE, Kernel, callsOfJob, distDir, ensureSource, ffWrappers, fmt, log, loadSampler, main, max, median, min, ms, numArg, percentile, printMachine, table, taskOfCall, tempDir, timed,
  type JobDetail,
} from "./lib.ts";

const JOBS = numArg("jobs", 20);

await main(async () => {
  printMachine();
  const dist = distDir();
  const clip = await ensureSource({ width: 160, height: 120, fps: 30, duration_s: 2 });
  const tmp = tempDir("dispatch");
  const wrap = ffWrappers(tmp);
  const { kernel } = await Kernel.start({ dist, dataDir: join(tmp, "data"), env: { FFMPEG_PATH: wrap.ffmpeg, FFPROBE_PATH: wrap.ffprobe, WORK_DIR: join(tmp, "work") } });
  const url = await kernel.upload(clip, "tiny.mp4");
  const submit = async () => {
    const t0 = performance.now();
    const created = await kernel.api<{ id: string }>("POST", "/v1/jobs", { source_url: url, profiles: ["360p_h264"], outputs: ["mp4"] });
    const postMs = performance.now() - t0;
    const { job } = await kernel.waitJob(created.id, { pollMs: 500 });
    return { job, postMs };
  };
  await submit(); // warm-up
  await Bun.sleep(2000);

  const load = loadSampler();
  const m = { toAnalyze: [] as number[], toVideo: [] as number[], execProbe: [] as number[], execVideo: [] as number[], toAudio: [] as number[], toPackage: [] as number[], post: [] as number[], total: [] as number[] };
  for (let i = 0; i < JOBS; i++) {
    const { job, postMs } = await submit();
    const t = (type: string) => job.tasks.filter((x) => x.type === type).sort((a, b) => ms(a.started_at) - ms(b.started_at));
    const analyze = t("analyze")[0]!;
    const video = t("video")[0]!;
    const created = ms(job.created_at);
    m.toAnalyze.push(ms(analyze.started_at) - created);
    m.toVideo.push(ms(video.started_at) - ms(analyze.finished_at));
    m.post.push(postMs);
    m.total.push(ms(job.finished_at) - created);
    // The other hand-offs of the one-slot pipeline (video → audio → package), for context.
    const audio = t("audio")[0];
    const pkg = t("package")[0]!;
    if (audio) m.toAudio.push(ms(audio.started_at) - ms(video.finished_at));
    m.toPackage.push(ms(pkg.started_at) - Math.max(...job.tasks.filter((x) => x.type !== "package").map((x) => ms(x.finished_at))));
    const calls = callsOfJob(wrap.logDir, job);
    const firstOf = (j: JobDetail, type: string, tool: string) => calls.find((c) => c.tool === tool && taskOfCall(j, c)?.type === type);
    const probeCall = firstOf(job, "analyze", "ffprobe");
    const videoCall = firstOf(job, "video", "ffmpeg");
    if (probeCall) m.execProbe.push(probeCall.start - created);
    if (videoCall) m.execVideo.push(videoCall.start - ms(analyze.finished_at));
    await kernel.api("DELETE", `/v1/jobs/${job.id}`).catch(() => undefined);
  }
  const l = load.stop();

  const spawn: number[] = [];
  for (let i = 0; i < JOBS; i++) spawn.push((await timed([FFPROBE, "-version"])).wallMs);
  const health: number[] = [];
  for (let i = 0; i < JOBS; i++) {
    const t0 = performance.now();
    await (await fetch(`${kernel.url}/v1/health`)).arrayBuffer();
    health.push(performance.now() - t0);
  }
  await kernel.stop();

  const row = (name: string, xs: number[]) => [name, percentile(xs, 50), percentile(xs, 99), min(xs), max(xs)];
  log("");
  log(`## Dispatch latency, standalone, ${JOBS} jobs one at a time (ms; p99 of ${JOBS} samples = the maximum; load average mean ${fmt(l.mean)}, max ${fmt(l.max)})`);
  table(
    ["interval", "p50", "p99", "min", "max"],
    [
      row("job created → analyze task leased (API)", m.toAnalyze),
      row("job created → ffprobe exec (wrapper)", m.execProbe),
      row("analyze finished → first video task leased (API)", m.toVideo),
      row("analyze finished → video ffmpeg exec (wrapper)", m.execVideo),
      row("video finished → audio task leased (API)", m.toAudio),
      row("last part finished → package task leased (API)", m.toPackage),
      row("POST /v1/jobs round trip (client)", m.post),
      row("whole tiny job: created → completed", m.total),
      row("baseline: spawn ffprobe -version", spawn),
      row("baseline: GET /v1/health round trip", health),
    ],
  );
  log("");
  log("## Ratios");
  const sp = median(spawn);
  table(
    ["ratio", "value"],
    [
      ["p50 (analyze finished → video ffmpeg exec) ÷ spawning ffprobe -version", percentile(m.execVideo, 50) / sp],
      ["p50 (job created → ffprobe exec) ÷ spawning ffprobe -version", percentile(m.execProbe, 50) / sp],
      ["p99 ÷ p50, analyze finished → video task leased", percentile(m.toVideo, 99) / percentile(m.toVideo, 50)],
    ],
  );
});
