/**
 * How software frames reach a hardware encoder: the one definition that both the real pipeline
 * (args/video-chunk.ts) and the test encode proving an encoder (ffmpeg-info.ts) use, so a worker only
 * advertises an encoder through the very path its tasks will take. NVENC and software encoders take
 * system-memory frames; QSV and VAAPI need a device and an upload filter. (Issue 19 grows this into the
 * hardware module: decode, scaling and driver error signatures per accelerator.)
 */
import type { Pool } from "../core/pools.ts";

export const DEFAULT_VAAPI_DEVICE = "/dev/dri/renderD128";

/** Global options that open the device the upload filter uploads to (none when no upload is needed). */
export function hwDeviceArgs(pool: Pool, vaapiDevice: string = DEFAULT_VAAPI_DEVICE): string[] {
  if (pool === "vaapi") return ["-init_hw_device", `vaapi=va:${vaapiDevice}`, "-filter_hw_device", "va"];
  if (pool === "qsv") return ["-init_hw_device", "qsv=qs", "-filter_hw_device", "qs"];
  return [];
}

/** The filter that ends a software filter chain feeding this pool's encoder, if it needs one. */
export function hwUploadFilter(pool: Pool): string | undefined {
  if (pool === "qsv") return "format=nv12,hwupload=extra_hw_frames=64";
  if (pool === "vaapi") return "format=nv12,hwupload";
  return undefined;
}
