/**
 * Burning one subtitle track into the picture (job option `burn_subtitles`, docs/media.md). Pure: which
 * track the option names, and the FFmpeg pieces of the burn.
 *
 * - The option names exactly one track: `{ track: N }` (N of FFmpeg's `0:s:N`: the source's subtitle
 *   streams in order, text or bitmap), `{ sidecar: N }` (the job's `subtitles[N]`) or `{ language }` (the
 *   one track, source or sidecar, tagged with it). Resolved at planning against the analyzed source.
 * - Text tracks only. A bitmap track (PGS, DVB, DVD) is not burned: FFmpeg 5.1 draws one only with
 *   `overlay` fed by sub2video, and a chunk that seeks into the source would lose the picture already on
 *   screen at its start (a PGS picture stays until the next), so split and one-piece outputs would differ.
 *   The job goes on without it and says why under `source.burned_subtitles` (bitmap subtitles are dropped
 *   with a warning, never a failure: docs/media.md).
 * - Each video chunk converts the track to ASS (a demux of the subtitle stream only, no picture decoding)
 *   with its times on the SOURCE clock (`-copyts`), and burns it with libass (`ass` filter) on frames put
 *   back at their source time, so a cue lands on the same frames whichever chunk renders them.
 */
import { seconds } from "./args/units.ts";
import { TEXT_SUBTITLE_CODECS } from "./subtitles.ts";

/** The job option as submitted (checked at `POST /v1/jobs`: exactly one of track, sidecar, language). */
export interface BurnSubtitlesOption {
  track?: number;
  sidecar?: number;
  language?: string;
  /** Also carry the burned track as a soft track (mov_text / WebVTT). Default false. */
  keep_soft?: boolean;
}

/** The source as planning sees it: its text tracks and the streams it leaves out (bitmap subtitles among them). */
export interface BurnSource {
  subtitle_tracks?: ReadonlyArray<{ index: number; codec: string; language: string; title: string | null }>;
  ignored_streams?: ReadonlyArray<{ index: number; type: string; codec: string; language?: string }>;
}

/** What is burned: a text stream of the source (FFprobe index) or the job's sidecar at a position. */
export type BurnChoice = { kind: "stream"; index: number; codec: string } | { kind: "sidecar"; position: number };

/** What the job shows under `source.burned_subtitles`: the track burned, or the one named and why it was not. */
export interface BurnReport {
  track: string;
  burned: boolean;
  reason?: string;
}

/** The option resolved: a track to burn (with its label), a track that cannot be burned (skip), or an error. */
export type BurnResolution = { choice: BurnChoice; label: string } | { skip: BurnReport } | { error: string };

interface Candidate {
  label: string;
  language: string;
  codec: string;
  choice: BurnChoice;
}

/** The source's subtitle streams in FFmpeg's `0:s:N` order (text ones carried, others left out), then the sidecars. */
function candidates(source: BurnSource, sidecars: ReadonlyArray<{ language: string; name: string }>): { streams: Candidate[]; sidecars: Candidate[] } {
  const text = (source.subtitle_tracks ?? []).map((t) => ({ index: t.index, codec: t.codec, language: t.language }));
  const other = (source.ignored_streams ?? []).filter((s) => s.type === "subtitle").map((s) => ({ index: s.index, codec: s.codec, language: s.language ?? "und" }));
  const streams = [...text, ...other]
    .sort((a, b) => a.index - b.index)
    .map((s, n) => ({ label: `track ${n} (${s.language}, ${s.codec})`, language: s.language, codec: s.codec, choice: { kind: "stream" as const, index: s.index, codec: s.codec } }));
  return {
    streams,
    sidecars: sidecars.map((s, n) => ({ label: `sidecar ${n} (${s.language}, "${s.name}")`, language: s.language, codec: "text", choice: { kind: "sidecar" as const, position: n } })),
  };
}

const listOf = (all: readonly Candidate[]) => (all.length === 0 ? "none" : all.map((c) => c.label).join(", "));

/**
 * The track `option` names; a bitmap track, which is not burned (`skip`, the job goes on); or why the option
 * names no usable track (the job fails at planning with WE-JOB-007). The sidecar position was checked at
 * submission already; it is checked again so this stays total.
 */
