/**
 * The decode → scale → encode fragments of one chunk run, per accelerator. Two shapes:
 * - full GPU: the device decodes (`-hwaccel cuda -hwaccel_output_format cuda`, qsv, vaapi), one decode is split
 *   to every rung, each rung scales on the device (scale_cuda, scale_qsv, scale_vaapi) and the encoder takes
 *   device frames: no frame crosses the bus between GPU and system memory;
 * - CPU decode + upload: for sources the device cannot decode (10-bit 4:2:2, odd codecs) and for the CPU: the
 *   CPU decodes and scales, then the frames are uploaded (QSV, VAAPI) or handed to NVENC as they are.
 * Which one is decided at planning from the probe (canDecodeOnDevice) and travels in the task params. Pure.
 */
import { acceleratorOfEncoder, poolEncoder } from "./accelerators.ts";
import type { Accelerator, DeviceRef } from "./types.ts";

/** The source stream as the analysis describes it (codec_name, pix_fmt of ffprobe). */
export interface SourceVideoFormat {
  codec: string;
  pix_fmt: string | null;
}

/** Whether this accelerator decodes the source on the device. Unknown pixel formats are decoded on the CPU. */
export function canDecodeOnDevice(a: Accelerator, source: SourceVideoFormat): boolean {
  return a.id !== "cpu" && source.pix_fmt !== null && a.decodes.codecs.includes(source.codec) && a.decodes.pixFmts.includes(source.pix_fmt);
}

/**
 * The one accelerator a run's encoders share: a run opens one device. Software encoders may join a hardware
 * run (CPU decode only); two hardware accelerators in one run are an error.
 */
export function runAccelerator(encoders: readonly string[]): Accelerator {
  const hardware = [...new Set(encoders.map((e) => acceleratorOfEncoder(e)).filter((a) => a.id !== "cpu"))];
  if (hardware.length > 1) throw new Error(`cannot mix ${hardware.map((a) => a.id).join(" and ")} encoders in one process`);
  return hardware[0] ?? acceleratorOfEncoder("libx264");
}

/** Global and input options before `-i`: the device, and hardware decode when asked for. */
export function inputArgs(a: Accelerator, device: DeviceRef, hwDecode: boolean): string[] {
  return [...a.deviceArgs(device, hwDecode), ...(hwDecode ? a.decodeArgs(device) : [])];
}

export interface RungFilter {
  width: number;
  height: number;
  /** Filters before the scale (frame selection), in order. */
  before?: readonly string[];
  /** The encoder of this rung: its accelerator decides the upload of a CPU-decoded chain. */
  encoder: string;
}

/**
 * One rung's filter chain after the split. On the device: scale there; `setsar=1` only edits metadata, so it
 * works on device frames too. From the CPU: software scale, then the upload the rung's encoder needs.
 */
export function rungChain(run: Accelerator, rung: RungFilter, hwDecode: boolean): string {
  const filters = [...(rung.before ?? [])];
  if (hwDecode) {
    filters.push(run.scaleFilter(rung.width, rung.height), "setsar=1");
  } else {
    filters.push(`scale=${rung.width}:${rung.height}`, "setsar=1");
    const upload = acceleratorOfEncoder(rung.encoder).uploadFilter;
    if (upload) filters.push(upload);
  }
  return filters.join(",");
}

/** Planning's decision for a GPU pool (nvenc:h264 …): does its device decode this source? */
export function decodesOnDevice(pool: string, source: SourceVideoFormat): boolean {
  const found = poolEncoder(pool);
  return found !== undefined && canDecodeOnDevice(acceleratorOfEncoder(found.encoder), source);
}
