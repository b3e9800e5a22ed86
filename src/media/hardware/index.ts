/**
 * The hardware module: per accelerator (nvenc, qsv, vaapi, and cpu as the last link) the device, upload,
 * scale, encode and decode fragments, the capability probe and the driver's error signatures. Capability
 * detection (media/capabilities.ts), argument building (media/args/) and failure classification
 * (worker/failures.ts) all read from here, so the path a worker proves is the path its tasks take.
 */
export * from "./types.ts";
export * from "./accelerators.ts";
export * from "./driver-errors.ts";
export * from "./pipeline.ts";
export * from "./probe.ts";
export { SOFTWARE_ENCODERS, cpu } from "./cpu.ts";
export { nvenc } from "./nvenc.ts";
export { qsv } from "./qsv.ts";
export { DEFAULT_VAAPI_DEVICE, vaapi } from "./vaapi.ts";
export * from "./nvidia-smi.ts";
