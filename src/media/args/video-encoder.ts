/**
 * `-c:v` and the options of each FFmpeg video encoder a pool may use. Only the option names of NVENC,
 * QSV and VAAPI were checked (`ffmpeg -h encoder=<name>`): they need a GPU to run.
 */
import type { ProfileSpec, VideoCodec } from "../profile-spec.ts";
import { kbps } from "./units.ts";

function bitrateArgs(rc: { bitrate_kbps: number; maxrate_kbps?: number; bufsize_kbps?: number }): string[] {
  const args = ["-b:v", kbps(rc.bitrate_kbps)];
  if (rc.maxrate_kbps !== undefined) args.push("-maxrate", kbps(rc.maxrate_kbps));
  if (rc.bufsize_kbps !== undefined) args.push("-bufsize", kbps(rc.bufsize_kbps));
  return args;
}

/** Software presets when the profile names none: the encoders' own middles, written out explicitly. */
const DEFAULT_PRESET: Readonly<Record<VideoCodec, string>> = { h264: "medium", hevc: "medium", vp9: "4", av1: "8" };

/**
 * `-c:v` and everything encoder-specific. Scene-cut keyframes are disabled everywhere, because a
 * keyframe one rendition places on its own breaks GOP alignment across the ladder; forced keyframes
 * are made IDR so every segment and part starts a closed GOP.
 * - libx264: x264-params scenecut=0:open_gop=0, -forced-idr 1 (B-frames left at the preset default).
 * - libx265: x265-params scenecut=0:open-gop=0 and -forced-idr 1 (without it a forced frame is a
 *   non-IDR I frame); log-level=warning keeps its ~20 info lines out of the captured stderr tail.
 * - libvpx-vp9: -deadline good -cpu-used <preset> -row-mt 1; CRF needs -b:v 0 (constant quality);
 *   -keyint_min = -g (added by the caller) leaves no room for automatic keyframes.
 * - libsvtav1: -preset <n>, -svtav1-params scd=0 (scene-change detection off).
 * - NVENC (5.1 names): -preset p4 -tune hq -rc vbr, -cq for constant quality (with -b:v 0),
 *   -no-scenecut 1, -forced-idr 1.
 * - QSV: -preset medium, -global_quality (ICQ) or bitrate, -forced_idr 1, -adaptive_i 0.
 * - VAAPI: -rc_mode CQP -qp, or VBR with bitrate; VAAPI has no scene-cut detection.
 * The profile's `preset` is the software encoder's; hardware encoders use their balanced presets.
 */
export function videoEncoderArgs(encoder: string, profile: ProfileSpec): string[] {
  const { video } = profile;
  const rc = video.rate_control;
  const preset = video.preset ?? DEFAULT_PRESET[video.codec];
  const pixFmt = ["-pix_fmt", video.pixel_format ?? "yuv420p"];
  switch (encoder) {
    case "libx264":
      return [
        "-c:v",
        "libx264",
        "-preset",
        preset,
        ...(rc.mode === "crf" ? ["-crf", String(rc.crf)] : bitrateArgs(rc)),
        "-x264-params",
        "scenecut=0:open_gop=0",
        "-forced-idr",
        "1",
        ...pixFmt,
      ];
    case "libx265":
      return [
        "-c:v",
        "libx265",
        "-preset",
        preset,
        ...(rc.mode === "crf" ? ["-crf", String(rc.crf)] : bitrateArgs(rc)),
        "-x265-params",
        "scenecut=0:open-gop=0:log-level=warning",
        "-forced-idr",
        "1",
        ...pixFmt,
      ];
    case "libvpx-vp9":
      return [
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "good",
        "-cpu-used",
        preset,
        "-row-mt",
        "1",
        ...(rc.mode === "crf" ? ["-crf", String(rc.crf), "-b:v", "0"] : bitrateArgs(rc)),
        ...pixFmt,
      ];
    case "libsvtav1":
      return [
        "-c:v",
        "libsvtav1",
        "-preset",
        preset,
        ...(rc.mode === "crf" ? ["-crf", String(rc.crf)] : bitrateArgs(rc)),
        "-svtav1-params",
        "scd=0",
        ...pixFmt,
      ];
    case "h264_nvenc":
    case "hevc_nvenc":
      return [
        "-c:v",
        encoder,
        "-preset",
        "p4",
        "-tune",
        "hq",
        "-rc",
        "vbr",
        ...(rc.mode === "crf" ? ["-cq", String(rc.crf), "-b:v", "0"] : bitrateArgs(rc)),
        "-no-scenecut",
        "1",
        "-forced-idr",
        "1",
        ...pixFmt,
      ];
    case "h264_qsv":
    case "hevc_qsv":
      return [
        "-c:v",
        encoder,
        "-preset",
        "medium",
        ...(rc.mode === "crf" ? ["-global_quality", String(Math.max(1, Math.round(rc.crf)))] : bitrateArgs(rc)),
        "-forced_idr",
        "1",
        "-adaptive_i",
        "0",
      ];
    case "h264_vaapi":
    case "hevc_vaapi":
      return [
        "-c:v",
        encoder,
        ...(rc.mode === "crf" ? ["-rc_mode", "CQP", "-qp", String(Math.round(rc.crf))] : ["-rc_mode", "VBR", ...bitrateArgs(rc)]),
      ];
    default:
      throw new Error(`no argument builder for encoder ${encoder}`);
  }
}
