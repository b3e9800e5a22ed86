/**
 * live: one live session's HLS ladder (issue 15). One FFmpeg, run through the encoder plugin like every
 * task's, pulls the session's HTTP-FLV from the ingesting kernel, decodes once, encodes every rung and PUTs
 * each rung's segments and playlist back to the kernel (argv: src/media/live/ladder.ts). The attempt number
 * is the epoch that names the files, so a re-run never overwrites and the kernel sees the restart.
 *
 * How it ends:
 * - the pulled FLV ends because the session ended (publisher gone, grace over): `source_ended`;
 * - cancelled (the kernel stops the session's task): FFmpeg gets SIGTERM, the executor reports nothing;
 * - FFmpeg stops while the source is still live (it crashed, the pull broke): a retryable failure, and the
 *   kernel re-runs the task at once as a new epoch (core/topology.ts, live failover). A source FFmpeg cannot
 *   read fails permanently with FFmpeg's reason, as any source would.
 * Whether the session is still live is asked of the source URL itself (GET: 2xx live, 404/410 ended), since
 * an FFmpeg that reached the end of its input cannot tell a finished stream from a dropped connection.
 */
import type { LiveResult } from "../../core/task-contracts.ts";
import { guardInputs } from "../../media/input-policy.ts";
import { liveLadderArgs, redactToken } from "../../media/live/ladder.ts";
import { createLiveTelemetry, LIVE_PROGRESS_INTERVAL_MS } from "../../media/live/telemetry.ts";
import type { TranscodeProgress, TranscodeResult } from "../../plugin-runtime/pillars.ts";
import type { TaskContext } from "../executor.ts";
import { TaskFailure } from "../failures.ts";
import { encoder } from "./io.ts";

/** How long the "is the session still live?" question may take. */
const SOURCE_CHECK_TIMEOUT_MS = 5_000;

export type SourceState = "live" | "ended" | "unknown";

/**
 * The session's state as its source URL answers: 2xx = still live, 404/410 = ended (the kernel serves an
 * ended or unknown session as gone), anything else or no answer = unknown. Only the status line is read.
 */
export async function sourceState(sourceUrl: string, token: string, signal?: AbortSignal): Promise<SourceState> {
  const timeout = AbortSignal.timeout(SOURCE_CHECK_TIMEOUT_MS);
  try {
    const response = await fetch(sourceUrl, {
      headers: { authorization: `Bearer ${token}` },
      redirect: "manual",
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    await response.body?.cancel().catch(() => {});
    if (response.ok) return "live";
    if (response.status === 404 || response.status === 410) return "ended";
    return "unknown";
  } catch {
    return "unknown";
  }
}

export async function liveTask(ctx: TaskContext<"live">): Promise<LiveResult> {
  const params = ctx.params;
  const epoch = ctx.lease.attempt;
  const log = ctx.logger.child({ stream_id: params.stream_id, session_id: params.session_id, epoch });
  // A re-run queued just as the session ended (or one it outlived) has nothing to pull: done, not failed.
  if ((await sourceState(params.source_url, params.token, ctx.signal)) === "ended") {
    log.info("live source already ended; nothing to transcode");
    return { reason: "source_ended", media_seconds: 0 };
  }

  const args = liveLadderArgs({ params, epoch });
  const telemetry = createLiveTelemetry(epoch, params.segment_seconds);
  const report = () => {
    const live = telemetry.snapshot();
    ctx.progress(0, live.speed, live);
  };
  report(); // the epoch is known at once: the kernel learns of the restart before the first segment
  const reporter = setInterval(report, LIVE_PROGRESS_INTERVAL_MS);
  const enc = await encoder(ctx.plugins);
  const timeoutMs = Math.max(60_000, ctx.deadlineMs - Date.now() - 5_000);
  const run = ctx.ffmpegStarted?.();
  let result: TranscodeResult;
  try {
    log.info({ rungs: params.rungs.map((rung) => rung.name), segment_seconds: params.segment_seconds }, "live transcode starting");
    result = await enc.call<TranscodeResult>(
      "transcode",
      { args: guardInputs(args), timeout_ms: timeoutMs },
      {
        signal: ctx.signal,
        timeoutMs: timeoutMs + 30_000,
        onProgress: (progress) => {
          const p = progress as TranscodeProgress;
          run?.progress(p);
          telemetry.update(p);
        },
      },
    );
  } catch (error) {
    // A cancel rejects the call at once (the plugin stops FFmpeg); the executor reports nothing for it.
    if (ctx.signal.aborted) return { reason: "cancelled", media_seconds: telemetry.mediaSeconds };
    throw error;
  } finally {
    clearInterval(reporter);
    run?.end();
  }
  // The token authorizes this session's pull and pushes: it never goes into stored evidence.
  const evidence: TranscodeResult = { ...result, argv: redactToken(result.argv, params.token), stderr_tail: result.stderr_tail.split(params.token).join("<token>") };
  ctx.commands.push(evidence.argv);
  report();
  const mediaSeconds = telemetry.mediaSeconds;
  if (ctx.signal.aborted || result.cancelled) return { reason: "cancelled", media_seconds: mediaSeconds };

  const state = await sourceState(params.source_url, params.token, ctx.signal);
  log.info({ ok: result.ok, exit_code: result.exit_code, signal: result.signal, source: state, media_seconds: mediaSeconds }, "live transcode ended");
  if (state === "ended") return { reason: "source_ended", media_seconds: mediaSeconds };
  if (result.ok) {
    throw new TaskFailure({
      class: "retryable",
      code: "WE-JOB-008",
      message: `live transcode (epoch ${epoch}) stopped after ${mediaSeconds} s while the source is ${state === "live" ? "still live" : "not answering"}; it is restarted`,
      exit_code: result.exit_code,
      argv: evidence.argv,
      stderr_tail: evidence.stderr_tail,
    });
  }
  throw TaskFailure.fromTranscode(`live transcode (epoch ${epoch})`, evidence, undefined, [params.source_url]);
}
