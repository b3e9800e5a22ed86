/**
 * Running one FFmpeg command through the encoder plugin for a task: progress forwarded, cancellation via
 * the task's signal (the plugin stops FFmpeg: SIGTERM, then SIGKILL), a timeout from the task's deadline, and
 * a failed run turned into a TaskFailure carrying argv, exit code/signal and the stderr tail.
 */
import type { TranscodeProgress, TranscodeResult } from "../../plugin-runtime/pillars.ts";
import type { TaskContext } from "../executor.ts";
import { TaskFailure } from "../failures.ts";
import { guardInputs } from "../../media/input-policy.ts";
import { encoder } from "./io.ts";

/**
 * `sources`: the inputs of this run that are the job's source (video and audio read it; packaging reads only
 * our own files, so []). A failure blames the source only when FFmpeg's evidence is about one of them.
 */
export async function runFfmpeg(ctx: TaskContext, what: string, args: string[], opts: { durationS?: number; progressSpan?: [number, number]; sources: readonly string[] }): Promise<TranscodeResult> {
  const enc = await encoder(ctx.plugins);
  const timeoutMs = Math.max(60_000, ctx.deadlineMs - Date.now() - 5_000);
  const [from, to] = opts.progressSpan ?? [0, 100];
  const run = ctx.ffmpegStarted?.(); // the worker's FFmpeg process count and fps (src/worker/metrics.ts)
  const result = await enc.call<TranscodeResult>(
    "transcode",
    // FFmpeg opens only the inputs it is given: no playlist entries, no redirects (media/input-policy.ts).
    { args: guardInputs(args), duration_s: opts.durationS, timeout_ms: timeoutMs },
    {
      signal: ctx.signal,
      timeoutMs: timeoutMs + 30_000,
      onProgress: (p) => {
        const pr = p as TranscodeProgress;
        run?.progress(pr);
        ctx.progress(from + ((to - from) * pr.percent) / 100, pr.speed);
      },
    },
  ).finally(() => run?.end());
  ctx.commands.push(result.argv);
  if (!result.ok) throw TaskFailure.fromTranscode(what, result, undefined, opts.sources);
  return result;
}

/** FFprobe JSON of a local file (streams + format) through the encoder plugin. */
export async function probeFile(ctx: TaskContext, path: string): Promise<{ format: Record<string, unknown>; streams: Array<Record<string, unknown>> }> {
  const enc = await encoder(ctx.plugins);
  return enc.call("probe", { input: path, keyframes: false, timeout_ms: 120_000 }, { signal: ctx.signal, timeoutMs: 130_000 });
}
