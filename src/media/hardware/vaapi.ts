/**
 * VAAPI (Intel and AMD through Mesa or the Intel media driver): VAAPI decode into VA surfaces, `scale_vaapi`,
 * the VAAPI encoders, all on one render node. System-memory frames are uploaded (`format=nv12,hwupload`).
 * Options: -rc_mode CQP -qp for constant quality, VBR with a bitrate; VAAPI has no scene-cut detection.
 * The render node must be readable by the worker's user (group `render`, docs/gpu.md).
 */
import { bitrateArgs } from "./rate-control.ts";
import type { Accelerator, DeviceRef, EncoderVideoSpec } from "./types.ts";

export const DEFAULT_VAAPI_DEVICE = "/dev/dri/renderD128";

const node = (device: DeviceRef) => device.path ?? DEFAULT_VAAPI_DEVICE;

export const vaapi: Accelerator = Object.freeze<Accelerator>({
  id: "vaapi",
  family: "vaapi",
  encoders: { h264: "h264_vaapi", hevc: "hevc_vaapi" },
  probeEncoders: ["h264_vaapi", "hevc_vaapi", "av1_vaapi", "vp9_vaapi"],
  decodes: { codecs: ["h264", "hevc", "vp9", "av1", "mpeg2video", "vc1"], pixFmts: ["yuv420p", "yuvj420p", "nv12"] },
  deviceArgs: (device: DeviceRef, hwDecode: boolean) => ["-init_hw_device", `vaapi=va:${node(device)}`, ...(hwDecode ? ["-hwaccel_device", "va"] : []), "-filter_hw_device", "va"],
  decodeArgs: () => ["-hwaccel", "vaapi", "-hwaccel_output_format", "vaapi"],
  scaleFilter: (width: number, height: number) => `scale_vaapi=w=${width}:h=${height}:format=nv12`,
  uploadFilter: "format=nv12,hwupload",
  encoderArgs: (encoder: string, video: EncoderVideoSpec) => {
    const rc = video.rate_control;
    return ["-c:v", encoder, ...(rc.mode === "crf" ? ["-rc_mode", "CQP", "-qp", String(Math.round(rc.crf))] : ["-rc_mode", "VBR", ...bitrateArgs(rc)])];
  },
  signatures: [
    { pattern: /VA_STATUS_ERROR_ALLOCATION_FAILED|Failed to allocate (?:a )?(?:surface|buffer)/i, kind: "out-of-memory" },
    { pattern: /VA_STATUS_ERROR_HW_BUSY|GPU hang|VA_STATUS_ERROR_DECODING_ERROR.*lost|device lost/i, kind: "device-lost" },
    { pattern: /Failed to initialise VAAPI connection|No VA display found|vaInitialize failed|Failed to open the DRM device|Device creation failed/i, kind: "no-device" },
    { pattern: /VA_STATUS_ERROR_UNSUPPORTED_(?:PROFILE|ENTRYPOINT|RT_FORMAT)|No usable encoding (?:profile|entrypoint) found|Failed to create (?:encode|processing) pipeline/i, kind: "unsupported-input" },
  ],
});
