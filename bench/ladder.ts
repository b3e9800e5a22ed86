/**
 * ABR ladder: a 4-rung HLS job (the built-in H.264 ladder: 1080p, 720p, 480p, 360p) on a generated 1080p
 * 30 fps clip with audio, against four separate raw FFmpeg runs that each encode one rung from the
 * source with the same encoder settings and write the same deliverable (HLS with audio).
 *
 *   platform, one chunk  : SPLIT_MIN_DURATION=3600s, WORKER_CONCURRENCY=1 (one decode, split + scale)
 *   platform, chunked    : WORKER_CONCURRENCY=2, SPLIT_MIN_DURATION=20s (two chunks on two slots; audio
 *                          in parallel)
 *   raw                  : for each rung, ffmpeg -i src -filter_complex <the platform's scale chain of
 *                          that rung> <the platform's encoder options of that rung> <its audio options>
 *                          -f hls <its HLS options>; run one after another
 *
 * Encoder options, scale chains, audio and HLS options are taken from the argv the platform actually ran
 * (recorded by an FFMPEG_PATH wrapper), so both sides use identical settings.
 *
 *   node_modules/.bin/bun bench/ladder.ts [--rounds 1] [--duration 30] [--dist /tmp/bench-dist]
 */
import { mkdirSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import {
  FFMPEG, Kernel, callsOfJob, distDir, ensureSource, ffWrappers, fmt, jobPhases, log, loadSampler, main, median, ms, numArg, printMachine, sum, table, taskOfCall, tempDir,
  timed, treeCpuMs, type FfCall, type JobDetail,
} from "./lib.ts";

const ROUNDS = numArg("rounds", 1); // ~5 min a round on 2 cores; the recorded figures use --rounds 2
const DURATION = numArg("duration", 30);
const RUNGS = ["1080p_h264", "720p_h264", "480p_h264", "360p_h264"];

interface PlatformRun {
  wallMs: number;
  cpuMs: number;
  job: JobDetail;
  calls: FfCall[];
}

await main(async () => {
  printMachine();
  const dist = distDir();
  const src = await ensureSource({ width: 1920, height: 1080, fps: 30, duration_s: DURATION });
  const tiny = await ensureSource({ width: 320, height: 240, fps: 30, duration_s: 2 });
  const tmp = tempDir("ladder");
  const wrap = ffWrappers(tmp);

  // Each platform run gets its own kernel start (DATA_DIR kept between rounds), so no idle kernel of the
  // other configuration competes for the CPU while something is measured.
  const urls = new Map<string, { src: string; tiny: string }>();
  let profiles: string[] = RUNGS;
  const runPlatform = async (name: string, env: Record<string, string>): Promise<PlatformRun> => {
    const workDir = join(tmp, `work-${name}`);
    const { kernel } = await Kernel.start({ dist, dataDir: join(tmp, `data-${name}`), env: { FFMPEG_PATH: wrap.ffmpeg, FFPROBE_PATH: wrap.ffprobe, WORK_DIR: workDir, ...env } });
    try {
      let u = urls.get(name);
      if (!u) {
        u = { src: await kernel.upload(src, "src1080.mp4"), tiny: await kernel.upload(tiny, "tiny.mp4") };
        urls.set(name, u);
        const ladders = (await kernel.api<{ ladders?: Record<string, string[]> }>("GET", "/v1/profiles")).ladders ?? {};
        const ladderId = Object.entries(ladders).find(([, ps]) => ps.join() === RUNGS.join())?.[0];
        profiles = ladderId ? [ladderId] : RUNGS;
      }
      const run = async (url: string): Promise<PlatformRun> => {
        const cpu0 = treeCpuMs(kernel.pid);
        const created = await kernel.api<{ id: string }>("POST", "/v1/jobs", { source_url: url, profiles, outputs: ["hls"] });
        // Polled once a second: each GET costs the kernel ~8 ms of CPU; wall time is from server timestamps.
        const { job } = await kernel.waitJob(created.id, { pollMs: 1000 });
        const cpuMs = treeCpuMs(kernel.pid) - cpu0;
        await kernel.api("DELETE", `/v1/jobs/${job.id}`).catch(() => undefined);
        return { wallMs: ms(job.finished_at) - ms(job.created_at), cpuMs, job, calls: callsOfJob(wrap.logDir, job) };
      };
      await run(u.tiny); // warm-up, not counted
      return await run(u.src);
    } finally {
      await kernel.stop();
    }
  };
  const ONE = { SPLIT_MIN_DURATION: "3600s", WORKER_CONCURRENCY: "1" };
  const CHUNKED = { SPLIT_MIN_DURATION: "20s", CHUNK_MIN_DURATION: "10s", WORKER_CONCURRENCY: "2" };

  const load = loadSampler();
  const res = { one: [] as PlatformRun[], chunked: [] as PlatformRun[], raw: [] as Array<{ wallMs: number; cpuMs: number; perRung: number[] }> };
  let rawArgv: string[][] | undefined;
  const rawDir = join(tmp, "raw");
  const runRaw = async () => {
    rmSync(rawDir, { recursive: true, force: true });
    const perRung: number[] = [];
    let cpu = 0;
    for (const argv of rawArgv!) {
      mkdirSync(join(rawDir, String(perRung.length)), { recursive: true });
      const r = await timed(argv);
      perRung.push(r.wallMs);
      cpu += r.cpuMs;
    }
    rmSync(rawDir, { recursive: true, force: true });
    return { wallMs: sum(perRung), cpuMs: cpu, perRung };
  };
  for (let i = 0; i < ROUNDS; i++) {
    const order: Array<"one" | "raw" | "chunked"> = i % 2 === 0 ? ["one", "raw", "chunked"] : ["raw", "chunked", "one"];
    for (const what of order) {
      if (what === "one") {
        const r = await runPlatform("one", ONE);
        res.one.push(r);
        rawArgv ??= rawCommands(r.job, r.calls, src, rawDir);
        log(`  round ${i + 1}/${ROUNDS}: platform one chunk ${fmt(r.wallMs / 1000)} s`);
      } else if (what === "chunked") {
        const r = await runPlatform("chunked", CHUNKED);
        res.chunked.push(r);
        log(`  round ${i + 1}/${ROUNDS}: platform chunked (${r.job.tasks.filter((t) => t.type === "video").length} video tasks, 2 slots) ${fmt(r.wallMs / 1000)} s`);
      } else {
        const r = await runRaw();
        res.raw.push(r);
        log(`  round ${i + 1}/${ROUNDS}: raw 4 runs ${fmt(r.wallMs / 1000)} s (${r.perRung.map((x) => fmt(x / 1000)).join(" + ")})`);
      }
    }
  }
  const loadStats = load.stop();
  log(`job profiles: ${JSON.stringify(profiles)}, outputs ["hls"]`);

  log("");
  log("raw command of rung 1 (the others differ in scale and encoder options):");
  log(`  ${rawArgv![0]!.join(" ")}`);
  log("");
  log(`## Ladder: 4-rung HLS, ${DURATION} s 1920x1080 30 fps + AAC (N=${ROUNDS}; load average mean ${fmt(loadStats.mean)}, max ${fmt(loadStats.max)})`);
  const stat = (xs: number[]) => [median(xs) / 1000, Math.min(...xs) / 1000, Math.max(...xs) / 1000];
  table(
    ["run", "wall s (median)", "min", "max", "CPU s (median)"],
    [
      ["platform, one chunk, 1 slot", ...stat(res.one.map((r) => r.wallMs)), median(res.one.map((r) => r.cpuMs)) / 1000],
      ["platform, chunked, 2 slots", ...stat(res.chunked.map((r) => r.wallMs)), median(res.chunked.map((r) => r.cpuMs)) / 1000],
      ["raw: 4 separate ffmpeg runs (sequential)", ...stat(res.raw.map((r) => r.wallMs)), median(res.raw.map((r) => r.cpuMs)) / 1000],
    ],
  );
  log("raw per rung (median wall s): " + RUNGS.map((id, k) => `${id} ${fmt(median(res.raw.map((r) => r.perRung[k]!)) / 1000)}`).join(", "));
  log("");
  log("## Where the one-chunk job's time goes (median ms)");
  const ph = res.one.map((r) => jobPhases(r.job, r.calls));
  const medOne = median(res.one.map((r) => r.wallMs));
  table(
    ["phase", "ms", "% of wall"],
    ph[0]!.phases.map((p) => {
      const v = median(ph.map((x) => x.phases.find((q) => q.phase === p.phase)?.ms ?? 0));
      return [p.phase, v, `${fmt((100 * v) / medOne, 1)}%`];
    }),
  );
  log("");
  table(
    ["kind", "ms", "% of wall"],
    Object.keys(ph[0]!.byKind).map((k) => {
      const v = median(ph.map((x) => x.byKind[k] ?? 0));
      return [k, v, `${fmt((100 * v) / medOne, 1)}%`];
    }),
  );
  log("");
  log("## Where the platform's CPU goes (median s)");
  const cpuRows = (label: string, runs: PlatformRun[]) => {
    const p = runs.map((r) => jobPhases(r.job, r.calls));
    const tree = median(runs.map((r) => r.cpuMs));
    const ffm = median(p.map((x) => x.ffmpegCpuMs));
    const ffp = median(p.map((x) => x.ffprobeCpuMs));
    return [
      [`${label}: kernel process tree`, tree / 1000],
      [`${label}:   of which FFmpeg`, ffm / 1000],
      [`${label}:   of which FFprobe (analyze, verification)`, ffp / 1000],
      [`${label}:   of which kernel + plugin processes`, median(runs.map((r, k) => r.cpuMs - p[k]!.ffmpegCpuMs - p[k]!.ffprobeCpuMs)) / 1000],
    ] as Array<[string, number]>;
  };
  table(["part", "CPU s"], [...cpuRows("one chunk", res.one), ...cpuRows("chunked", res.chunked), ["raw 4 runs (FFmpeg)", median(res.raw.map((r) => r.cpuMs)) / 1000]]);
  log("");
  log("## Chunked job timeline (last round; s from job creation)");
  const last = res.chunked[res.chunked.length - 1]!;
  const c0 = ms(last.job.created_at);
  table(
    ["task", "start", "end", "s"],
    [...last.job.tasks]
      .sort((a, b) => ms(a.started_at) - ms(b.started_at))
      .map((t) => [`${t.type} ${t.seq}`, (ms(t.started_at) - c0) / 1000, (ms(t.finished_at) - c0) / 1000, (ms(t.finished_at) - ms(t.started_at)) / 1000]),
  );
  log("");
  const medRaw = median(res.raw.map((r) => r.wallMs));
  const medChunked = median(res.chunked.map((r) => r.wallMs));
  log("## Ratios (target ≤ 0.8 for one chunk ÷ raw)");
  table(
    ["ratio", "value"],
    [
      ["platform one chunk ÷ raw 4 runs (wall)", medOne / medRaw],
      ["platform one chunk ÷ raw 4 runs (CPU)", median(res.one.map((r) => r.cpuMs)) / median(res.raw.map((r) => r.cpuMs))],
      ["platform one chunk, FFmpeg CPU only ÷ raw 4 runs (CPU): decode once", median(res.one.map((r) => jobPhases(r.job, r.calls).ffmpegCpuMs)) / median(res.raw.map((r) => r.cpuMs))],
      ["platform chunked (2 slots) ÷ raw 4 runs (wall)", medChunked / medRaw],
      ["platform chunked (2 slots) ÷ raw 4 runs (CPU)", median(res.chunked.map((r) => r.cpuMs)) / median(res.raw.map((r) => r.cpuMs))],
      ["platform chunked ÷ platform one chunk (wall)", medChunked / medOne],
      ["platform one chunk wall ÷ its own FFmpeg time (structural overhead)", median(res.one.map((r) => { const p = jobPhases(r.job, r.calls); return p.wallMs / p.byKind["FFmpeg encode/mux"]!; }))],
    ],
  );
});

/** Option tokens of one output group of an argv, without what only a chunk part needs. */
function encoderOptions(tokens: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === "-an") continue;
    if (t === "-map_metadata" || t === "-map_chapters" || t === "-movie_timescale" || t === "-f" || t === "-map") {
      i++;
      continue;
    }
    out.push(t);
  }
  return out;
}

