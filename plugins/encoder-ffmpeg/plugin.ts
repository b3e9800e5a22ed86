/**
 * The encoder-ffmpeg plugin: capabilities, probe and transcode on the local FFmpeg. FFmpeg arguments come
 * from the caller (built by src/media's pure builders); this plugin only runs them, reports progress and
 * the outcome, and stops FFmpeg on cancel.
 */
import * as v from "valibot";
import type { CallContext, EncoderPlugin, ProbeParams, TranscodeParams, TranscodeProgress, TranscodeResult } from "../../src/plugin-runtime/pillars.ts";
import type { HealthResult } from "../../src/plugin-runtime/protocol.ts";
import { PluginError, definePlugin } from "../../src/plugin-runtime/sdk.ts";
import { classifyProbeFailure, ffprobeArgs, keyframeIndexArgs, parseKeyframeCsv, probeContentProblem } from "../../src/media/probe.ts";
import { PROGRESS_ARGS, createProgressParser } from "../../src/media/progress.ts";
import { type RunResult, runProcess } from "../../src/media/run.ts";
import { type WorkerCapabilities, detectCapabilities } from "../../src/media/capabilities.ts";

const positiveInt = v.pipe(v.number(), v.integer(), v.minValue(1));

export const config = v.object({
  /** FFmpeg binary (a name looked up in PATH, or a path); default: $FFMPEG_PATH, else "ffmpeg". */
  ffmpeg_path: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** FFprobe binary; default: $FFPROBE_PATH, else "ffprobe". */
  ffprobe_path: v.optional(v.pipe(v.string(), v.minLength(1))),
  /** Limit for one probe call (both FFprobe runs) when the caller gives none. */
  probe_timeout_ms: v.optional(positiveInt, 60_000),
  /** Between SIGTERM (FFmpeg finalizes its output) and SIGKILL on cancel or timeout. */
  kill_grace_ms: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 1_000),
});

/** At most this often a progress notification: FFmpeg reports every 0.5 s, but never flood the host. */
const PROGRESS_INTERVAL_MS = 250;

