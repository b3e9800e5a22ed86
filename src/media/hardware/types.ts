/**
 * The vocabulary of the hardware module: accelerators (nvenc, qsv, vaapi, and cpu as the last link), the
 * device a run uses, and what a driver's failure means for the task. Pure types and constants.
 */
import type { HwFamily } from "../../core/pools.ts";
import type { PixelFormat, RateControl, VideoCodec } from "../../core/profile-spec.ts";

export const ACCELERATOR_IDS = Object.freeze(["nvenc", "qsv", "vaapi", "cpu"] as const);
export type AcceleratorId = (typeof ACCELERATOR_IDS)[number];
export type HardwareAcceleratorId = Exclude<AcceleratorId, "cpu">;

/** Which device of a host a run uses: an NVIDIA GPU index, or a DRM render node (QSV, VAAPI). */
export interface DeviceRef {
  /** NVIDIA GPU index (`-hwaccel_device N`, `-gpu N`). Absent: the driver's default (0). */
  index?: number;
  /** DRM render node, e.g. /dev/dri/renderD128 (VAAPI, and QSV on a host with several). */
  path?: string;
}

/**
 * What a driver failure means for the task:
 * - session-limit: the device is busy (consumer NVIDIA cards allow a few concurrent encode sessions): wait and retry;
 * - out-of-memory, device-lost, no-device: the device failed this task; count against the device, fall back;
 * - unsupported-input: this device cannot take this input (10-bit 4:2:2, odd sizes): fall back, the device is fine.
 */
export type DriverFailureKind = "session-limit" | "out-of-memory" | "device-lost" | "no-device" | "unsupported-input";

export interface DriverSignature {
  pattern: RegExp;
  kind: DriverFailureKind;
}

export interface DriverFailure {
  accelerator: HardwareAcceleratorId;
  kind: DriverFailureKind;
  /** The driver's own line, without FFmpeg's "[h264_nvenc @ 0x…]" prefix. */
  message: string;
}

/** Everything FFmpeg needs to know about one accelerator; every builder and the probe read these. */
export interface Accelerator {
  id: AcceleratorId;
  /** The hardware family (worker capability report; legacy pool name); "cpu" for software. */
  family: HwFamily | "cpu";
  /** FFmpeg encoder per codec this accelerator can encode. */
  encoders: Readonly<Partial<Record<VideoCodec, string>>>;
  /** Encoders worth probing, in preference order (names a build may lack are skipped). */
  probeEncoders: readonly string[];
  /**
   * Source streams the device decodes (ffprobe's codec_name and pix_fmt). Anything else is decoded on the
   * CPU and uploaded: 10-bit 4:2:2, 4:4:4 and odd codecs are not decodable on most devices.
   */
  decodes: { codecs: readonly string[]; pixFmts: readonly string[] };
  /** Global options that open the device for upload/scale filters (before -i). */
  deviceArgs(device: DeviceRef, hwDecode: boolean): string[];
  /** Input options for decoding on the device (before -i); [] when it cannot decode. */
  decodeArgs(device: DeviceRef): string[];
  /** Scales frames already on the device. */
  scaleFilter(width: number, height: number): string;
  /** Ends a system-memory chain feeding the encoder (none: the encoder takes system frames). */
  uploadFilter: string | undefined;
  /**
   * `-c:v <encoder>` and its options. `framesOnDevice`: the encoder is fed device frames (hardware decode and
   * scale), which carry their own format: no `-pix_fmt` then (a conversion of device frames cannot be inserted).
   */
  encoderArgs(encoder: string, video: EncoderVideoSpec, device: DeviceRef, framesOnDevice: boolean): string[];
  /** How its driver fails, most specific first. */
  signatures: readonly DriverSignature[];
}

/** The parts of a profile's video spec an encoder reads. */
export interface EncoderVideoSpec {
  codec: VideoCodec;
  rate_control: RateControl;
  preset?: string;
  pixel_format?: PixelFormat;
}
