/**
 * ABR ladder against the physical limit: the built-in 4-rung H.264 HLS ladder (`hls_h264_ladder`: 1080p,
 * 720p, 480p, 360p) as ONE chunk on a generated 1080p 30 fps clip with audio, against ONE raw FFmpeg process
 * that decodes the source once, splits it to the same four scale chains, encodes the four rungs with the same
 * encoder options and the audio once, and writes the same deliverable (four HLS media playlists with MPEG-TS
 * segments carrying the rung's video and the audio).
 *
 *   platform : standalone kernel (embedded worker), SPLIT_MIN_DURATION=3600s (one chunk), WORKER_CONCURRENCY
 *              as given (default 1, the worker's default); wall = job created_at → finished_at (server clock,
 *              the upload is not included); CPU = the kernel's whole process tree (kernel, plugins, FFmpeg,
 *              FFprobe)
 *   raw      : ffmpeg -i src -filter_complex <the platform's split graph, verbatim>
 *                -map [v0] … -map [v3] -map 0:a:0 <each rung's encoder options as the platform ran them, as
 *                per-stream options (-b:v:2 …)> <the audio task's encoder options>
 *                -f tee "[select='v:0,a':f=hls:<the package task's HLS options>]rung0/index.m3u8|…"
 *              The tee muxer hands the one encoded audio stream to every rung's HLS muxer, as the platform's
 *              package step copies its one audio file into every rung.
 *
 * The graph, encoder, audio and HLS options are taken from the argv the platform actually ran (recorded by an
 * FFMPEG_PATH wrapper, lib.ts), so both sides use identical settings. Runs alternate within one process run
 * (platform, raw, platform, raw, …: the raw command needs one platform run's argv first), N rounds; medians of
 * wall and CPU and the ratio platform ÷ raw against the target ≤ 1.03, then where the platform's time goes.
 * `--separate` adds the older baseline: four separate raw runs, one per rung (decoding four times).
 *
 *   node_modules/.bin/bun bench/ladder.ts [--rounds 3] [--duration 30] [--concurrency 1] [--separate] [--dist /tmp/bench-dist]
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import {
  FFMPEG, Kernel, callsOfJob, distDir, ensureSource, ffWrappers, flag, fmt, jobPhases, log, loadSampler, main, median, ms, numArg, printMachine, sum, table, taskOfCall, tempDir,
  selfCpuByProcess, timed, treeCpuMs, type FfCall, type JobDetail,
} from "./lib.ts";

const ROUNDS = numArg("rounds", 3);
const DURATION = numArg("duration", 30);
const CONCURRENCY = numArg("concurrency", 1);
const SEPARATE = flag("separate");
const RUNGS = ["1080p_h264", "720p_h264", "480p_h264", "360p_h264"];
const TARGET = 1.03;

interface PlatformRun {
  wallMs: number;
  cpuMs: number;
  job: JobDetail;
  calls: FfCall[];
  /** Own CPU of each long-lived process of the kernel's tree over the job (kernel, plugin processes), ms. */
  processes: Record<string, number>;
}
interface RawRun {
  wallMs: number;
  cpuMs: number;
}

