/**
 * Task parameters: their types and schemas are the task contracts (src/core/task-contracts.ts), re-exported
 * here for the media code that builds them; what is media logic about them stays here.
 */
import type { ProfileSpec } from "./profiles.ts";

export type { AudioParams, ChunkPlan, PackageParams, RenditionPlan, VideoParams } from "../core/task-contracts.ts";

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