/**
 * Four commands, one per rung, from the one-chunk job's recorded argv: the rung's scale chain and encoder
 * options from the video call, the audio options from the audio call, the HLS muxer options from the
 * package call of that rung.
 */
function rawCommands(job: JobDetail, calls: FfCall[], src: string, dir: string): string[][] {
  const ff = calls.filter((c) => c.tool === "ffmpeg");
  const of = (type: string) => ff.filter((c) => taskOfCall(job, c)?.type === type);
  const v = of("video")[0]?.argv;
  const a = of("audio")[0]?.argv;
  const hls = of("package").filter((c) => c.argv.includes("hls"));
  if (!v || !a || hls.length !== RUNGS.length) throw new Error(`unexpected calls: ${ff.map((c) => c.argv.slice(4, 12).join(" ")).join("\n")}`);
  const graph = v[v.indexOf("-filter_complex") + 1]!;
  const audioOpts = a.slice(a.indexOf("-c:a"), a.indexOf("-map_metadata"));
  return RUNGS.map((_, i) => {
    // "[s<i>]<chain>[v<i>]" in a split graph, or "[0:v]setpts=…,<chain>[v0]" for a single rendition.
    const m = graph.match(new RegExp(`\\[s${i}\\]([^;\\[]+)\\[v${i}\\]`));
    if (!m) throw new Error(`no branch ${i} in ${graph}`);
    const chain = `[0:v]setpts=PTS-STARTPTS,${m[1]}[v0]`;
    const mapAt = v.indexOf(`[v${i}]`) - 1;
    let end = v.indexOf("-map", mapAt + 2);
    if (end < 0) end = v.length;
    const group = v.slice(mapAt, end - 1); // up to (not including) the output path
    const h = hls[i]!.argv;
    const hlsOpts = h.slice(h.indexOf("hls") + 1, h.indexOf("-hls_segment_filename"));
    const pattern = basename(h[h.indexOf("-hls_segment_filename") + 1]!);
    const out = join(dir, String(i));
    return [FFMPEG, "-hide_banner", "-nostdin", "-y", "-i", src, "-filter_complex", chain, "-map", "[v0]", ...encoderOptions(group), "-map", "0:a:0", ...audioOpts, "-f", "hls", ...hlsOpts, "-hls_segment_filename", join(out, pattern), join(out, "index.m3u8")];
  });
}