await main(async () => {
  printMachine();
  const dist = distDir();
  const src = await ensureSource({ width: 1920, height: 1080, fps: 30, duration_s: DURATION });
  const tiny = await ensureSource({ width: 320, height: 240, fps: 30, duration_s: 2 });
  const tmp = tempDir("ladder");
  const wrap = ffWrappers(tmp);

  // Each platform run gets its own kernel start (DATA_DIR kept between rounds), so no idle kernel competes
  // for the CPU while the raw process is measured.
  let urls: { src: string; tiny: string } | undefined;
  let profiles: string[] = RUNGS;
  const env = { FFMPEG_PATH: wrap.ffmpeg, FFPROBE_PATH: wrap.ffprobe, WORK_DIR: join(tmp, "work"), SPLIT_MIN_DURATION: "3600s", WORKER_CONCURRENCY: String(CONCURRENCY) };
  const runPlatform = async (): Promise<PlatformRun> => {
    const { kernel } = await Kernel.start({ dist, dataDir: join(tmp, "data"), env });
    try {
      if (!urls) {
        urls = { src: await kernel.upload(src, "src1080.mp4"), tiny: await kernel.upload(tiny, "tiny.mp4") };
        const ladders = (await kernel.api<{ ladders?: Record<string, string[]> }>("GET", "/v1/profiles")).ladders ?? {};
        const ladderId = Object.entries(ladders).find(([, ps]) => ps.join() === RUNGS.join())?.[0];
        profiles = ladderId ? [ladderId] : RUNGS;
      }
      const run = async (url: string): Promise<PlatformRun> => {
        const cpu0 = treeCpuMs(kernel.pid);
        const own0 = selfCpuByProcess(kernel.pid);
        const created = await kernel.api<{ id: string }>("POST", "/v1/jobs", { source_url: url, profiles, outputs: ["hls"] });
        // Polled once a second: each GET costs the kernel ~8 ms of CPU; wall time is from server timestamps.
        const { job } = await kernel.waitJob(created.id, { pollMs: 1000 });
        const cpuMs = treeCpuMs(kernel.pid) - cpu0;
        const processes: Record<string, number> = {};
        for (const [pid, { name, cpuMs: after }] of selfCpuByProcess(kernel.pid)) {
          const before = own0.get(pid);
          if (before && before.name === name) processes[name] = (processes[name] ?? 0) + after - before.cpuMs;
        }
        await kernel.api("DELETE", `/v1/jobs/${job.id}`).catch(() => undefined);
        return { wallMs: ms(job.finished_at) - ms(job.created_at), cpuMs, job, calls: callsOfJob(wrap.logDir, job), processes };
      };
      await run(urls.tiny); // warm-up (plugins started, caches filled), not counted
      return await run(urls.src);
    } finally {
      await kernel.stop();
    }
  };

  const load = loadSampler();
  const platform: PlatformRun[] = [];
  const raw: RawRun[] = [];
  const separate: Array<RawRun & { perRung: number[] }> = [];
  let one: string[] | undefined;
  let four: string[][] | undefined;
  const rawDir = join(tmp, "raw");
  const runRaw = async (): Promise<RawRun> => {
    rmSync(rawDir, { recursive: true, force: true });
    for (let i = 0; i < RUNGS.length; i++) mkdirSync(join(rawDir, String(i)), { recursive: true });
    const r = await timed(one!);
    checkRawOutput(rawDir);
    return { wallMs: r.wallMs, cpuMs: r.cpuMs };
  };
  const runSeparate = async () => {
    rmSync(rawDir, { recursive: true, force: true });
    const perRung: number[] = [];
    let cpu = 0;
    for (const argv of four!) {
      mkdirSync(join(rawDir, String(perRung.length)), { recursive: true });
      const r = await timed(argv);
      perRung.push(r.wallMs);
      cpu += r.cpuMs;
    }
    return { wallMs: sum(perRung), cpuMs: cpu, perRung };
  };
  for (let i = 0; i < ROUNDS; i++) {
    const p = await runPlatform();
    platform.push(p);
    if (!one) {
      one = rawOneProcess(p.job, p.calls, src, rawDir);
      if (SEPARATE) four = rawSeparate(p.job, p.calls, src, rawDir);
    }
    log(`  round ${i + 1}/${ROUNDS}: platform ${fmt(p.wallMs / 1000)} s (CPU ${fmt(p.cpuMs / 1000)} s)`);
    const r = await runRaw();
    raw.push(r);
    log(`  round ${i + 1}/${ROUNDS}: raw one process ${fmt(r.wallMs / 1000)} s (CPU ${fmt(r.cpuMs / 1000)} s)`);
    if (SEPARATE) {
      const s = await runSeparate();
      separate.push(s);
      log(`  round ${i + 1}/${ROUNDS}: raw 4 separate runs ${fmt(s.wallMs / 1000)} s (${s.perRung.map((x) => fmt(x / 1000)).join(" + ")})`);
    }
  }
  rmSync(rawDir, { recursive: true, force: true });
  const loadStats = load.stop();

  log("");
  log(`job: profiles ${JSON.stringify(profiles)}, outputs ["hls"], WORKER_CONCURRENCY=${CONCURRENCY}`);
  log("raw command (one process):");
  log(`  ${one!.map(shellQuote).join(" ")}`);
  log("");
  log(`## Ladder vs one raw FFmpeg process: 4-rung HLS, ${DURATION} s 1920x1080 30 fps + AAC (N=${ROUNDS}; load average mean ${fmt(loadStats.mean)}, max ${fmt(loadStats.max)})`);
  const stat = (xs: number[]) => [median(xs) / 1000, Math.min(...xs) / 1000, Math.max(...xs) / 1000];
  const medP = median(platform.map((r) => r.wallMs));
  const medR = median(raw.map((r) => r.wallMs));
  const cpuP = median(platform.map((r) => r.cpuMs));
  const cpuR = median(raw.map((r) => r.cpuMs));
  table(
    ["run", "wall s (median)", "min", "max", "CPU s (median)"],
    [
      [`platform, one chunk, ${CONCURRENCY} slot${CONCURRENCY > 1 ? "s" : ""}`, ...stat(platform.map((r) => r.wallMs)), cpuP / 1000],
      ["raw: one FFmpeg process (decode once, split, 4 encodes + audio once, tee → 4 HLS)", ...stat(raw.map((r) => r.wallMs)), cpuR / 1000],
      ...(SEPARATE ? [["raw: 4 separate FFmpeg runs (sequential)", ...stat(separate.map((r) => r.wallMs)), median(separate.map((r) => r.cpuMs)) / 1000]] : []),
    ],
  );
  log("");
  log(`## Ratios (target ≤ ${TARGET} for platform ÷ raw one process, wall)`);
  // Per round too: alternating runs see the same host load, so the paired ratios are steadier than the medians.
  const paired = platform.map((p, k) => p.wallMs / raw[k]!.wallMs);
  table(
    ["ratio", "value", "target", "met"],
    [
      ["platform ÷ raw one process (wall, medians)", medP / medR, `≤ ${TARGET}`, medP / medR <= TARGET ? "yes" : "NO"],
      ["platform ÷ raw one process (wall, median of the rounds' ratios)", median(paired), `≤ ${TARGET}`, median(paired) <= TARGET ? "yes" : "NO"],
      ["platform ÷ raw one process (CPU)", cpuP / cpuR, "", ""],
      ["platform's FFmpeg CPU ÷ raw one process (CPU)", median(platform.map((r) => jobPhases(r.job, r.calls).ffmpegCpuMs)) / cpuR, "", ""],
      ...(SEPARATE ? [["platform ÷ raw 4 separate runs (wall)", medP / median(separate.map((r) => r.wallMs)), "", ""]] : []),
    ],
  );
  log(`rounds' ratios: ${paired.map((x) => fmt(x, 3)).join(", ")}`);
  log("");
  log("## Where the platform's time goes (median ms)");
  const ph = platform.map((r) => jobPhases(r.job, r.calls));
  const phaseNames = [...new Set(ph.flatMap((x) => x.phases.map((p) => p.phase)))];
  table(
    ["phase", "ms", "% of wall"],
    phaseNames.map((name) => {
      const v = median(ph.map((x) => x.phases.find((q) => q.phase === name)?.ms ?? 0));
      return [name, v, `${fmt((100 * v) / medP, 1)}%`];
    }),
  );
  log("");
  table(
    ["kind", "ms", "% of wall"],
    Object.keys(ph[0]!.byKind).map((k) => {
      const v = median(ph.map((x) => x.byKind[k] ?? 0));
      return [k, v, `${fmt((100 * v) / medP, 1)}%`];
    }),
  );
  log(`platform wall − raw wall (median): ${fmt((medP - medR) / 1000)} s`);
  log("");
  // Per task: its wall time and how many FFmpeg/FFprobe processes it ran (phases above sum call durations,
  // which overlap if a task ever runs calls side by side; the task's own wall does not).
  const types = ["analyze", "video", "audio", "package"];
  const perTask = (r: PlatformRun, type: string) => {
    const tasks = r.job.tasks.filter((t) => t.type === type);
    const calls = r.calls.filter((c) => tasks.includes(taskOfCall(r.job, c)!));
    return { ms: sum(tasks.map((t) => ms(t.finished_at) - ms(t.started_at))), ffmpeg: calls.filter((c) => c.tool === "ffmpeg").length, ffprobe: calls.filter((c) => c.tool === "ffprobe").length };
  };
  table(
    ["task", "wall ms (median)", "% of wall", "FFmpeg runs", "FFprobe runs"],
    types.map((type) => {
      const xs = platform.map((r) => perTask(r, type));
      const v = median(xs.map((x) => x.ms));
      return [type, v, `${fmt((100 * v) / medP, 1)}%`, String(xs[0]!.ffmpeg), String(xs[0]!.ffprobe)];
    }),
  );
  log("");
  log("## Where the platform's CPU goes (median s)");
  const names = [...new Set(platform.flatMap((r) => Object.keys(r.processes)))];
  table(
    ["part", "CPU s"],
    [
      ["kernel process tree", cpuP / 1000],
      ["  of which FFmpeg", median(ph.map((x) => x.ffmpegCpuMs)) / 1000],
      ["  of which FFprobe (analyze, verification)", median(ph.map((x) => x.ffprobeCpuMs)) / 1000],
      ["  of which kernel + plugin processes", median(platform.map((r, k) => r.cpuMs - ph[k]!.ffmpegCpuMs - ph[k]!.ffprobeCpuMs)) / 1000],
      ...names.map((name) => [`    own CPU of ${name}`, median(platform.map((r) => r.processes[name] ?? 0)) / 1000] as [string, number]),
      ["raw one process (FFmpeg)", cpuR / 1000],
    ],
  );
});

