/**
 * Subtitles in the package step (docs/media.md): each track (a text stream of the source or a sidecar file)
 * is converted to WebVTT once for the whole job, not per chunk or rendition. Reading a subtitle stream only
 * demuxes the file (no decoding of the picture), so a separate task would cost a queue round trip for
 * seconds of work. The converted cues are muxed into MP4 (mov_text) and WebM, and cut into HLS WebVTT
 * segments on the video's segment boundaries.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PackageParams } from "../../core/task-contracts.ts";
import { hlsLanguage } from "../../media/audio-tracks.ts";
import type { SubtitleRendition } from "../../media/hls.ts";
import { parseVtt, segmentVtt, shiftCues, sidecarFormat, subtitleToVttArgs, type VttCue, vttFile } from "../../media/subtitles.ts";
import type { TaskContext } from "../executor.ts";
import { resolveInput } from "./io.ts";
import { runFfmpeg } from "./media-run.ts";

export interface ConvertedSubtitle {
  /** WebVTT on the output's clock (0 = the first video frame). */
  path: string;
  cues: VttCue[];
  language: string;
  name: string;
  default: boolean;
}

export const SUBTITLE_GROUP = "subs";

/** Every subtitle track of the job as WebVTT in the task's folder, in output order. */
export async function convertSubtitles(ctx: TaskContext, params: PackageParams): Promise<ConvertedSubtitle[]> {
  const converted: ConvertedSubtitle[] = [];
  for (const [i, track] of (params.subtitles ?? []).entries()) {
    const input = await resolveInput(ctx.plugins, track.source_url, track.storage, { allowCidrs: ctx.outboundAllowCidrs, signal: ctx.signal });
    const raw = join(ctx.dir, `subtitle_${i}.source.vtt`);
    const format = track.stream === undefined ? sidecarFormat(track.source_url) : undefined;
    // A source's stream or a user's sidecar: what FFmpeg says about it is about that input.
    await runFfmpeg(ctx, `subtitle ${track.name}`, subtitleToVttArgs({ input, ...(track.stream === undefined ? {} : { stream: track.stream }), ...(format ? { format } : {}), output: raw }), { sources: [input] });
    const cues = shiftCues(parseVtt(await Bun.file(raw).text()), track.shift_s);
    const path = join(ctx.dir, `subtitle_${i}.vtt`);
    writeFileSync(path, vttFile(cues));
    converted.push({ path, cues, language: track.language, name: track.name, default: track.default });
  }
  return converted;
}

/**
 * One WebVTT media playlist per track, its segments cut where the video's are (`durations`, from a
 * variant's playlist: every variant has the same boundaries, checked by the package step). `mpegts`: the
 * video segments' first PTS (90 kHz).
 */
export async function hlsSubtitleRenditions(
  ctx: TaskContext,
  subtitles: readonly ConvertedSubtitle[],
  options: { durations: readonly number[]; mpegts: number; prefix: string },
  put: (key: string, path: string) => Promise<{ size: number }>,
): Promise<{ renditions: SubtitleRendition[]; bytes: number }> {
  const renditions: SubtitleRendition[] = [];
  let bytes = 0;
  for (const [i, s] of subtitles.entries()) {
    const id = `subs_${i}`;
    const dir = join(ctx.dir, "hls", id);
    mkdirSync(dir, { recursive: true });
    const cut = segmentVtt(s.cues, { durations: options.durations, mpegts: options.mpegts, segment_name: (n) => `seg_${String(n).padStart(5, "0")}.vtt` });
    for (const [n, text] of cut.segments.entries()) {
      const name = `seg_${String(n).padStart(5, "0")}.vtt`;
      writeFileSync(join(dir, name), text);
      bytes += (await put(`${options.prefix}${id}/${name}`, join(dir, name))).size;
    }
    writeFileSync(join(dir, "index.m3u8"), cut.playlist);
    bytes += (await put(`${options.prefix}${id}/index.m3u8`, join(dir, "index.m3u8"))).size;
    const language = hlsLanguage(s.language);
    renditions.push({ group_id: SUBTITLE_GROUP, uri: `${id}/index.m3u8`, name: s.name, ...(language ? { language } : {}), default: s.default });
  }
  return { renditions, bytes };
}
