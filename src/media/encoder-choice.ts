/**
 * The concrete FFmpeg encoder for a profile: a profile names a codec and an encoder *preference*, and
 * the encoder is chosen per worker pool here, so one profile serves CPU and GPU workers alike.
 */
import type { HwFamily } from "./ffmpeg-info.ts";
import type { EncoderPreference, Pool, ProfileSpec, VideoCodec } from "./profile-spec.ts";

export const SOFTWARE_ENCODERS: Readonly<Record<VideoCodec, string>> = {
  h264: "libx264",
  hevc: "libx265",
  vp9: "libvpx-vp9",
  av1: "libsvtav1",
};
const HARDWARE_ENCODERS: Readonly<Record<VideoCodec, Partial<Record<HwFamily, string>>>> = {
  h264: { nvidia: "h264_nvenc", qsv: "h264_qsv", vaapi: "h264_vaapi" },
  hevc: { nvidia: "hevc_nvenc", qsv: "hevc_qsv", vaapi: "hevc_vaapi" },
  vp9: {},
  av1: {},
};
const FAMILY_OF: Readonly<Record<"nvenc" | "qsv" | "vaapi", HwFamily>> = { nvenc: "nvidia", qsv: "qsv", vaapi: "vaapi" };
/** Preference order for "auto": NVENC is the fastest per watt, then Quick Sync, then generic VAAPI. */
const AUTO_ORDER: readonly HwFamily[] = ["nvidia", "qsv", "vaapi"];

export interface HardwareAvailability {
  nvidia: boolean;
  qsv: boolean;
  vaapi: boolean;
}

export type EncoderChoice = { encoder: string; pool: Pool } | { error: string };

/**
 * The FFmpeg encoder (and so the worker pool) for a profile, given which hardware families the
 * platform's workers have proven with a test encode (src/worker/capabilities.ts).
 * - software: always the CPU encoder.
 * - auto: the first available family in AUTO_ORDER with an encoder for the codec, else CPU. `fail`
 *   does not apply: auto means "whatever is there".
 * - nvenc | qsv | vaapi: that family when available; otherwise CPU when hardware_fallback is "cpu",
 *   else an error.
 */
export function encoderFor(profile: ProfileSpec, hw: HardwareAvailability): EncoderChoice {
  const { codec, encoder: preference, hardware_fallback } = profile.video;
  const software = { encoder: SOFTWARE_ENCODERS[codec], pool: "cpu" as const };
  if (preference === "software") return software;
  const hardware = HARDWARE_ENCODERS[codec];
  if (preference === "auto") {
    for (const family of AUTO_ORDER) {
      const name = hardware[family];
      if (name && hw[family]) return { encoder: name, pool: family };
    }
    return software;
  }
  const family = FAMILY_OF[preference];
  const name = hardware[family];
  if (!name) {
    // parseProfile rejects this combination; a profile built some other way still gets a clear answer.
    return { error: `profile "${profile.id}": codec ${codec} has no ${preference} encoder` };
  }
  if (hw[family]) return { encoder: name, pool: family };
  if (hardware_fallback === "cpu") return software;
  return {
    error: `profile "${profile.id}" requires ${name} (${preference}) but no ${family} encoder is available and hardware_fallback is "fail"`,
  };
}
