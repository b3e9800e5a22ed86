/**
 * restream: one input sent to several RTMP destinations (issue 16), the task around the RestreamRunner
 * engine (restream.ts). It runs in the live pool, leased like a live task (short lease, failover at once:
 * core/topology.ts isStreamingTask).
 *
 * - The stream keys are not in the task's params (tasks.params is stored in clear): the attempt GETs them,
 *   opened, from the kernel's internal destinations endpoint with the task's token, together with the input
 *   position the previous attempt reached (src/kernel/restream/internal.ts). A restream the kernel no longer
 *   runs (stopped, deleted) answers 404/410: the attempt ends at once (`gone`).
 * - A file is played as live from that position (`-ss`), looping when asked; every report carries the
 *   position (modulo the file's duration when looping), so an attempt on another worker continues there.
 * - A live session is pulled from the ingesting kernel's internal FLV source with the session's live token.
 *
 * How it ends: the input ended (a file without loop, a live session that ended): `input_ended`; cancelled
 * (stop, stop_at): `stopped`, reported by nobody (the executor drops a cancelled attempt's outcome); an input
 * that cannot be read: a retryable failure, bounded by the consecutive-failure count.
 */
import { spawn } from "node:child_process";
import type { RestreamDestinationReport, RestreamResult } from "../../core/task-contracts.ts";
import { filePosition, type RestreamDestination, type RestreamInput } from "../../media/restream/args.ts";
import type { TaskContext } from "../executor.ts";
import { TaskFailure } from "../failures.ts";
import { RestreamRunner } from "./restream.ts";
import { resolveInput } from "./io.ts";

/** How often the task reports its destinations and position (also the resume granularity). */
export const RESTREAM_PROGRESS_INTERVAL_MS = 2_000;
/**
 * The runner is started ahead of a scheduled start by the time its FFmpeg processes need before the first media
 * reaches a destination (input reader, the publishers' probe, the RTMP handshake): about 0.7 s on an idle host
 * (test/e2e/restream-scheduled.test.ts), several seconds on an overloaded one. The worker estimates it from the
 * FFprobe run it just made on the same input (process start and open under the current load): twice that,
 * within these bounds (the upper one stays below the kernel's RESTREAM_START_LEAD_MS, 8 s).
 */
export const RESTREAM_WARMUP_MS = 700;
export const RESTREAM_MAX_WARMUP_MS = 5_000;

/** How long before start_at the runner starts (pure): twice the probe's time, at least RESTREAM_WARMUP_MS. */
export function warmupMs(probeMs: number | null): number {
  return Math.min(RESTREAM_MAX_WARMUP_MS, Math.max(RESTREAM_WARMUP_MS, Math.round(2 * (probeMs ?? 0))));
}
const CLAIM_TIMEOUT_MS = 10_000;
const PROBE_TIMEOUT_MS = 15_000;

/** What the kernel's internal destinations endpoint answers (src/kernel/restream/internal.ts). */
export interface RestreamClaim {
  destinations: RestreamDestination[];
  position_s: number;
  input_duration_s: number | null;
}

/** The attempt's destinations and start position, or "gone" when the kernel no longer runs the restream. */
export async function fetchRestreamClaim(url: string, token: string, signal: AbortSignal): Promise<RestreamClaim | "gone"> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, redirect: "manual", signal: AbortSignal.any([signal, AbortSignal.timeout(CLAIM_TIMEOUT_MS)]) });
  if (response.status === 404 || response.status === 410) {
    await response.body?.cancel().catch(() => {});
    return "gone";
  }
  if (!response.ok) {
    // The body is the kernel's error envelope: never a key.
    const text = (await response.text().catch(() => "")).slice(0, 300);
    throw new TaskFailure({ class: "retryable", code: "WE-SYS-001", message: `restream: the kernel refused the destinations (HTTP ${response.status}): ${text}` });
  }
  return (await response.json()) as RestreamClaim;
}

