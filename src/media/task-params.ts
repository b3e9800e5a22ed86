/** Parameters the kernel gives each VOD task (the wire format between kernel and worker). */
import type { ProfileSpec } from "./profiles.ts";

export interface RenditionPlan {
  profile: ProfileSpec;
  width: number;
  height: number;
  /** FFmpeg encoder chosen for the pool, e.g. libx264 or h264_nvenc. */
  encoder: string;
  /** Keep every frame_step-th source frame (the profile's max_fps); 1 = all. */
  frame_step: number;
}

export interface ChunkPlan {
  seq: number;
  start_pts: number;
  start_frame: number;
  frames: number;
  duration_s: number;
}

export interface VideoParams {
  source_url: string;
  storage: string;
  chunk: ChunkPlan;
  chunk_count: number;
  /** Renditions of one pool are encoded together; several pools → several groups. */
  group: number;
  fps: number;
  renditions: RenditionPlan[];
  parts_prefix: string;
}

export interface AudioParams {
  source_url: string;
  storage: string;
  audio: NonNullable<ProfileSpec["audio"]>;
  key: string;
}

export interface PackageParams {
  storage: string;
  output_prefix: string;
  outputs: Array<"mp4" | "hls">;
  thumbnails: { poster?: boolean; sprite?: boolean; interval_s?: number } | null;
  source: { duration_s: number; frames: number; fps: number; has_audio: boolean };
  renditions: Array<RenditionPlan & { parts: Array<{ key: string; frames: number; seq: number }>; audio_key: string | null }>;
}

/**
 * Profiles that want the same audio (codec, bitrate, channels, rate) share one audio encode: audio is encoded
 * once per distinct rendition over the whole file, never per chunk (AAC priming would click at every join).
 */
export function audioGroups(profiles: ProfileSpec[]): Array<{ audio: NonNullable<ProfileSpec["audio"]>; profiles: string[] }> {
  const groups: Array<{ key: string; audio: NonNullable<ProfileSpec["audio"]>; profiles: string[] }> = [];
  for (const p of profiles) {
    if (!p.audio) continue;
    const key = JSON.stringify([p.audio.codec, p.audio.bitrate_kbps, p.audio.channels, p.audio.sample_rate ?? null]);
    const g = groups.find((x) => x.key === key);
    if (g) g.profiles.push(p.id);
    else groups.push({ key, audio: p.audio, profiles: [p.id] });
  }
  return groups.map(({ audio, profiles }) => ({ audio, profiles }));
}
