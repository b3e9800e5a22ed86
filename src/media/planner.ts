/**
 * Chunk planning for split-encode-stitch (docs/architecture.md §3). Pure and deterministic: the same probe and
 * slot count always give the same chunks, so a re-plan after a kernel restart changes nothing.
 *
 * Boundaries are placed ONLY on source keyframes: FFmpeg then starts decoding each chunk at that
 * keyframe, and `-frames:v <frames>` (the count of packets between two keyframes in the packet
 * index) makes the part frame-exact.
 */
import type { ChunkPlan } from "../core/task-contracts.ts";

export interface Keyframe {
  /** Presentation time in seconds, as ffprobe prints `pts_time`. */
  pts: number;
  /** Index of this frame in presentation order (0 = first frame of the stream). */
  frame: number;
}

export interface PlanInput {
  /** Duration of the VIDEO stream, seconds, measured from its first frame. */
  duration_s: number;
  fps: number;
  keyframes: readonly Keyframe[];
  total_frames: number;
  /** Worker slots free for this job right now. */
  free_slots: number;
}

export interface ChunkBounds {
  min_chunk_s: number;
  max_chunk_s: number;
  /** Below this the fixed cost of a split (extra tasks, concat, seeks) outweighs the parallelism. */
  min_split_duration_s: number;
  /**
   * At most this many chunks (MAX_TASKS_PER_JOB's share for one encode group): above it chunks get longer
   * than max_chunk_s instead of more numerous. Default: no cap.
   */
  max_chunks?: number;
}

/**
 * The probe cannot be planned (no keyframe at frame 0, repeated or decreasing timestamps…): a property of
 * the source, so the job fails permanently with this message rather than retrying.
 */
export class PlanProblem extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlanProblem";
  }
}

/** A planned chunk is the chunk a video task's params carry (one definition: core/task-contracts.ts). */
export type Chunk = ChunkPlan;

export const DEFAULT_CHUNK_BOUNDS: Readonly<ChunkBounds> = Object.freeze({ min_chunk_s: 10, max_chunk_s: 60, min_split_duration_s: 30 });

/** Slack for comparisons of times computed by division. */
const EPS = 1e-9;

/**
 * - One chunk when the video is shorter than `min_split_duration_s` or when there is no second
 *   keyframe to split at.
 * - Otherwise the chunk count is the free slot count, clamped so the average chunk length
 *   (duration ÷ count) stays within [min_chunk_s, max_chunk_s]: the integer form of
 *   clamp(duration / free_slots, min, max). So at most one free slot gives one chunk as long as the
 *   video fits in max_chunk_s, and long videos get more chunks than slots even on a busy cluster
 *   (workers that free up later take part, and a retry redoes at most max_chunk_s of work); when the
 *   two bounds conflict, min_chunk_s wins.
 * - Boundary k goes on the keyframe nearest to k·duration/count (ties: the earlier one); a boundary
 *   that lands on the previous one is dropped, so sparse keyframes give fewer, longer chunks.
 * - A chunk shorter than min_chunk_s/2 (a sliver left by sparse or irregular keyframes) is merged into
 *   the chunk before it (the first chunk into the one after it).
 * Chunks cover every frame exactly once: contiguous start_frame, frames summing to total_frames.
 */
export function planChunks(input: PlanInput, bounds: ChunkBounds = DEFAULT_CHUNK_BOUNDS): Chunk[] {
  const { duration_s, fps, total_frames, free_slots } = input;
  if (!(duration_s > 0)) throw new PlanProblem(`duration_s must be positive (got ${duration_s})`);
  if (!(fps > 0)) throw new PlanProblem(`fps must be positive (got ${fps})`);
  if (!Number.isInteger(total_frames) || total_frames < 1) throw new PlanProblem(`total_frames must be a positive integer (got ${total_frames})`);
  if (!(bounds.min_chunk_s > 0 && bounds.max_chunk_s >= bounds.min_chunk_s)) {
    throw new Error(`chunk bounds must satisfy 0 < min_chunk_s <= max_chunk_s (got ${bounds.min_chunk_s}, ${bounds.max_chunk_s})`);
  }
  const keyframes = [...input.keyframes].sort((a, b) => a.frame - b.frame);
  const problem = keyframeProblem(keyframes, total_frames);
  if (problem) throw new PlanProblem(problem);
  const first = keyframes[0] as Keyframe;
  const end = first.pts + duration_s;

  // Start indexes (into `keyframes`) of the chunks; chunk i runs to the next start or to the end.
  let starts = [0];
  const count = chunkCount(duration_s, free_slots, bounds);
  if (duration_s >= bounds.min_split_duration_s && count > 1 && keyframes.length > 1) {
    for (let k = 1; k < count; k++) {
      const ideal = first.pts + (k * duration_s) / count;
      const nearest = nearestKeyframe(keyframes, ideal);
      if (nearest > (starts.at(-1) as number)) starts.push(nearest);
    }
    starts = mergeSlivers(starts, keyframes, end, bounds.min_chunk_s / 2);
  }

  return starts.map((index, seq) => {
    const kf = keyframes[index] as Keyframe;
    const next = seq + 1 < starts.length ? keyframes[starts[seq + 1] as number] : undefined;
    return {
      seq,
      start_pts: kf.pts,
      start_frame: kf.frame,
      frames: (next ? next.frame : total_frames) - kf.frame,
      duration_s: round6((next ? next.pts : end) - kf.pts),
    };
  });
}

