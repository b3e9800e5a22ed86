/**
 * The restream runner (issue 16): one input, many destinations, each destination isolated from the others.
 *
 * ONE input reader (an FFmpeg that paces a file in real time or pulls a live session's FLV, stream copy, FLV on
 * stdout) feeds the live ingest's fan-out (src/live/ingest/fanout.ts). Every destination has its own FFmpeg
 * publisher fed from its own bounded subscription of that fan-out:
 * - a destination that is slow or stuck (a server that accepts TCP and never answers) stops reading; its queue
 *   overflows and only its subscription is dropped — the input and the other destinations never wait on it
 *   (FFmpeg's tee muxer, by contrast, blocks every output when one blocks);
 * - a watchdog kills a publisher whose bytes sent stop growing for `stallTimeoutMs`;
 * - a publisher that exits or is killed reconnects after the backoff (2 s, ×1.5, capped at 60 s, jitter),
 *   forever while the input runs, unless the platform refused the key or the authorization (terminal:
 *   `failed` with the platform's message); a restarted publisher starts at the latest keyframe (the fan-out's
 *   GOP cache) so the platform gets a decodable stream at once.
 * Per destination the runner reports state, bitrate, uptime, reconnect count and the last error (key
 * redacted), and raises `failed` once per outage and `recovered` when the destination is live again.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "../../core/logger.ts";
import { MediaFanout } from "../../live/ingest/fanout.ts";
import { FlvTagType } from "../../live/flv/tags.ts";
import {
  isTerminalPublishError,
  publishErrorMessage,
  restreamDestinationArgs,
  restreamInputArgs,
  type RestreamDestination,
  type RestreamInput,
} from "../../media/restream/args.ts";
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from "../../media/restream/backoff.ts";
import {
  initialDestinationState,
  isFinal,
  nextDestinationState,
  uptimeSeconds,
  type DestinationEvent,
  type DestinationState,
  type DestinationStatus,
} from "../../media/restream/destination-state.ts";
import { FlvReader } from "../../media/restream/flv-reader.ts";
import { bitrateKbps, createPublishProgressParser } from "../../media/restream/progress.ts";
import { StderrTail } from "../../media/progress.ts";

/** A publisher whose bytes sent did not grow for this long is killed and reconnected. */
export const DEFAULT_STALL_TIMEOUT_MS = 10_000;
/** Per destination: about 10 s of a 6 Mbit/s stream. Beyond it the destination is dropped and restarted. */
export const DEFAULT_DESTINATION_QUEUE_BYTES = 8 * 1024 * 1024;
/** A publisher asked to stop gets this long after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3_000;

export interface DestinationReport {
  id: string;
  publisher: string;
  status: DestinationStatus;
  bitrate_kbps: number;
  uptime_s: number;
  reconnects: number;
  last_error: string | null;
}

export interface RestreamEvent {
  type: "restream.destination.failed" | "restream.destination.recovered";
  destination_id: string;
  /** The error of the failure (key redacted); null for `recovered`. */
  error: string | null;
  terminal: boolean;
}

export type RestreamEndReason = "input_ended" | "stopped" | "input_failed";

export interface RestreamOutcome {
  reason: RestreamEndReason;
  /** FFmpeg's last lines when the input failed. */
  error?: string;
  destinations: DestinationReport[];
}

export interface RestreamRunnerOptions {
  input: RestreamInput;
  destinations: RestreamDestination[];
  logger: Logger;
  ffmpegPath?: string;
  backoff?: BackoffPolicy;
  stallTimeoutMs?: number;
  maxQueueBytes?: number;
  /** Any destination's state changed (the task reports progress from it). */
  onChange?(destinations: DestinationReport[]): void;
  onEvent?(event: RestreamEvent): void;
}

interface DestinationRun {
  destination: RestreamDestination;
  state: DestinationState;
  bitrateKbps: number;
  child?: ChildProcess;
  /** Wakes a backoff sleep early (stop). */
  wake?: () => void;
  loop?: Promise<void>;
}

export class RestreamRunner {
  private readonly fanout = new MediaFanout();
  private readonly runs: DestinationRun[];
  private input?: ChildProcess;
  private stopping = false;
  private inputEnded = false;
  private lastInputTimestampMs = 0;
  private resolveDone!: (outcome: RestreamOutcome) => void;
  /** Settles once the input ended (or failed, or stop()) and every destination's publisher is gone. */
  readonly done: Promise<RestreamOutcome>;