export default definePlugin({
  id: "encoder-ffmpeg",
  pillar: "encoder",
  version: "1.0.0",
  priority: 100,
  capabilities: ["probe", "transcode", "keyframe-index"],
  env: ["FFMPEG_PATH", "FFPROBE_PATH"],
  config,
  create({ config: c, env, log }): EncoderPlugin {
    const ffmpegPath = c.ffmpeg_path ?? nonEmpty(env.FFMPEG_PATH) ?? "ffmpeg";
    const ffprobePath = c.ffprobe_path ?? nonEmpty(env.FFPROBE_PATH) ?? "ffprobe";
    const killGraceMs = c.kill_grace_ms;
    // Aborted by close(): a reconfigured or shut-down plugin must not leave FFmpeg processes behind.
    const lifetime = new AbortController();
    let detected: Promise<WorkerCapabilities> | undefined;
    log.info("encoder-ffmpeg ready", { ffmpeg: ffmpegPath, ffprobe: ffprobePath });

    /** Runs FFprobe for probe(); input problems become WE-JOB-007, everything else WE-JOB-008 (retryable). */
    const ffprobe = async (args: string[], signal: AbortSignal, deadline: number): Promise<string> => {
      let r: RunResult;
      try {
        r = await runProcess([ffprobePath, ...args], { signal, timeoutMs: Math.max(1, deadline - Date.now()), killGraceMs });
      } catch (e) {
        throw new PluginError("WE-JOB-008", `cannot run FFprobe at "${ffprobePath}": ${(e as Error).message}`);
      }
      if (r.cancelled) throw new PluginError("WE-JOB-008", "probe cancelled", { cancelled: true });
      // A slow or stalled source is not proof that it is unreadable: retryable, not an input error.
      if (r.timedOut) throw new PluginError("WE-JOB-008", `FFprobe did not finish within the probe timeout`, { timed_out: true, stderr_tail: r.stderrTail });
      if (r.exitCode === null) throw new PluginError("WE-JOB-008", `FFprobe was killed by ${r.signal ?? "a signal"}`, { signal: r.signal, stderr_tail: r.stderrTail });
      if (r.exitCode !== 0) {
        const failure = classifyProbeFailure(r.stderrTail, r.exitCode);
        throw new PluginError(failure.code, failure.message, { stderr_tail: r.stderrTail, exit_code: r.exitCode });
      }
      return r.stdout ?? "";
    };

    return {
      capabilities() {
        // Detection runs a dozen FFmpeg processes; once per plugin lifetime is enough (a new binary path
        // means a new configuration, hence a new instance). A failure is not cached: the next call retries.
        detected ??= detectCapabilities({ ffmpegPath, ffprobePath }).catch((error: unknown) => {
          detected = undefined;
          throw error;
        });
        return detected as Promise<unknown> as Promise<Record<string, unknown>>;
      },

      async probe(params: ProbeParams, ctx: CallContext) {
        if (typeof params.input !== "string" || params.input === "") throw new PluginError("WE-JOB-001", "probe needs an input (a path or URL)");
        const signal = AbortSignal.any([ctx.signal, lifetime.signal]);
        const deadline = Date.now() + (params.timeout_ms ?? c.probe_timeout_ms);

        const stdout = await ffprobe(ffprobeArgs(params.input), signal, deadline);
        let json: { format?: unknown; streams?: unknown };
        try {
          json = JSON.parse(stdout) as typeof json;
        } catch {
          throw new PluginError("WE-JOB-007", "cannot read the source: FFprobe's output is not JSON");
        }
        const problem = probeContentProblem(json);
        if (problem) throw new PluginError("WE-JOB-007", `cannot use the source: ${problem}`);
        const result: Record<string, unknown> = { format: json.format ?? {}, streams: json.streams ?? [] };

        if (params.keyframes) {
          const index = parseKeyframeCsv(await ffprobe(keyframeIndexArgs(params.input), signal, deadline));
          result.keyframes = index.keyframes;
          result.keyframe_frames = index.keyframe_frames;
          // The video's extent on its timestamps (variable-frame-rate sources have no frames ÷ rate duration).
          if (index.timing) result.timing = index.timing;
          result.packets = index.packets;
        }
        return result;
      },

      async transcode(params: TranscodeParams, ctx: CallContext): Promise<TranscodeResult> {
        const argv = [ffmpegPath, "-hide_banner", "-nostdin", "-y", ...PROGRESS_ARGS, ...(params.args ?? [])];
        const send = throttled(ctx);
        const parser = createProgressParser(params.duration_s, send.block);

        let r: RunResult;
        try {
          r = await runProcess(argv, {
            signal: AbortSignal.any([ctx.signal, lifetime.signal]),
            onStdout: (text) => parser.push(text),
            killGraceMs,
            ...(params.timeout_ms !== undefined ? { timeoutMs: params.timeout_ms } : {}),
            ...(params.cwd ? { cwd: params.cwd } : {}),
          });
        } catch (e) {
          // Not started at all (missing binary, missing cwd): a failed run with the reason where an
          // operator looks for it, not an exception the worker would have to tell apart.
          return { ok: false, exit_code: null, signal: null, argv, stderr_tail: `cannot start FFmpeg: ${(e as Error).message}`, elapsed_ms: 0, cancelled: false, timed_out: false };
        }
        parser.end();
        const ok = r.exitCode === 0 && !r.cancelled && !r.timedOut;
        send.final(ok);
        return {
          ok,
          exit_code: r.exitCode,
          signal: r.signal,
          argv,
          stderr_tail: r.stderrTail,
          elapsed_ms: r.elapsedMs,
          cancelled: r.cancelled,
          timed_out: r.timedOut,
        };
      },

      health(): HealthResult {
        const missing = [
          Bun.which(ffmpegPath) === null ? `FFmpeg not found at "${ffmpegPath}" (set ffmpeg_path or FFMPEG_PATH)` : undefined,
          Bun.which(ffprobePath) === null ? `FFprobe not found at "${ffprobePath}" (set ffprobe_path or FFPROBE_PATH)` : undefined,
        ].filter((m) => m !== undefined);
        return missing.length === 0 ? { status: "ok" } : { status: "degraded", detail: missing.join("; ") };
      },

      close() {
        lifetime.abort();
      },
    };
  },
});

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

/**
 * Progress to the host at most every PROGRESS_INTERVAL_MS. A block that arrives too soon is held and
 * sent by final(), so the host always sees where the run ended; a successful run ends at 100 % even when
 * FFmpeg's last out_time is a frame short of the duration (it reports the last frame's start).
 */
function throttled(ctx: CallContext): { block(p: TranscodeProgress): void; final(ok: boolean): void } {
  let lastSentAt = Number.NEGATIVE_INFINITY;
  let latest: TranscodeProgress | undefined;
  let latestSent = true;
  const send = (update: TranscodeProgress) => {
    lastSentAt = performance.now();
    latestSent = update === latest;
    try {
      ctx.progress(update);
    } catch {
      // Progress is advisory; a broken listener must not fail the transcode.
    }
  };
  return {
    block(params) {
      latest = params;
      latestSent = false;
      if (performance.now() - lastSentAt >= PROGRESS_INTERVAL_MS) send(params);
    },
    final(ok) {
      if (ok && !(latestSent && latest?.percent === 100)) send({ ...(latest ?? { out_time_s: 0 }), percent: 100 });
      else if (!ok && latest && !latestSent) send(latest);
    },
  };
}
