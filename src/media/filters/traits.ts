/**
 * What a source picture is, read from FFprobe's stream (pure): its field order and colour. The video
 * filters (picture.ts) decide on these; the analyze result carries them (`video.traits`).
 */
import type { VideoTraits } from "../../core/task-contracts.ts";

export type { VideoTraits };

type Stream = Record<string, unknown>;

/** FFprobe writes "unknown" (or leaves the field out) when the stream does not say. */
const stated = (value: unknown): string | undefined => {
  if (typeof value !== "string" || value === "" || value === "unknown" || value === "unspecified" || value === "reserved") return undefined;
  return value;
};

/**
 * Bits per sample from the pixel format name: `yuv420p10le` → 10, `p010le` → 10, `yuv420p` → 8. FFprobe's
 * `bits_per_raw_sample` is not set by every decoder (H.264 in MP4 leaves it out), the name always is.
 */
export function bitDepthOf(pixelFormat: string | undefined): number | undefined {
  if (!pixelFormat || pixelFormat === "unknown") return undefined;
  // Semi-planar high-depth formats put the depth first (p010le, p016le); planar ones last (yuv420p10le, gray12le).
  const depth = /^p0(\d\d)/.exec(pixelFormat) ?? /p?(9|10|12|14|16)(?:le|be)$/.exec(pixelFormat);
  if (depth) return Number(depth[1]);
  return /^(rgb|bgr)a?(48|64)/.test(pixelFormat) ? 16 : 8;
}

export function videoTraitsOf(stream: Stream): VideoTraits {
  const traits: VideoTraits = {};
  const fieldOrder = stated(stream.field_order);
  if (fieldOrder) traits.field_order = fieldOrder;
  const primaries = stated(stream.color_primaries);
  if (primaries) traits.color_primaries = primaries;
  const transfer = stated(stream.color_transfer);
  if (transfer) traits.color_transfer = transfer;
  const space = stated(stream.color_space);
  if (space) traits.color_space = space;
  const range = stated(stream.color_range);
  if (range) traits.color_range = range;
  const depth = bitDepthOf(typeof stream.pix_fmt === "string" ? stream.pix_fmt : undefined);
  if (depth) traits.bit_depth = depth;
  return traits;
}

/** Field orders FFprobe gives interlaced content: top (tt, tb) or bottom (bb, bt) field first. */
const INTERLACED = new Set(["tt", "bb", "tb", "bt"]);

/** The source says its frames are interlaced (progressive and unknown do not). */
export const isInterlaced = (traits: VideoTraits | undefined): boolean => INTERLACED.has(traits?.field_order ?? "");

/** HDR transfer functions: PQ (SMPTE ST 2084, HDR10) and HLG (ARIB STD-B67). */
export type HdrTransfer = "smpte2084" | "arib-std-b67";

export function hdrTransfer(traits: VideoTraits | undefined): HdrTransfer | undefined {
  const transfer = traits?.color_transfer;
  return transfer === "smpte2084" || transfer === "arib-std-b67" ? transfer : undefined;
}