  constructor(private readonly options: RestreamRunnerOptions) {
    this.runs = options.destinations.filter((destination) => destination.enabled).map((destination) => ({ destination, state: initialDestinationState(), bitrateKbps: 0 }));
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  report(now = Date.now()): DestinationReport[] {
    return this.runs.map((run) => ({
      id: run.destination.id,
      publisher: run.destination.publisher,
      status: run.state.status,
      bitrate_kbps: run.state.status === "live" ? run.bitrateKbps : 0,
      uptime_s: uptimeSeconds(run.state, now),
      reconnects: run.state.reconnects,
      last_error: run.state.lastError,
    }));
  }

  /**
   * Media seconds read from the input so far (its latest timestamp). A looped file's timestamps keep growing
   * across loops: the position in the file is this modulo its duration — where a resumed run starts.
   */
  inputPositionSeconds(): number {
    return this.lastInputTimestampMs / 1000;
  }

  start(): void {
    const inputEnd = this.startInput();
    for (const run of this.runs) run.loop = this.runDestination(run);
    void Promise.all([inputEnd, ...this.runs.map((run) => run.loop)]).then(([inputOutcome]) => {
      this.resolveDone({ ...inputOutcome, destinations: this.report() });
    });
  }

  /** Stops the input and every publisher; resolves with the outcome once all processes are gone. */
  async stop(): Promise<RestreamOutcome> {
    this.stopping = true;
    if (this.input) terminate(this.input);
    for (const run of this.runs) {
      if (run.child) terminate(run.child);
      run.wake?.();
    }
    return this.done;
  }

  private startInput(): Promise<{ reason: RestreamEndReason; error?: string }> {
    const log = this.options.logger;
    const child = spawn(this.options.ffmpegPath ?? "ffmpeg", restreamInputArgs(this.options.input), { stdio: ["ignore", "pipe", "pipe"] });
    this.input = child;
    const reader = new FlvReader();
    const stderr = new StderrTail(20);
    let formatError: string | undefined;
    child.stdout!.on("data", (chunk: Buffer) => {
      if (formatError) return;
      try {
        for (const tag of reader.push(new Uint8Array(chunk))) {
          if (tag.type === FlvTagType.script) this.fanout.setMetadata(tag.body);
          else {
            this.fanout.push(tag);
            this.lastInputTimestampMs = Math.max(this.lastInputTimestampMs, tag.timestamp);
          }
        }
      } catch (error) {
        formatError = error instanceof Error ? error.message : String(error);
        child.kill("SIGKILL");
      }
    });
    child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk.toString("utf8")));
    return new Promise((resolve) => {
      child.once("error", (error) => stderr.push(`${error.message}\n`));
      child.once("close", (code) => {
        this.inputEnded = true;
        this.fanout.end();
        // Destinations waiting out a backoff have nothing left to reconnect for.
        for (const run of this.runs) run.wake?.();
        if (this.stopping) return resolve({ reason: "stopped" });
        if (code === 0 && !formatError) return resolve({ reason: "input_ended" });
        const error = formatError ?? (stderr.text() || `input reader exited with code ${code}`);
        log.warn({ error }, "restream: input failed");
        resolve({ reason: "input_failed", error });
      });
    });
  }

  private apply(run: DestinationRun, event: DestinationEvent): void {
    const before = run.state;
    const after = nextDestinationState(before, event);
    if (after === before) return;
    run.state = after;
    const id = run.destination.id;
    // One `failed` per outage (the first failure after being live, or before ever being live) and on a terminal
    // refusal; one `recovered` when live again after failures.
    if (after.status === "failed" || (after.status === "retrying" && after.consecutiveFailures === 1 && before.status !== "failed")) {
      this.options.onEvent?.({ type: "restream.destination.failed", destination_id: id, error: after.lastError, terminal: after.status === "failed" });
    }
    if (after.status === "live" && before.consecutiveFailures > 0) {
      this.options.onEvent?.({ type: "restream.destination.recovered", destination_id: id, error: null, terminal: false });
    }
    this.options.onChange?.(this.report());
  }

  private async runDestination(run: DestinationRun): Promise<void> {
    const log = this.options.logger.child({ destination_id: run.destination.id, publisher: run.destination.publisher });
    const policy = this.options.backoff ?? DEFAULT_BACKOFF;
    while (!this.stopping && !isFinal(run.state.status)) {
      if (this.inputEnded) break;
      this.apply(run, { type: "started", at: Date.now() });
      const attempt = await this.publishOnce(run);
      if (this.stopping || (this.inputEnded && attempt.exitCode === 0)) break;
      if (this.inputEnded && !attempt.stalled) break;
      const terminal = !attempt.stalled && !attempt.overflowed && isTerminalPublishError(attempt.stderr);
      const error = attempt.stalled
        ? `no data sent for ${Math.round((this.options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS) / 1000)} s: the destination does not answer; reconnecting`
        : attempt.overflowed
          ? "the destination fell too far behind the input (its queue overflowed); reconnecting"
          : publishErrorMessage(attempt.stderr, run.destination.key);
      const retryInMs = backoffDelayMs(run.state.consecutiveFailures + 1, policy);
      this.apply(run, { type: "failed", at: Date.now(), error, terminal, retryInMs });
      log.warn({ error, terminal, retry_in_ms: terminal ? null : retryInMs }, "restream: destination failed");
      if (terminal) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, retryInMs);
        run.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      run.wake = undefined;
    }
    if (!isFinal(run.state.status)) this.apply(run, { type: "stopped", at: Date.now() });
  }

  /** One publisher process, from spawn to exit. */
  private async publishOnce(run: DestinationRun): Promise<{ exitCode: number | null; stderr: string; stalled: boolean; overflowed: boolean }> {
    const stallTimeoutMs = this.options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    const child = spawn(this.options.ffmpegPath ?? "ffmpeg", restreamDestinationArgs(run.destination), { stdio: ["pipe", "pipe", "pipe"] });
    run.child = child;
    const stderr = new StderrTail(20);
    let stalled = false;
    let overflowed = false;
    let lastBytes = 0;
    let lastProgressAt = Date.now();
    let lastSample = { totalBytes: 0, at: Date.now() };
    const progress = createPublishProgressParser((block) => {
      const now = Date.now();
      if (block.totalBytes > lastBytes) {
        lastBytes = block.totalBytes;
        lastProgressAt = now;
        if (now - lastSample.at >= 1000) {
          run.bitrateKbps = bitrateKbps(lastSample, { totalBytes: block.totalBytes, at: now });
          lastSample = { totalBytes: block.totalBytes, at: now };
        }
        this.apply(run, { type: "progressed", at: now });
      }
    });
    child.stdout!.on("data", (chunk: Buffer) => progress.push(chunk.toString("utf8")));
    child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk.toString("utf8")));
    // A publisher that died mid-write: the pump notices through `exited`, the pipe error itself is expected.
    child.stdin!.on("error", () => {});
    const exited = new Promise<number | null>((resolve) => {
      child.once("error", (error) => stderr.push(`${error.message}\n`));
      child.once("close", (code) => resolve(code));
    });
    const watchdog = setInterval(() => {
      if (Date.now() - lastProgressAt > stallTimeoutMs) {
        stalled = true;
        child.kill("SIGKILL");
      }
    }, Math.min(1000, stallTimeoutMs / 4));

    const subscription = this.fanout.subscribe({ maxQueueBytes: this.options.maxQueueBytes ?? DEFAULT_DESTINATION_QUEUE_BYTES });
    const reader = subscription.getReader();
    let open = true;
    void exited.then(() => (open = false));
    // The fan-out errors a subscription that overflowed its bound (SlowSubscriberError): the publisher is
    // killed and restarted from the latest keyframe. Watched through `closed` because the pump may be waiting
    // on a pipe that never drains when it happens.
    const dropped = reader.closed.then(
      () => false,
      () => true,
    );
    void dropped.then((overflow) => {
      if (overflow && open) {
        overflowed = true;
        child.kill("SIGKILL");
      }
    });
    const pump = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done || !open) break;
          if (!child.stdin!.write(value)) {
            // Wait for the pipe to drain or the process to go; meanwhile the fan-out queues for this destination only.
            await Promise.race([new Promise<void>((resolve) => child.stdin!.once("drain", () => resolve())), exited, dropped]);
          }
        }
        if (open) child.stdin!.end();
      } catch {
        // the subscription was dropped: handled above
      }
    })();
    const exitCode = await exited;
    clearInterval(watchdog);
    await reader.cancel().catch(() => {});
    await pump;
    run.child = undefined;
    run.bitrateKbps = 0;
    return { exitCode, stderr: stderr.text(), stalled, overflowed };
  }
}

/** SIGTERM, then SIGKILL when the process has not gone after the grace. */
function terminate(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }, STOP_GRACE_MS);
  child.once("close", () => clearTimeout(timer));
}
