/**
 * The CPU as the last link of the chain: software decode, `scale`, the software encoders. Scene-cut
 * keyframes are disabled everywhere (a keyframe one rendition places on its own breaks GOP alignment across
 * the ladder); forced keyframes are made IDR so every segment and part starts a closed GOP.
 * - libx264: x264-params scenecut=0:open_gop=0, -forced-idr 1 (B-frames left at the preset default).
 * - libx265: x265-params scenecut=0:open-gop=0 and -forced-idr 1 (without it a forced frame is a non-IDR I
 *   frame); log-level=warning keeps its ~20 info lines out of the captured stderr tail.
 * - libvpx-vp9: -deadline good -cpu-used <preset> -row-mt 1; CRF needs -b:v 0 (constant quality).
 * - libsvtav1: -preset <n>, -svtav1-params scd=0 (scene-change detection off).
 */
import type { VideoCodec } from "../../core/profile-spec.ts";
import { bitrateArgs } from "./rate-control.ts";
import type { Accelerator, EncoderVideoSpec } from "./types.ts";

export const SOFTWARE_ENCODERS: Readonly<Record<VideoCodec, string>> = Object.freeze({
  h264: "libx264",
  hevc: "libx265",
  vp9: "libvpx-vp9",
  av1: "libsvtav1",
});

/** Software presets when the profile names none: the encoders' own middles, written out explicitly. */
const DEFAULT_PRESET: Readonly<Record<VideoCodec, string>> = { h264: "medium", hevc: "medium", vp9: "4", av1: "8" };

function softwareEncoderArgs(encoder: string, video: EncoderVideoSpec): string[] {
  const rc = video.rate_control;
  const preset = video.preset ?? DEFAULT_PRESET[video.codec];
  const pixFmt = ["-pix_fmt", video.pixel_format ?? "yuv420p"];
  const quality = (crf: string[]) => (rc.mode === "crf" ? crf : bitrateArgs(rc));
  switch (encoder) {
    case "libx264":
      return ["-c:v", "libx264", "-preset", preset, ...quality(["-crf", String(rc.mode === "crf" ? rc.crf : 0)]), "-x264-params", "scenecut=0:open_gop=0", "-forced-idr", "1", ...pixFmt];
    case "libx265":
      return ["-c:v", "libx265", "-preset", preset, ...quality(["-crf", String(rc.mode === "crf" ? rc.crf : 0)]), "-x265-params", "scenecut=0:open-gop=0:log-level=warning", "-forced-idr", "1", ...pixFmt];
    case "libvpx-vp9":
      return ["-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", preset, "-row-mt", "1", ...quality(["-crf", String(rc.mode === "crf" ? rc.crf : 0), "-b:v", "0"]), ...pixFmt];
    case "libsvtav1":
      return ["-c:v", "libsvtav1", "-preset", preset, ...quality(["-crf", String(rc.mode === "crf" ? rc.crf : 0)]), "-svtav1-params", "scd=0", ...pixFmt];
    default:
      throw new Error(`no argument builder for encoder ${encoder}`);
  }
}

export const cpu: Accelerator = Object.freeze<Accelerator>({
  id: "cpu",
  family: "cpu",
  encoders: SOFTWARE_ENCODERS,
  probeEncoders: [],
  decodes: { codecs: [], pixFmts: [] },
  deviceArgs: () => [],
  decodeArgs: () => [],
  scaleFilter: (width: number, height: number) => `scale=${width}:${height}`,
  uploadFilter: undefined,
  encoderArgs: (encoder: string, video: EncoderVideoSpec) => softwareEncoderArgs(encoder, video),
  signatures: [],
});