/** The recorded FFmpeg calls of the one-chunk job: the video call, the audio call and the HLS segmenting calls. */
function recordedCalls(job: JobDetail, calls: FfCall[]) {
  const ff = calls.filter((c) => c.tool === "ffmpeg");
  const of = (type: string) => ff.filter((c) => taskOfCall(job, c)?.type === type);
  const video = of("video");
  const v = video[0]?.argv;
  const a = of("audio")[0]?.argv;
  const hls = of("package").filter((c) => c.argv.includes("hls"));
  if (video.length !== 1 || !v || !a || hls.length !== RUNGS.length) {
    throw new Error(`expected one video call, an audio call and ${RUNGS.length} HLS calls; got:\n${ff.map((c) => c.argv.slice(4, 14).join(" ")).join("\n")}`);
  }
  // The audio encoder options (codec, bitrate, channels, rate), without the audio task's container options.
  const audio = a.slice(a.indexOf("-c:a"), a.indexOf("-map_metadata"));
  return { v, audio, hls: hls.map((c) => c.argv) };
}

/** Option tokens of one rendition's output group of the video argv (`-map [v<i>]` … up to its output path). */
function renditionGroup(v: string[], i: number): string[] {
  const start = v.indexOf(`[v${i}]`) - 1;
  if (start < 0) throw new Error(`no output [v${i}] in the video call`);
  let end = v.indexOf("-map", start + 2);
  if (end < 0) end = v.length;
  return v.slice(start, end - 1); // up to (not including) the output path
}

