/**
 * Replaying a job's FFmpeg work without the platform: the exact argv the encoder plugin ran (recorded by
 * the FFMPEG_PATH wrapper of lib.ts), with the worker's temp paths moved into a replay directory and the
 * intermediate hand-offs (parts and audio that went through storage) wired directly.
 */
import { mkdirSync, symlinkSync, writeFileSync, existsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { FFMPEG, type FfCall, type JobDetail, taskOfCall, timed } from "./lib.ts";

export interface ReplayStep {
  kind: string;
  argv: string[];
}

/** Task directory of a call: WORK_DIR/<task dir>/…, found from any argument under WORK_DIR. */
function taskDirOf(c: FfCall, workDir: string): string {
  for (const a of c.argv) {
    if (a.startsWith(`${workDir}/`)) return join(workDir, a.slice(workDir.length + 1).split("/")[0]!);
  }
  throw new Error(`call has no path under ${workDir}: ${c.argv.join(" ")}`);
}

const ssOf = (argv: string[]) => {
  const i = argv.indexOf("-ss");
  return i >= 0 ? Number(argv[i + 1]) : 0;
};

/**
 * Steps in the order the platform ran them with one slot: video chunks (by start), audio, then the
 * package task's FFmpeg calls (concat + mux per rendition, HLS segmenting, thumbnails). FFprobe calls
 * (analyze, verification) are not FFmpeg work and are left out.
 */
export function buildReplay(job: JobDetail, calls: FfCall[], workDir: string, out: string): ReplayStep[] {
  const ff = calls.filter((c) => c.tool === "ffmpeg").map((c) => ({ c, type: taskOfCall(job, c)?.type }));
  const video = ff.filter((x) => x.type === "video").sort((a, b) => ssOf(a.c.argv) - ssOf(b.c.argv));
  const audio = ff.filter((x) => x.type === "audio");
  const pkg = ff.filter((x) => x.type === "package");
  const steps: ReplayStep[] = [];
  const remap = (c: FfCall, to: string) => {
    const from = taskDirOf(c, workDir);
    return c.argv.map((a) => {
      if (!a.startsWith(`${from}/`)) return a;
      const p = join(to, a.slice(from.length + 1));
      mkdirSync(dirname(p), { recursive: true });
      return p;
    });
  };

  const partsByRendition: string[][] = [];
  video.forEach(({ c }, n) => {
    const argv = remap(c, join(out, `v${n}`));
    // Rendition outputs in order: every "-f <fmt> <path>" pair after the filter graph.
    const outs = argv.filter((a, i) => i > 0 && argv[i - 2] === "-f" && a.startsWith(out));
    outs.forEach((p, k) => (partsByRendition[k] ??= []).push(p));
    steps.push({ kind: `video chunk ${n}`, argv });
  });
  const audioOut = new Map<string, string>();
  audio.forEach(({ c }, n) => {
    const argv = remap(c, join(out, `a${n}`));
    const last = argv[argv.length - 1]!;
    audioOut.set(basename(last), last);
    steps.push({ kind: "audio", argv });
  });

  const p = join(out, "p");
  mkdirSync(p, { recursive: true });
  // The packager downloads the audio into its own dir under the same name: link it there.
  for (const [name, path] of audioOut) if (!existsSync(join(p, name))) symlinkSync(path, join(p, name));
  let mux = 0;
  for (const { c } of pkg) {
    const argv = remap(c, p);
    if (c.argv.includes("concat")) {
      const i = argv.indexOf("-i");
      const list = argv[i + 1]!;
      const parts = partsByRendition[mux++];
      if (!parts) throw new Error("more concat calls than video renditions");
      writeFileSync(list, `ffconcat version 1.0\n${parts.map((x) => `file '${x}'`).join("\n")}\n`);
      steps.push({ kind: "package: concat + mux", argv });
    } else {
      steps.push({ kind: c.argv.includes("hls") ? "package: HLS" : "package: other", argv });
    }
  }
  return steps;
}

/** Runs the steps one after another with /usr/bin/ffmpeg; wall and CPU per step. */
export async function runReplay(steps: ReplayStep[]): Promise<Array<{ kind: string; wallMs: number; cpuMs: number }>> {
  const out = [];
  for (const s of steps) {
    const r = await timed([FFMPEG, ...s.argv]);
    out.push({ kind: s.kind, wallMs: r.wallMs, cpuMs: r.cpuMs });
  }
  return out;
}