/** The file's duration (FFprobe's format duration), or null when it cannot tell: the position is then not folded. */
export async function probeDurationSeconds(ffprobe: string, source: string): Promise<number | null> {
  const child = spawn(ffprobe, ["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", source], { stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  const timer = setTimeout(() => child.kill("SIGKILL"), PROBE_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => {
    child.once("error", () => resolve(null));
    child.once("close", resolve);
  });
  clearTimeout(timer);
  const seconds = Number(out.trim());
  return code === 0 && Number.isFinite(seconds) && seconds > 0 ? seconds : null;
}

export async function restreamTask(ctx: TaskContext<"restream">): Promise<RestreamResult> {
  const params = ctx.params;
  const log = ctx.logger.child({ restream_id: params.restream_id, attempt: ctx.lease.attempt });
  const claim = await fetchRestreamClaim(params.destinations_url, params.token, ctx.signal);
  if (claim === "gone") {
    log.info("restream no longer running on the kernel; nothing to send");
    return { reason: "gone", position_s: 0, destinations: [] };
  }
  const ffmpeg = process.env.FFMPEG_PATH || "ffmpeg";
  const { input, duration, start, probeMs } = await inputOf(ctx, claim);
  const warmup = warmupMs(probeMs);
  if (params.start_at_ms !== undefined) log.info({ start_at_ms: params.start_at_ms, warmup_ms: warmup, in_ms: params.start_at_ms - Date.now() }, "restream prepared; waiting for its start");
  if (params.start_at_ms !== undefined && !(await waitUntil(params.start_at_ms - warmup, ctx.signal))) {
    return { reason: "stopped", position_s: start, destinations: [] };
  }
  const position = () => (input.kind === "file" ? filePosition(start, runner.inputPositionSeconds(), duration, input.loop) : 0);
  let reports: RestreamDestinationReport[] = [];
  const runner = new RestreamRunner({
    input,
    destinations: claim.destinations,
    logger: log,
    ffmpegPath: ffmpeg,
    onChange: (destinations) => {
      reports = destinations;
      report();
    },
  });
  const report = () => ctx.progress(0, undefined, undefined, { position_s: position(), destinations: reports });
  log.info({ destinations: claim.destinations.length, kind: input.kind, start_s: start }, "restream starting");
  runner.start();
  reports = runner.report();
  report();
  const reporter = setInterval(() => {
    reports = runner.report();
    report();
  }, RESTREAM_PROGRESS_INTERVAL_MS);
  const onAbort = () => void runner.stop();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  // stop_at: stopped here on time; the kernel's cancel at stop_at finds the task ending or ended.
  const stopTimer = params.stop_at_ms !== undefined ? setTimeout(() => void runner.stop(), Math.max(0, params.stop_at_ms - Date.now())) : undefined;
  const outcome = await runner.done.finally(() => {
    clearTimeout(stopTimer);
    clearInterval(reporter);
    ctx.signal.removeEventListener("abort", onAbort);
  });
  const result = { position_s: position(), destinations: outcome.destinations };
  log.info({ reason: outcome.reason, position_s: result.position_s }, "restream ended");
  if (ctx.signal.aborted || outcome.reason === "stopped") return { reason: "stopped", ...result };
  if (outcome.reason === "input_ended") return { reason: "input_ended", ...result };
  throw new TaskFailure({ class: "retryable", code: "WE-JOB-008", message: `restream input could not be read: ${(outcome.error ?? "").slice(-500)}`, stderr_tail: outcome.error ?? "" });
}

/** Sleeps until `at` (epoch ms); false when aborted first. */
async function waitUntil(at: number, signal: AbortSignal): Promise<boolean> {
  const ms = at - Date.now();
  if (ms <= 0) return !signal.aborted;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The runner's input: a file resolved like a VOD source (played from the position reached), or the live session's FLV. */
async function inputOf(ctx: TaskContext<"restream">, claim: RestreamClaim): Promise<{ input: RestreamInput; duration: number | null; start: number; probeMs: number | null }> {
  const spec = ctx.params.input;
  if (spec.kind === "live") return { input: { kind: "live", source: spec.source_url, token: spec.token }, duration: null, start: 0, probeMs: null };
  const source = await resolveInput(ctx.plugins, spec.source_url, spec.storage, { allowCidrs: ctx.outboundAllowCidrs, signal: ctx.signal });
  // Probed even when the duration is known: its time is the warm-up estimate of a scheduled start.
  const probeStarted = performance.now();
  const probed = await probeDurationSeconds(process.env.FFPROBE_PATH || "ffprobe", source);
  const probeMs = performance.now() - probeStarted;
  const duration = claim.input_duration_s ?? probed;
  const start = filePosition(claim.position_s, 0, duration, spec.loop);
  return { input: { kind: "file", source, loop: spec.loop, startSeconds: start }, duration, start, probeMs };
}