function chunkCount(duration: number, freeSlots: number, bounds: ChunkBounds): number {
  const fewest = Math.max(1, Math.ceil(duration / bounds.max_chunk_s - EPS));
  const most = Math.max(1, Math.floor(duration / bounds.min_chunk_s + EPS));
  const wanted = Math.max(1, Math.floor(freeSlots));
  const cap = bounds.max_chunks === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.floor(bounds.max_chunks));
  return Math.min(Math.max(wanted, fewest), most, cap);
}

/**
 * Why a keyframe index (sorted by frame) cannot be split on, or undefined when it can. The worker's analyze
 * step asks too (source.ts), so a bad source fails there with this reason before anything is planned.
 */
export function keyframeProblem(keyframes: readonly Keyframe[], totalFrames: number): string | undefined {
  const first = keyframes[0];
  if (!first) return "the keyframe index is empty: the source has no decodable video";
  if (first.frame !== 0) {
    // Frames before the first keyframe (e.g. leading pictures of an open GOP in a cut stream) cannot
    // be decoded on their own, so no seek-based plan could count them correctly.
    return `the first keyframe is frame ${first.frame} (pts ${first.pts}), not frame 0: the stream starts with frames that cannot be decoded`;
  }
  for (let i = 1; i < keyframes.length; i++) {
    const prev = keyframes[i - 1] as Keyframe;
    const kf = keyframes[i] as Keyframe;
    // Both happen when timestamps repeat (e.g. one segment concatenated many times): the packet index
    // then maps several keyframes onto one frame number and no seek can tell the copies apart.
    if (kf.frame === prev.frame) {
      return `the video timestamps repeat: the keyframe index lists frame ${kf.frame} twice (pts ${kf.pts}), as when segments are concatenated without rewriting their timestamps; remux the file so that its timestamps increase`;
    }
    if (!(kf.pts > prev.pts)) return `keyframe pts must increase with the frame index (frame ${prev.frame} at ${prev.pts}, frame ${kf.frame} at ${kf.pts})`;
  }
  const last = keyframes.at(-1) as Keyframe;
  if (last.frame >= totalFrames) return `keyframe at frame ${last.frame} is beyond the last frame (${totalFrames - 1})`;
  return undefined;
}

function nearestKeyframe(keyframes: readonly Keyframe[], time: number): number {
  let best = 0;
  let bestDistance = Number.POSITIVE_INFINITY;
  keyframes.forEach((kf, i) => {
    const distance = Math.abs(kf.pts - time);
    if (distance < bestDistance - EPS) {
      best = i;
      bestDistance = distance;
    }
  });
  return best;
}

function mergeSlivers(starts: number[], keyframes: readonly Keyframe[], end: number, minimum: number): number[] {
  const out = [...starts];
  const length = (i: number) => {
    const next = out[i + 1];
    return (next === undefined ? end : (keyframes[next] as Keyframe).pts) - (keyframes[out[i] as number] as Keyframe).pts;
  };
  for (let i = 0; i < out.length && out.length > 1; ) {
    if (length(i) < minimum - EPS) {
      // Drop the boundary between this chunk and its neighbour: its own start, or for the first
      // chunk (which must start at frame 0) the start of the second.
      out.splice(i === 0 ? 1 : i, 1);
      i = Math.max(0, i - 1);
    } else {
      i++;
    }
  }
  return out;
}

/** Durations are derived from 6-decimal pts; keep them free of binary noise (4.000000000000001). */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/**
 * Output frames of a constant-rate rendition (profile frame_rate) in the part that covers source time
 * [offset_s, offset_s + duration_s), measured from the source's first frame: the output grid is global
 * (frame n at n/rate from the first source frame) and FFmpeg's fps filter puts a frame at time t on slot
 * round(t·rate), so a part holds slots round(offset·rate) up to round((offset + duration)·rate), exclusive.
 * Parts therefore join without a gap or a repeat, and the whole output has round(duration·rate) frames.
 */
export function cfrFrameCount(offsetS: number, durationS: number, rate: number): number {
  const slot = (t: number) => Math.round(round6(t * rate));
  return slot(offsetS + durationS) - slot(offsetS);
}
