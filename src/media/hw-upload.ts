/**
 * How software frames reach a hardware encoder, by pool or family: kept for callers that still speak in
 * families; the definitions are the accelerators' (media/hardware/), which the real pipeline and the test
 * encode both use.
 */
import { acceleratorOfEncoder, acceleratorOfFamily, DEFAULT_VAAPI_DEVICE, poolEncoder } from "./hardware/index.ts";
import type { Accelerator } from "./hardware/index.ts";
import { HW_FAMILIES, type HwFamily } from "../core/pools.ts";

export { DEFAULT_VAAPI_DEVICE };

function acceleratorOfPool(pool: string): Accelerator | undefined {
  if ((HW_FAMILIES as readonly string[]).includes(pool)) return acceleratorOfFamily(pool as HwFamily);
  const encoder = poolEncoder(pool)?.encoder;
  return encoder ? acceleratorOfEncoder(encoder) : undefined;
}

/** Global options that open the device the upload filter uploads to (none when no upload is needed). */
export function hwDeviceArgs(pool: string, vaapiDevice: string = DEFAULT_VAAPI_DEVICE): string[] {
  const a = acceleratorOfPool(pool);
  if (!a || a.uploadFilter === undefined) return [];
  return a.deviceArgs(a.id === "vaapi" ? { path: vaapiDevice } : {}, false);
}

/** The filter that ends a software filter chain feeding this pool's encoder, if it needs one. */
export function hwUploadFilter(pool: string): string | undefined {
  return acceleratorOfPool(pool)?.uploadFilter;
}
