/**
 * A live transcode's telemetry (the `live` object of its progress messages, core/task-contracts.ts) from
 * FFmpeg's progress reports. Pure: the worker feeds the encoder plugin's reports in and sends a snapshot
 * every LIVE_PROGRESS_INTERVAL_MS.
 */
import type { LiveProgress } from "../../core/task-contracts.ts";
import type { TranscodeProgress } from "../../plugin-runtime/pillars.ts";

/** How often a live task reports (the issue asks for telemetry every ~2 s). */
export const LIVE_PROGRESS_INTERVAL_MS = 2_000;

export interface LiveTelemetry {
  /** One FFmpeg progress report. */
  update(report: TranscodeProgress): void;
  snapshot(): LiveProgress;
  /** Media seconds encoded so far. */
  readonly mediaSeconds: number;
}

/**
 * `segments`: segments completed per rung. Keyframes are forced every segment_seconds of output time and the
 * HLS muxer closes a segment at the first keyframe past its target, so after `out_time` seconds exactly
 * floor(out_time / segment_seconds) segments have been closed (and handed to the PUT) on every rung.
 */
export function createLiveTelemetry(epoch: number, segmentSeconds: number): LiveTelemetry {
  let outTimeS = 0;
  let speed = 0;
  let fps = 0;
  let dropped = 0;
  return {
    update(report) {
      outTimeS = Math.max(outTimeS, report.out_time_s);
      if (report.speed !== undefined) speed = report.speed;
      if (report.fps !== undefined) fps = report.fps;
      dropped = Math.max(dropped, report.drop_frames ?? 0);
    },
    snapshot() {
      return {
        speed: round2(Math.max(0, speed)),
        fps: round2(Math.max(0, fps)),
        dropped_frames: dropped,
        segments: Math.max(0, Math.floor(outTimeS / segmentSeconds + 1e-6)),
        epoch,
      };
    },
    get mediaSeconds() {
      return round2(outTimeS);
    },
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