/** Encoder option pairs of a group, without what only a part file needs (mapping, container, metadata). */
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

/** `-b:v 3000k` → `-b:v:2 3000k`, `-preset fast` → `-preset:v:2 fast`: the same option for video stream i only. */
export function perStream(options: string[], i: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < options.length; k += 2) {
    const name = options[k]!;
    if (!name.startsWith("-") || options[k + 1] === undefined) throw new Error(`not an option pair at ${k}: ${options.join(" ")}`);
    out.push(name.endsWith(":v") ? `${name}:${i}` : name.includes(":") ? `${name}` : `${name}:v:${i}`, options[k + 1]!);
  }
  return out;
}

/** The package task's HLS muxer options (`-hls_time 6 …`) as tee slave options (`hls_time=6:…`). */
function teeHlsOptions(h: string[]): string {
  const opts = h.slice(h.indexOf("hls") + 1, h.indexOf("-hls_segment_filename"));
  const pairs: string[] = [];
  for (let k = 0; k < opts.length; k += 2) pairs.push(`${opts[k]!.slice(1)}=${opts[k + 1]!}`);
  return pairs.join(":");
}

/** ONE raw command: decode once, the platform's split graph verbatim, four encodes + the audio once, tee → four HLS. */
function rawOneProcess(job: JobDetail, calls: FfCall[], src: string, dir: string): string[] {
  const { v, audio, hls } = recordedCalls(job, calls);
  const graph = v[v.indexOf("-filter_complex") + 1]!;
  const maps: string[] = [];
  const options: string[] = [];
  RUNGS.forEach((_, i) => {
    maps.push("-map", `[v${i}]`);
    options.push(...perStream(encoderOptions(renditionGroup(v, i)), i));
  });
  const slaves = hls.map((h, i) => {
    const pattern = basename(h[h.indexOf("-hls_segment_filename") + 1]!);
    const out = join(dir, String(i));
    return `[select=\\'v:${i},a\\':f=hls:${teeHlsOptions(h)}:hls_segment_filename=${join(out, pattern)}]${join(out, "index.m3u8")}`;
  });
  return [FFMPEG, "-hide_banner", "-nostdin", "-y", "-i", src, "-filter_complex", graph, ...maps, "-map", "0:a:0", ...options, ...audio, "-map_metadata", "-1", "-map_chapters", "-1", "-f", "tee", slaves.join("|")];
}

