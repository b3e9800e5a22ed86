/**
 * Worker pools and hardware families: the one vocabulary for "what a task needs to run". A pool is the
 * capability a task requires (its work queue is `work-<pool>`, core/topology.ts); a hardware family is a
 * pool other than the CPU. Profiles, the encoder choice, FFmpeg arguments, worker capability detection
 * and the bus layout all read these.
 */

/** Hardware encoder families in a fixed order, so pools and reports never depend on object iteration order. */
export const HW_FAMILIES = Object.freeze(["nvidia", "qsv", "vaapi"] as const);
export type HwFamily = (typeof HW_FAMILIES)[number];

/**
 * Hardware pools per proven encoder, `<accelerator>:<codec>` (media/hardware/accelerators.ts, encoderPool):
 * a worker offers one only after that encoder passed its test encode, so a GPU with h264_nvenc but no
 * hevc_nvenc never receives an HEVC task. Its queue is `work-<accelerator>_<codec>` (topology.ts).
 */
export const HW_ENCODER_POOLS = Object.freeze(["nvenc:h264", "nvenc:hevc", "nvenc:av1", "qsv:h264", "qsv:hevc", "qsv:av1", "qsv:vp9", "vaapi:h264", "vaapi:hevc", "vaapi:av1", "vaapi:vp9"] as const);

/**
 * Worker pools = the capability a task requires. A worker pulls from every pool it can serve. The family
 * pools (nvidia, qsv, vaapi) remain for tasks planned before pools were per encoder.
 */
export const POOLS = Object.freeze(["cpu", ...HW_FAMILIES, ...HW_ENCODER_POOLS] as const);
export type Pool = (typeof POOLS)[number];

/**
 * Live transcodes (issue 15) run on their own pool: a worker serves it only when LIVE_SLOTS > 0
 * (src/worker/config.ts), with slots of its own, so a live ladder never waits behind VOD chunks and VOD work
 * never takes a live worker's reserved capacity. Not an encoder pool: Pool stays the encoder vocabulary.
 */
export const LIVE_POOL = "live";

/** Every pool a work queue exists for (src/bus/queues.ts declares one consumer each). */
export const WORK_POOLS = Object.freeze([...POOLS, LIVE_POOL] as const);
export type WorkPool = (typeof WORK_POOLS)[number];

/** The pool an FFmpeg encoder runs in, from its name (h264_nvenc → nvidia; libx264 → cpu). */
export function poolOfEncoder(encoder: string): Pool {
  if (encoder.endsWith("_nvenc")) return "nvidia";
  if (encoder.endsWith("_qsv")) return "qsv";
  if (encoder.endsWith("_vaapi")) return "vaapi";
  return "cpu";
}
