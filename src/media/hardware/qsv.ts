/**
 * Intel Quick Sync: QSV decode into QSV surfaces, `scale_qsv`, the QSV encoders. System-memory frames are
 * uploaded (`format=nv12,hwupload=extra_hw_frames=64`: the encoder's lookahead needs surfaces beyond the
 * filter's own). Options: -preset medium, -global_quality (ICQ) or a bitrate, -forced_idr 1, -adaptive_i 0.
 * On a host with several render nodes the QSV device is derived from the chosen node's VAAPI device.
 */
import { bitrateArgs } from "./rate-control.ts";
import type { Accelerator, DeviceRef, EncoderVideoSpec } from "./types.ts";

const openDevice = (device: DeviceRef) =>
  device.path === undefined ? ["-init_hw_device", "qsv=qs"] : ["-init_hw_device", `vaapi=va:${device.path}`, "-init_hw_device", "qsv=qs@va"];

export const qsv: Accelerator = Object.freeze<Accelerator>({
  id: "qsv",
  family: "qsv",
  encoders: { h264: "h264_qsv", hevc: "hevc_qsv" },
  probeEncoders: ["h264_qsv", "hevc_qsv", "av1_qsv", "vp9_qsv"],
  decodes: { codecs: ["h264", "hevc", "vp9", "av1", "mpeg2video", "vc1"], pixFmts: ["yuv420p", "yuvj420p", "nv12"] },
  deviceArgs: (device: DeviceRef, hwDecode: boolean) => [...openDevice(device), ...(hwDecode ? ["-hwaccel_device", "qs"] : []), "-filter_hw_device", "qs"],
  decodeArgs: () => ["-hwaccel", "qsv", "-hwaccel_output_format", "qsv"],
  scaleFilter: (width: number, height: number) => `scale_qsv=w=${width}:h=${height}`,
  uploadFilter: "format=nv12,hwupload=extra_hw_frames=64",
  encoderArgs: (encoder: string, video: EncoderVideoSpec) => {
    const rc = video.rate_control;
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
  },
  signatures: [
    { pattern: /MFX_ERR_MEMORY_ALLOC|Error allocating surfaces|\(-4\) memory allocation/i, kind: "out-of-memory" },
    { pattern: /MFX_ERR_DEVICE_LOST|MFX_ERR_DEVICE_FAILED|\(-17\) device operation failure|GPU hang/i, kind: "device-lost" },
    { pattern: /Error (?:initializing|creating) an? (?:internal )?MFX session|No device available for encoder|unsupported \(-3\)|Failed to create a VAAPI device/i, kind: "no-device" },
    { pattern: /MFX_ERR_INCOMPATIBLE_VIDEO_PARAM|Current profile is unsupported|Selected ratecontrol mode is unsupported|Low power mode is unsupported/i, kind: "unsupported-input" },
  ],
});