/** The older baseline: one command per rung, each decoding the source and encoding the audio again. */
function rawSeparate(job: JobDetail, calls: FfCall[], src: string, dir: string): string[][] {
  const { v, audio, hls } = recordedCalls(job, calls);
  const graph = v[v.indexOf("-filter_complex") + 1]!;
  return RUNGS.map((_, i) => {
    // "[s<i>]<chain>[v<i>]" in a split graph.
    const m = graph.match(new RegExp(`\\[s${i}\\]([^;\\[]+)\\[v${i}\\]`));
    if (!m) throw new Error(`no branch ${i} in ${graph}`);
    const h = hls[i]!;
    const hlsOpts = h.slice(h.indexOf("hls") + 1, h.indexOf("-hls_segment_filename"));
    const out = join(dir, String(i));
    return [FFMPEG, "-hide_banner", "-nostdin", "-y", "-i", src, "-filter_complex", `[0:v]setpts=PTS-STARTPTS,${m[1]}[v0]`, "-map", "[v0]", ...encoderOptions(renditionGroup(v, i)), "-map", "0:a:0", ...audio,
      "-f", "hls", ...hlsOpts, "-hls_segment_filename", join(out, basename(h[h.indexOf("-hls_segment_filename") + 1]!)), join(out, "index.m3u8")];
  });
}

/** The raw run wrote the deliverable: four complete VOD playlists whose segments exist. */
function checkRawOutput(dir: string): void {
  for (let i = 0; i < RUNGS.length; i++) {
    const playlist = join(dir, String(i), "index.m3u8");
    const text = existsSync(playlist) ? readFileSync(playlist, "utf8") : "";
    const segments = text.split("\n").filter((l) => l.endsWith(".ts"));
    if (!text.includes("#EXT-X-ENDLIST") || segments.length === 0 || !segments.every((s) => existsSync(join(dir, String(i), s)))) {
      throw new Error(`raw run: rung ${i} has no complete playlist in ${playlist}`);
    }
  }
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}
