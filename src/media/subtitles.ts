/**
 * Subtitles (docs/media.md): text tracks of the source are converted once per track for the whole job to
 * WebVTT by the package step, then carried as `mov_text` in MP4 (WebVTT in WebM) and as segmented WebVTT
 * renditions in HLS. Bitmap tracks (DVD, PGS, DVB) cannot become text: they are left out and listed under
 * the job's `source.ignored_streams` with the reason (media/probe.ts).
 *
 * Everything here is pure: which streams are text, the FFmpeg arguments of the conversion, and cutting a
 * WebVTT file into segments on the video's own HLS segment boundaries.
 */
import { seconds } from "./args/units.ts";

/** FFmpeg decoders of text subtitles: each converts to WebVTT without OCR. */
export const TEXT_SUBTITLE_CODECS: ReadonlySet<string> = new Set(["subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text", "microdvd", "subviewer", "jacosub", "sami", "realtext", "mpl2", "vplayer", "pjs", "stl"]);

/** Bitmap subtitle codecs: pictures, not text (no OCR here). */
export const BITMAP_SUBTITLE_CODECS: ReadonlySet<string> = new Set(["dvd_subtitle", "hdmv_pgs_subtitle", "dvb_subtitle", "xsub", "dvb_teletext"]);

/** A text subtitle stream of the source, as the analyze step lists it. */
export interface SubtitleTrack {
  /** FFprobe's stream index in the source file (mapped as `0:<index>`). */
  index: number;
  codec: string;
  /** ISO 639-2 from the `language` tag, "und" when absent. */
  language: string;
  title: string | null;
  default: boolean;
}

/** Text subtitle streams of a source, in stream order (FFprobe's `streams`). */
export function subtitleTracksOf(streams: ReadonlyArray<Record<string, unknown>>): SubtitleTrack[] {
  const tracks: SubtitleTrack[] = [];
  for (const [position, stream] of streams.entries()) {
    if (stream.codec_type !== "subtitle" || typeof stream.codec_name !== "string" || !TEXT_SUBTITLE_CODECS.has(stream.codec_name)) continue;
    const tags = (stream.tags ?? {}) as Record<string, unknown>;
    const disposition = (stream.disposition ?? {}) as Record<string, unknown>;
    tracks.push({
      index: typeof stream.index === "number" ? stream.index : position,
      codec: stream.codec_name,
      language: typeof tags.language === "string" && tags.language !== "" ? tags.language : "und",
      title: typeof tags.title === "string" && tags.title !== "" ? tags.title : null,
      default: disposition.default === 1,
    });
  }
  return tracks;
}

/** Why a subtitle stream is left out (media/probe.ts lists it under ignored_streams); undefined when carried. */
export function subtitleIgnoredReason(codec: string): string | undefined {
  if (TEXT_SUBTITLE_CODECS.has(codec)) return undefined;
  if (BITMAP_SUBTITLE_CODECS.has(codec)) return `bitmap subtitles (${codec}) are dropped: only text subtitles are converted to WebVTT/mov_text (docs/media.md)`;
  return `subtitles in ${codec} are not converted (docs/media.md)`;
}

/** Sidecar subtitle files by name ending → FFmpeg's demuxer (named with -f: the file is a sidecar, not a source). */
const SIDECAR_FORMATS: Readonly<Record<string, string>> = { srt: "srt", ass: "ass", ssa: "ass", vtt: "webvtt" };