export function resolveBurn(option: BurnSubtitlesOption, source: BurnSource, sidecars: ReadonlyArray<{ language: string; name: string }>): BurnResolution {
  const all = candidates(source, sidecars);
  const everything = [...all.streams, ...all.sidecars];
  let picked: Candidate | undefined;
  if (option.track !== undefined) {
    picked = all.streams[option.track];
    if (!picked) return { error: `burn_subtitles names subtitle track ${option.track}, which the source does not have (its subtitle tracks: ${listOf(all.streams)})` };
  } else if (option.sidecar !== undefined) {
    picked = all.sidecars[option.sidecar];
    if (!picked) return { error: `burn_subtitles names sidecar ${option.sidecar}, but the job has ${all.sidecars.length} sidecar subtitle file(s)` };
  } else if (option.language !== undefined) {
    const wanted = option.language.toLowerCase();
    const matches = everything.filter((c) => c.language.toLowerCase() === wanted);
    if (matches.length === 0) return { error: `burn_subtitles names language "${option.language}", which no subtitle track has (tracks: ${listOf(everything)})` };
    if (matches.length > 1) return { error: `burn_subtitles names language "${option.language}", which several tracks have (${listOf(matches)}): name one with "track" or "sidecar"` };
    picked = matches[0]!;
  } else {
    return { error: 'burn_subtitles names no track: give "track", "sidecar" or "language"' };
  }
  if (picked.choice.kind === "stream" && !TEXT_SUBTITLE_CODECS.has(picked.codec)) {
    return {
      skip: {
        track: picked.label,
        burned: false,
        reason: `bitmap subtitles (${picked.codec}) cannot be burned in (only text subtitles: SRT, ASS/SSA, mov_text, WebVTT): the outputs have no burned subtitles and the track is dropped`,
      },
    };
  }
  return { choice: picked.choice, label: picked.label };
}

/** Whether a carried soft track is the burned one (left out of the soft tracks unless keep_soft). */
export function isBurned(choice: BurnChoice | undefined, track: { stream: number } | { sidecar: number }): boolean {
  if (!choice) return false;
  return "stream" in track ? choice.kind === "stream" && choice.index === track.stream : choice.kind === "sidecar" && choice.position === track.sidecar;
}

/**
 * The track → an ASS file on the SOURCE clock. `-copyts` keeps the stream's own times (FFmpeg would
 * otherwise move the first cue to 0); `offset_s` is added to them: 0 for a stream of the source, the
 * source's first video frame pts for a sidecar (whose 0 is the start of the video). `format` names a
 * sidecar's demuxer; `stream` the source's stream (FFprobe index).
 */
export function burnExtractArgs(input: { input: string; stream?: number; format?: string; offset_s: number; output: string }): string[] {
  const offset = input.offset_s !== 0 ? ["-itsoffset", seconds(input.offset_s)] : [];
  const format = input.format ? ["-f", input.format] : [];
  const map = input.stream === undefined ? "0:s:0" : `0:${input.stream}`;
  return ["-copyts", ...offset, ...format, "-i", input.input, "-map", map, "-c:s", "ass", "-f", "ass", input.output];
}

/**
 * The filters that burn `assPath` into a chunk whose first frame is the source keyframe at `startPts`: the
 * frames (at 0 after the chunk's rebase) go back to their source time, libass draws the cues due then, and
 * the part starts at 0 again. libass scales the ASS script's coordinates to the frame, which is the source
 * picture, so every rendition shows the same subtitle scaled with the picture.
 */
export function burnFilters(assPath: string, startPts: number): string[] {
  // The path is ours (the task's folder); quoting in a filter graph cannot carry ' or \, so refuse them.
  if (/['\\\n]/.test(assPath)) throw new Error(`burnFilters: unusable path for the ass filter: ${assPath}`);
  return [`setpts=PTS${startPts < 0 ? "-" : "+"}${seconds(Math.abs(startPts))}/TB`, `ass=filename='${assPath}'`, "setpts=PTS-STARTPTS"];
}
