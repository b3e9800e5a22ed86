/**
 * HLS alternate audio (package step): a source with several audio tracks gets video-only variants and one
 * audio-only media playlist per track, listed in the master as `EXT-X-MEDIA:TYPE=AUDIO` renditions of a
 * group (LANGUAGE, NAME, DEFAULT), so players offer a track switch. Each track's segments are cut from the
 * file its audio task encoded once for the whole job; renditions sharing an audio encode share the group.
 */
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { PackageParams } from "../../core/task-contracts.ts";
import { hlsArgs } from "../../media/ffmpeg-args.ts";
import { hlsLanguage, trackLabel } from "../../media/audio-tracks.ts";
import { type AudioRendition, codecString, parseMediaPlaylist, segmentBitrates } from "../../media/hls.ts";
import type { TaskContext } from "../executor.ts";
import { probeFile, runFfmpeg } from "./media-run.ts";

export interface AudioGroupInfo {
  group_id: string;
  /** RFC 6381 codec of the group's audio, added to its variants' CODECS. */
  codecs: string;
  /** Highest peak and average bit rates among the group's tracks, added to its variants' BANDWIDTH. */
  peak: number;
  average: number;
}

export interface HlsAudio {
  renditions: AudioRendition[];
  /** Group of each variant, by the variant's list of audio files (joined). */
  groupOf: Map<string, AudioGroupInfo>;
  bytes: number;
}

export const audioFilesKey = (files: readonly string[]) => files.join("\n");

/**
 * Undefined when the outputs carry at most one audio track: then audio stays muxed into the variants'
 * segments as before (one request per segment, what every player handles).
 */
export async function hlsAudioGroups(
  ctx: TaskContext,
  p: PackageParams,
  variantsAudio: ReadonlyArray<readonly string[]>,
  prefix: string,
  segmentSeconds: number,
  put: (key: string, path: string) => Promise<{ size: number }>,
): Promise<HlsAudio | undefined> {
  const tracks = p.source.audio_tracks ?? [];
  if (tracks.length < 2) return undefined;
  const sets = [...new Map(variantsAudio.filter((f) => f.length === tracks.length).map((f) => [audioFilesKey(f), f])).values()];
  if (sets.length === 0) return undefined;
  const out: HlsAudio = { renditions: [], groupOf: new Map(), bytes: 0 };
  for (const [g, files] of sets.entries()) {
    const groupId = `audio${g}`;
    const names = new Set<string>();
    const info: AudioGroupInfo = { group_id: groupId, codecs: "", peak: 0, average: 0 };
    for (const [i, t] of tracks.entries()) {
      const id = `${groupId}_${t.index}`;
      const dir = join(ctx.dir, "hls", id);
      mkdirSync(dir, { recursive: true });
      const playlistPath = join(dir, "index.m3u8");
      const args = hlsArgs({ input: files[i]!, out_dir_playlist: playlistPath, segment_pattern: join(dir, "seg_%05d.ts"), segment_seconds: segmentSeconds, segment_type: "mpegts", streams: "audio" });
      await runFfmpeg(ctx, `hls audio track ${t.index}`, args, { sources: [] });
      const playlist = parseMediaPlaylist(await Bun.file(playlistPath).text());
      const rates = segmentBitrates(playlist.segments.map((s) => ({ ...s, bytes: statSync(join(dir, s.uri)).size })), playlist.target_duration);
      info.peak = Math.max(info.peak, rates.peak);
      info.average = Math.max(info.average, rates.average);
      const a = (await probeFile(ctx, files[i]!)).streams.find((s) => s.codec_type === "audio");
      info.codecs ||= a ? codecString(a) : "mp4a.40.2";
      const channels = Number(a?.channels ?? 2);
      for (const name of readdirSync(dir).sort()) out.bytes += (await put(`${prefix}${id}/${name}`, join(dir, name))).size;
      // NAME must be unique in its group: two tracks titled alike get their number added.
      let name = trackLabel(t);
      if (names.has(name)) name = `${name} (${t.index})`;
      names.add(name);
      const language = hlsLanguage(t.language);
      out.renditions.push({ group_id: groupId, uri: `${id}/index.m3u8`, name, ...(language ? { language } : {}), default: t.default, channels });
    }
    out.groupOf.set(audioFilesKey(files), info);
  }
  return out;
}