/** The demuxer of a sidecar subtitle URL or key (`.srt`, `.ass`, `.ssa`, `.vtt`, query ignored); undefined otherwise. */
export function sidecarFormat(url: string): string | undefined {
  const path = url.replace(/[?#].*$/, "");
  const ending = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
  return Object.hasOwn(SIDECAR_FORMATS, ending) ? SIDECAR_FORMATS[ending] : undefined;
}

/**
 * One subtitle stream (`stream`: the absolute index in the source; undefined for a sidecar file, whose
 * demuxer `format` names) → a WebVTT file. Styling of ASS is dropped (WebVTT has no equivalent FFmpeg writes).
 */
export function subtitleToVttArgs(input: { input: string; stream?: number; format?: string; output: string }): string[] {
  const map = input.stream === undefined ? "0:s:0" : `0:${input.stream}`;
  return [...(input.format ? ["-f", input.format] : []), "-i", input.input, "-map", map, "-c:s", "webvtt", "-f", "webvtt", input.output];
}

/** A whole WebVTT file of cues (already on the output's clock): what the MP4/WebM mux reads. */
export function vttFile(cues: readonly VttCue[]): string {
  return ["WEBVTT\n", ...cues.map((cue) => `${vttTime(cue.start_s)} --> ${vttTime(cue.end_s)}${cue.settings ? ` ${cue.settings}` : ""}\n${cue.text}\n`)].join("\n");
}

/** Cues moved by -shift_s onto the output's clock; cues that end before 0 are dropped, one starting before 0 starts at 0. */
export function shiftCues(cues: readonly VttCue[], shift_s: number): VttCue[] {
  return cues
    .map((cue) => ({ ...cue, start_s: Math.max(0, cue.start_s - shift_s), end_s: cue.end_s - shift_s }))
    .filter((cue) => cue.end_s > 0 && cue.end_s > cue.start_s);
}

export interface VttCue {
  start_s: number;
  end_s: number;
  /** Cue settings after the timing (`line:90% align:center`), may be empty. */
  settings: string;
  text: string;
}

const TIME = /^(?:(\d+):)?(\d{1,2}):(\d{2})\.(\d{3})$/;

function parseTime(value: string): number | undefined {
  const m = value.match(TIME);
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000;
}

/** The cues of a WebVTT file (as FFmpeg's webvtt muxer writes it: header, blank lines, cues). */
export function parseVtt(text: string): VttCue[] {
  const cues: VttCue[] = [];
  for (const block of text.replace(/\r\n?/g, "\n").split(/\n{2,}/)) {
    const lines = block.split("\n").filter((line) => line !== "");
    const at = lines.findIndex((line) => line.includes("-->"));
    if (at < 0) continue;
    const [left, right = ""] = lines[at]!.split("-->");
    const [endText = "", ...settings] = right.trim().split(/\s+/);
    const start = parseTime(left!.trim());
    const end = parseTime(endText);
    if (start === undefined || end === undefined) continue;
    cues.push({ start_s: start, end_s: end, settings: settings.join(" "), text: lines.slice(at + 1).join("\n") });
  }
  return cues;
}

/** hh:mm:ss.mmm, as WebVTT writes timestamps. */
export function vttTime(totalSeconds: number): string {
  const ms = Math.max(0, Math.round(totalSeconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

export interface VttSegments {
  /** WebVTT file per segment, same count and order as the video segment durations. */
  segments: string[];
  /** The media playlist listing them as `<prefix><n>.vtt`. */
  playlist: string;
}

/**
 * Cuts cues into HLS WebVTT segments with the boundaries of the video's segments (`durations`, from the
 * video's own media playlist), so subtitle and video segments cover the same time. A cue crossing a
 * boundary is written in both segments (RFC 8216 §3.5 allows it; players drop the duplicate).
 * The cues are on the output's clock (shiftCues). `mpegts` is the
 * video segments' first PTS in 90 kHz ticks: `X-TIMESTAMP-MAP` tells the player which media time a cue
 * time of 0 is (RFC 8216 §3.5), as MPEG-TS segments do not start at 0.
 */
export function segmentVtt(cues: readonly VttCue[], options: { durations: readonly number[]; mpegts: number; segment_name: (n: number) => string }): VttSegments {
  const header = `WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:${Math.max(0, Math.round(options.mpegts))},LOCAL:00:00:00.000\n`;
  const segments: string[] = [];
  let from = 0;
  const lines = ["#EXTM3U", "#EXT-X-VERSION:3", `#EXT-X-TARGETDURATION:${Math.max(1, Math.ceil(Math.max(0, ...options.durations)))}`, "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-PLAYLIST-TYPE:VOD"];
  for (const [n, duration] of options.durations.entries()) {
    // The last segment takes every cue that is left, even one ending after the video.
    const to = n === options.durations.length - 1 ? Number.POSITIVE_INFINITY : from + duration;
    const body = cues
      .filter((cue) => cue.end_s > from && cue.start_s < to)
      .map((cue) => `${vttTime(cue.start_s)} --> ${vttTime(cue.end_s)}${cue.settings ? ` ${cue.settings}` : ""}\n${cue.text}\n`);
    segments.push([header, ...body].join("\n"));
    lines.push(`#EXTINF:${seconds(duration)},`, options.segment_name(n));
    from += duration;
  }
  lines.push("#EXT-X-ENDLIST");
  return { segments, playlist: `${lines.join("\n")}\n` };
}
