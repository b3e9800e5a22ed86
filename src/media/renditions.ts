/**
 * Which renditions a source gets, and at what size. Pure.
 *
 * Sizes follow the DISPLAY picture: rotation metadata of 90/270 swaps width and height (FFmpeg
 * auto-rotates while decoding, so the filter graph sees the rotated picture), and a non-square
 * sample aspect ratio is applied, because every output is written with square pixels (setsar=1).
 * The aspect ratio is kept, never letterboxed, and both sides are even (4:2:0 chroma).
 */
import type { ProfileSpec } from "./profiles.ts";

export interface SourceVideo {
  width: number;
  height: number;
  /** Display rotation in degrees from the stream's display matrix (any multiple of 90, sign ignored). */
  rotation: number;
  fps: number;
  /** Pixel width ÷ height (1 for square pixels, 64/45 for 16:9 PAL DVD). Default 1. */
  sample_aspect_ratio?: number;
}

export interface Rendition {
  profile: ProfileSpec;
  width: number;
  height: number;
  /**
   * Keep every frame_step-th source frame (1 = all) to honour the profile's max_fps with a whole-number
   * divisor of the source rate (60 → 30, 59.94 → 29.97, 50 → 25), so the output stays constant-rate
   * and its frame count is exactly computable per chunk (see args/video-chunk.ts, decimatedFrameCount).
   */
  frame_step: number;
}

export interface SelectOptions {
  /** Keep profiles taller than the source (scaled up). Default false. */
  allowUpscale?: boolean;
}

/** Nearest even integer, at least 2. */
export function even(x: number): number {
  return Math.max(2, 2 * Math.round(x / 2));
}

/** Display dimensions of the source: rotation and sample aspect ratio applied. */
export function displaySize(source: SourceVideo): { width: number; height: number } {
  const sar = source.sample_aspect_ratio && source.sample_aspect_ratio > 0 ? source.sample_aspect_ratio : 1;
  const width = source.width * sar;
  const quarterTurns = Math.round(source.rotation / 90);
  return quarterTurns % 2 === 0 ? { width, height: source.height } : { width: source.height, height: width };
}

/**
 * One rendition per applicable profile, in the order given.
 *
 * The profile's `height` is the size of the picture's SHORTER side: 720p of a 1920×1080 source is
 * 1280×720 and 720p of a 1080×1920 portrait source is 720×1280, so a phone video gets the same
 * quality class (and roughly the same bitrate budget per pixel) as a landscape one, which is what
 * "720p" means to users and what the ladder's bitrates were chosen for.
 *
 * Profiles taller than the source are skipped unless `allowUpscale`; when that leaves nothing, the
 * lowest profile is kept at the source's own size (rounded down to even), so every job has an output.
 */
export function selectRenditions(profiles: readonly ProfileSpec[], source: SourceVideo, opts: SelectOptions = {}): Rendition[] {
  if (!(source.width > 0 && source.height > 0)) throw new Error(`source size must be positive (got ${source.width}x${source.height})`);
  if (!(source.fps > 0)) throw new Error(`source fps must be positive (got ${source.fps})`);
  const display = displaySize(source);
  const short = Math.min(display.width, display.height);
  const long = Math.max(display.width, display.height);
  const landscape = display.width >= display.height;

  const sized = (profile: ProfileSpec, shortSide: number): Rendition => {
    const longSide = even((shortSide * long) / short);
    const [width, height] = landscape ? [longSide, shortSide] : [shortSide, longSide];
    return { profile, width, height, frame_step: frameStep(source.fps, profile.video.max_fps) };
  };

  const fitting = profiles.filter((p) => opts.allowUpscale || p.video.height <= short);
  if (fitting.length > 0) return fitting.map((p) => sized(p, p.video.height));
  if (profiles.length === 0) return [];
  const lowest = profiles.reduce((a, b) => (b.video.height < a.video.height ? b : a));
  return [sized(lowest, Math.max(2, 2 * Math.floor(short / 2)))];
}

/** The smallest whole divisor of the source rate that brings it to max_fps or below. */
export function frameStep(fps: number, maxFps: number | undefined): number {
  if (maxFps === undefined || fps <= maxFps) return 1;
  // The epsilon keeps an exact ratio whole when the rates come from rounded or binary fractions.
  return Math.ceil(fps / maxFps - 1e-9);
}

/** A requested profile the source gets no rendition of, and why (reported in the job's `source`). */
export interface SkippedProfile {
  profile: string;
  reason: string;
}

/**
 * The requested profiles left out by selectRenditions: a 240p source asked for the 1080p ladder gets the
 * rungs that make sense, and the job says which it did not get, so nobody waits for a 1080p file.
 */
export function skippedProfiles(profiles: readonly ProfileSpec[], renditions: readonly Rendition[], source: SourceVideo): SkippedProfile[] {
  const display = displaySize(source);
  const short = Math.round(Math.min(display.width, display.height));
  return profiles
    .filter((p) => !renditions.some((r) => r.profile.id === p.id))
    .map((p) => ({ profile: p.id, reason: `${p.video.height}p is larger than the source (${short}p): profiles are not scaled up` }));
}
