/**
 * NVIDIA: NVDEC decode into CUDA frames, `scale_cuda` on the GPU, NVENC encode. NVENC also takes system-memory
 * frames, so the CPU-decode path needs no upload filter: the encoder copies them to the GPU it runs on (`-gpu`).
 * Options (FFmpeg 5.1 names, `ffmpeg -h encoder=h264_nvenc`): -preset p4 -tune hq -rc vbr, -cq for constant
 * quality (with -b:v 0), -no-scenecut 1, -forced-idr 1.
 */
import { bitrateArgs } from "./rate-control.ts";
import type { Accelerator, DeviceRef, EncoderVideoSpec } from "./types.ts";

/** `-gpu N` picks the GPU for system-memory frames; CUDA frames carry their own device. */
const gpuArgs = (device: DeviceRef) => (device.index === undefined ? [] : ["-gpu", String(device.index)]);

export const nvenc: Accelerator = Object.freeze<Accelerator>({
  id: "nvenc",
  family: "nvidia",
  encoders: { h264: "h264_nvenc", hevc: "hevc_nvenc" },
  probeEncoders: ["h264_nvenc", "hevc_nvenc", "av1_nvenc"],
  // 8-bit 4:2:0 only: NVDEC decodes 10-bit HEVC too, but an h264 rung of the same ladder could not take P010 frames.
  decodes: { codecs: ["h264", "hevc", "vp9", "av1", "mpeg2video", "mpeg4", "vc1"], pixFmts: ["yuv420p", "yuvj420p", "nv12"] },
  deviceArgs: () => [],
  decodeArgs: (device: DeviceRef) => [
    "-hwaccel",
    "cuda",
    "-hwaccel_output_format",
    "cuda",
    ...(device.index === undefined ? [] : ["-hwaccel_device", String(device.index)]),
  ],
  scaleFilter: (width: number, height: number) => `scale_cuda=${width}:${height}`,
  uploadFilter: undefined,
  encoderArgs: (encoder: string, video: EncoderVideoSpec, device: DeviceRef, framesOnDevice: boolean) => {
    const rc = video.rate_control;
    return [
      "-c:v",
      encoder,
      ...gpuArgs(device),
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
      ...(framesOnDevice ? [] : ["-pix_fmt", video.pixel_format ?? "yuv420p"]),
    ];
  },
  signatures: [
    // The session limit of consumer cards: the driver refuses another session with one of these two.
    { pattern: /OpenEncodeSessionEx failed: incompatible client key \(21\)/i, kind: "session-limit" },
    { pattern: /OpenEncodeSessionEx failed: out of memory \(10\)/i, kind: "session-limit" },
    { pattern: /CUDA_ERROR_OUT_OF_MEMORY|cuMemAlloc.*out of memory/i, kind: "out-of-memory" },
    { pattern: /No NVENC capable devices found|Cannot load libcuda\.so|Cannot load libnvidia-encode|CUDA_ERROR_NO_DEVICE|CUDA_ERROR_NOT_INITIALIZED|CUDA_ERROR_INVALID_DEVICE/i, kind: "no-device" },
    { pattern: /CUDA_ERROR_(?:LAUNCH_FAILED|ILLEGAL_ADDRESS|ECC_UNCORRECTABLE|UNKNOWN)|GPU has fallen off the bus|device lost/i, kind: "device-lost" },
    { pattern: /Provided device doesn't support required NVENC features|10 bit encode not supported|Unsupported input format|Invalid (?:input )?pixel format|Impossible to convert between the formats supported by the filter/i, kind: "unsupported-input" },
  ],
});
