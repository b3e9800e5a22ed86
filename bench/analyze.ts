/**
 * Analyze: the keyframe index the analyze step builds (ffprobe packet flags, no decoding), on long
 * generated sources, against the media duration and against a full decode of the same file.
 *
 *   index        : ffprobe -v error -select_streams v:0 -show_entries packet=pts_time,flags -of csv=p=0 SRC
 *                  (exactly src/media/probe.ts keyframeIndexArgs)
 *   streams probe: ffprobe -v error -print_format json -show_format -show_streams SRC (the other half of
 *                  the analyze step)
 *   full decode  : ffmpeg -i SRC -f null -   (baseline, same process tree, same page cache)
 *
 * Sources: 10 min 640x360 30 fps and 2 min 1920x1080 30 fps (H.264 veryfast, 2 s GOP, AAC), generated once
 * and cached; both are in the page cache when measured, so these are CPU-bound figures, not disk reads.
 *
 *   node_modules/.bin/bun bench/analyze.ts [--runs 5] [--decode-runs 3]
 */
import { FFMPEG, FFPROBE, ensureSource, fmt, log, loadSampler, main, max, median, min, numArg, printMachine, table, timed } from "./lib.ts";

const RUNS = numArg("runs", 5);
const DECODE_RUNS = numArg("decode-runs", 3);

const SOURCES = [
  { width: 640, height: 360, fps: 30, duration_s: 600 },
  { width: 1920, height: 1080, fps: 30, duration_s: 120 },
];

await main(async () => {
  printMachine();
  const paths = [];
  for (const s of SOURCES) paths.push(await ensureSource(s));
  const load = loadSampler();
  const rows: Array<Array<string | number>> = [];
  const ratios: Array<[string, number]> = [];
  for (const [k, s] of SOURCES.entries()) {
    const src = paths[k]!;
    const label = `${s.duration_s / 60} min ${s.width}x${s.height}`;
    // Warm the page cache so the first measured run does not pay the disk.
    await timed(["cat", src]);
    const index: number[] = [];
    const probe: number[] = [];
    let out = "";
    for (let i = 0; i < RUNS; i++) {
      const r = await timed([FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", src], { stdout: true });
      index.push(r.wallMs);
      out = r.stdout;
      probe.push((await timed([FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", src])).wallMs);
    }
    const lines = out.trim().split("\n");
    const keyframes = lines.filter((l) => l.split(",")[1]?.includes("K")).length;
    const decode: number[] = [];
    for (let i = 0; i < DECODE_RUNS; i++) decode.push((await timed([FFMPEG, "-hide_banner", "-nostdin", "-i", src, "-f", "null", "-"])).wallMs);
    log(`${label}: ${lines.length} packets, ${keyframes} keyframes; index ${index.map((x) => fmt(x)).join(", ")} ms; decode ${decode.map((x) => fmt(x)).join(", ")} ms`);
    rows.push([`${label}: keyframe index (N=${RUNS})`, median(index), min(index), max(index)]);
    rows.push([`${label}: streams/format probe (N=${RUNS})`, median(probe), min(probe), max(probe)]);
    rows.push([`${label}: full decode, baseline (N=${DECODE_RUNS})`, median(decode), min(decode), max(decode)]);
    ratios.push([`${label}: index ÷ media duration`, median(index) / (s.duration_s * 1000)]);
    ratios.push([`${label}: (index + streams probe) ÷ media duration`, (median(index) + median(probe)) / (s.duration_s * 1000)]);
    ratios.push([`${label}: index ÷ full decode`, median(index) / median(decode)]);
    ratios.push([`${label}: media seconds indexed per wall second`, (s.duration_s * 1000) / median(index)]);
  }
  const l = load.stop();
  log("");
  log(`## Analyze: keyframe index vs duration and full decode (ms; load average mean ${fmt(l.mean)}, max ${fmt(l.max)})`);
  table(["what", "median", "min", "max"], rows);
  log("");
  log("## Ratios");
  table(["ratio", "value"], ratios.map(([k, v]) => [k, v < 0.01 ? v.toExponential(2) : v]));
});
