/**
 * The accelerators in the order "auto" prefers them (NVENC is the fastest per watt, then Quick Sync, then
 * generic VAAPI), CPU last; lookups by id, by encoder and by pool. A pool is the capability a task needs:
 * "cpu", or one proven encoder, `<accelerator>:<codec>` (nvenc:h264), so a GPU with h264_nvenc but no
 * hevc_nvenc never receives an HEVC task. Pure.
 */
import type { HwFamily } from "../../core/pools.ts";
import type { VideoCodec } from "../../core/profile-spec.ts";
import { cpu } from "./cpu.ts";
import { nvenc } from "./nvenc.ts";
import { qsv } from "./qsv.ts";
import type { Accelerator, AcceleratorId, HardwareAcceleratorId } from "./types.ts";
import { vaapi } from "./vaapi.ts";

export const HARDWARE_ACCELERATORS: readonly Accelerator[] = Object.freeze([nvenc, qsv, vaapi]);
export const ACCELERATORS: readonly Accelerator[] = Object.freeze([...HARDWARE_ACCELERATORS, cpu]);

export function accelerator(id: AcceleratorId): Accelerator {
  const found = ACCELERATORS.find((a) => a.id === id);
  if (!found) throw new Error(`unknown accelerator ${id}`);
  return found;
}

/** The accelerator of a hardware family (the capability report's name: nvidia → nvenc). */
export function acceleratorOfFamily(family: HwFamily): Accelerator {
  return HARDWARE_ACCELERATORS.find((a) => a.family === family) ?? cpu;
}

/** The accelerator an FFmpeg encoder runs on, from its name (h264_nvenc → nvenc; libx264 → cpu). */
export function acceleratorOfEncoder(encoder: string): Accelerator {
  return HARDWARE_ACCELERATORS.find((a) => a.probeEncoders.includes(encoder) || encoder.endsWith(`_${a.id}`)) ?? cpu;
}

/** The codec an encoder writes, from the accelerators' tables (undefined for encoders no profile uses). */
export function codecOfEncoder(encoder: string): VideoCodec | undefined {
  for (const a of ACCELERATORS) {
    const entry = Object.entries(a.encoders).find(([, name]) => name === encoder);
    if (entry) return entry[0] as VideoCodec;
  }
  const prefix = /^(h264|hevc|av1|vp9)_/.exec(encoder)?.[1];
  return prefix as VideoCodec | undefined;
}

/** The pool of a task encoded by this encoder: "cpu" for software, `<accelerator>:<codec>` for hardware. */
export function encoderPool(encoder: string): string {
  const a = acceleratorOfEncoder(encoder);
  const codec = codecOfEncoder(encoder);
  return a.id === "cpu" || codec === undefined ? "cpu" : `${a.id}:${codec}`;
}

/** Every hardware encoder pool a worker may offer, in a fixed order (the bus declares one queue each). */
export const HARDWARE_ENCODER_POOLS: readonly string[] = Object.freeze(
  HARDWARE_ACCELERATORS.flatMap((a) => a.probeEncoders.map((e) => encoderPool(e))).filter((p, i, all) => p !== "cpu" && all.indexOf(p) === i),
);

/** The pool's accelerator and encoder: "nvenc:hevc" → nvenc, hevc_nvenc. Undefined for cpu and unknown pools. */
export function poolEncoder(pool: string): { accelerator: HardwareAcceleratorId; encoder: string } | undefined {
  const m = /^(nvenc|qsv|vaapi):(\w+)$/.exec(pool);
  if (!m) return undefined;
  const id = m[1] as HardwareAcceleratorId;
  const encoder = accelerator(id).probeEncoders.find((e) => codecOfEncoder(e) === m[2]);
  return encoder ? { accelerator: id, encoder } : undefined;
}

export function isHardwarePool(pool: string): boolean {
  return poolEncoder(pool) !== undefined;
}
