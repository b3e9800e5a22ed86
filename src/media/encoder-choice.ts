/**
 * The concrete FFmpeg encoder for a profile: a profile names a codec and an encoder *preference*, and
 * the encoder is chosen from what the platform's workers have proven, so one profile serves CPU and GPU
 * workers alike. The encoder tables are the accelerators' (media/hardware/).
 */
import { encoderPool, HARDWARE_ACCELERATORS, SOFTWARE_ENCODERS, type Accelerator } from "./hardware/index.ts";
import type { Pool, ProfileSpec } from "./profile-spec.ts";

export { SOFTWARE_ENCODERS };

/**
 * What the workers can run: the pools healthy workers offer (per proven encoder, "nvenc:h264"), or, from
 * older callers, one flag per hardware family.
 */
export type HardwareAvailability = ReadonlySet<string> | { nvidia: boolean; qsv: boolean; vaapi: boolean };

export type EncoderChoice = { encoder: string; pool: Pool } | { error: string };

/** The pool a chosen hardware encoder runs in: per encoder from pool sets, per family from family flags. */
function poolOf(hw: HardwareAvailability, a: Accelerator, encoder: string): Pool {
  return (hw instanceof Set ? encoderPool(encoder) : a.family) as Pool;
}

function available(hw: HardwareAvailability, a: Accelerator, encoder: string): boolean {
  if (hw instanceof Set) return hw.has(encoderPool(encoder));
  const flags = hw as { nvidia: boolean; qsv: boolean; vaapi: boolean };
  return a.family !== "cpu" && flags[a.family] === true;
}

/**
 * The FFmpeg encoder (and so the worker pool) for a profile, given what the workers have proven with a
 * test encode (media/capabilities.ts).
 * - software: always the CPU encoder.
 * - auto: the first accelerator in preference order (nvenc, qsv, vaapi) with a proven encoder for the codec,
 *   else CPU. `fail` does not apply: auto means "whatever is there".
 * - nvenc | qsv | vaapi: that accelerator's encoder when a worker proved it; otherwise CPU when
 *   hardware_fallback is "cpu", else an error naming the missing encoder.
 */
export function encoderFor(profile: ProfileSpec, hw: HardwareAvailability): EncoderChoice {
  const { codec, encoder: preference, hardware_fallback } = profile.video;
  const software = { encoder: SOFTWARE_ENCODERS[codec], pool: "cpu" as Pool };
  if (preference === "software") return software;
  if (preference === "auto") {
    for (const a of HARDWARE_ACCELERATORS) {
      const name = a.encoders[codec];
      if (name && available(hw, a, name)) return { encoder: name, pool: poolOf(hw, a, name) };
    }
    return software;
  }
  const a = HARDWARE_ACCELERATORS.find((x) => x.id === preference);
  const name = a?.encoders[codec];
  if (!a || !name) {
    // parseProfile rejects this combination; a profile built some other way still gets a clear answer.
    return { error: `profile "${profile.id}": codec ${codec} has no ${preference} encoder` };
  }
  if (available(hw, a, name)) return { encoder: name, pool: poolOf(hw, a, name) };
  if (hardware_fallback === "cpu") return software;
  const missing = hw instanceof Set ? `no healthy worker has proven ${name} (pool ${encoderPool(name)})` : `no ${a.family} encoder is available`;
  return { error: `profile "${profile.id}" requires ${name} (${preference}) but ${missing} and hardware_fallback is "fail"` };
}
