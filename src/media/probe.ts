/**
 * FFprobe: the argv of the two probes a source gets (streams/format, and the keyframe index from packet
 * flags) and the readers of their output. Pure: the encoder plugin runs the processes.
 */

import { inputOptions, refusedFormatReason } from "./input-policy.ts";
import { subtitleIgnoredReason } from "./subtitles.ts";

/**
 * An input FFprobe would read as an option ("-x.mp4") is passed through the file protocol instead. Local
 * paths from storage and http(s) URLs are passed unchanged.
 */
function inputArg(input: string): string {
  return input.startsWith("-") ? `file:${input}` : input;
}

/** Streams and container of `input` as one JSON document on stdout; only errors on stderr. */
export function ffprobeArgs(input: string): string[] {
  // FFprobe opens only this input: no playlist entries, no redirects, no other protocol (input-policy.ts).
  return ["-v", "error", "-print_format", "json", "-show_format", "-show_streams", ...inputOptions(input), inputArg(input)];
}

/**
 * One CSV line `pts_time,flags` per packet of the first video stream. Reading packet flags needs no
 * decoding, so indexing a long source costs about as much as reading it once.
 */
export function keyframeIndexArgs(input: string): string[] {
  return ["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", ...inputOptions(input), inputArg(input)];
}

export interface KeyframeIndex {
  /** pts of every keyframe packet in seconds, ascending. */
  keyframes: number[];
  /** Number of video packets (= frames for the codecs we accept), including those without a pts. */
  packets: number;
  /**
   * For each keyframe, its frame number in presentation order (packets with a smaller pts). A chunk that
   * starts at keyframe i and ends before keyframe j has exactly keyframe_frames[j] - keyframe_frames[i]
   * frames: what `-frames:v` must be for a frame-exact split.
   */
  keyframe_frames: number[];
  /** The video's extent on its own timestamps (undefined when no packet had a pts). */
  timing?: VideoTiming;
}

/**
 * Where the video stream starts and ends on its timestamps, and how even its frame intervals are. A
 * variable-frame-rate source (phones, screen recorders) has no "frame count ÷ rate" duration: its
 * duration is the last frame's pts plus that frame's display time, minus the first frame's pts.
 */
export interface VideoTiming {
  /** pts of the first frame in presentation order, seconds. */
  start_s: number;
  /** pts of the last frame plus its display time (the interval before it), seconds. */
  end_s: number;
  /** Shortest and longest interval between consecutive frames (0 for a one-frame video). */
  min_interval_s: number;
  max_interval_s: number;
}

/** Frame intervals further apart than this (relative) make a source variable-rate; 6-decimal pts jitter less. */
const VFR_SPREAD = 0.02;

/** True when the frame intervals vary by more than rounding: the source has no single frame rate. */
export function isVariableRate(timing: VideoTiming): boolean {
  return timing.min_interval_s > 0 && timing.max_interval_s > timing.min_interval_s * (1 + VFR_SPREAD) + 2e-6;
}

/** The stream's extent from its sorted frame pts; a one-frame stream lasts `fallbackInterval`. */
export function videoTiming(sortedPts: readonly number[], fallbackInterval?: number): VideoTiming | undefined {
  const first = sortedPts[0];
  const last = sortedPts.at(-1);
  if (first === undefined || last === undefined) return undefined;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 1; i < sortedPts.length; i++) {
    const d = sortedPts[i]! - sortedPts[i - 1]!;
    if (d <= 0) continue;
    min = Math.min(min, d);
    max = Math.max(max, d);
  }
  const lastInterval = sortedPts.length > 1 ? sortedPts.at(-1)! - sortedPts.at(-2)! : (fallbackInterval ?? 0);
  return { start_s: first, end_s: round6(last + lastInterval), min_interval_s: Number.isFinite(min) ? round6(min) : 0, max_interval_s: round6(max) };
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * Reads the output of keyframeIndexArgs. FFprobe writes the columns in its own field order, which is
 * `pts_time` then `flags` (captured: `1.000000,K_`), whatever the order in `-show_entries`. A `K` in the
 * flags marks a keyframe (`_` is an unset flag; `D` discard and `C` corrupt can accompany it). Packets
 * arrive in decode order, so keyframes are sorted; a packet without a pts (`N/A`) still counts as a frame
 * but cannot be a chunk boundary.
 */
export function parseKeyframeCsv(csv: string): KeyframeIndex {
  const keyframes: number[] = [];
  const allPts: number[] = [];
  let packets = 0;
  for (const raw of csv.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const [ptsText = "", flags = ""] = line.split(",");
    packets++;
    const pts = Number(ptsText);
    if (ptsText === "N/A" || ptsText === "" || !Number.isFinite(pts)) continue;
    allPts.push(pts);
    if (flags.includes("K")) keyframes.push(pts);
  }
  keyframes.sort((a, b) => a - b);
  allPts.sort((a, b) => a - b);
  const timing = videoTiming(allPts);
  return { keyframes, packets, keyframe_frames: keyframes.map((k) => lowerBound(allPts, k)), ...(timing ? { timing } : {}) };
}

export interface ProbeFailure {
  code: "WE-JOB-007";
  message: string;
}

/** Long enough for any FFprobe reason, short enough for an API error message. */
const MAX_REASON_CHARS = 300;

/**
 * Why FFprobe could not read a source, in its own words. Its stderr ends with `<input>: <reason>` (the
 * strerror-style summary, e.g. "Invalid data found when processing input", "No such file or directory",
 * "Server returned 404 Not Found"); a demuxer or protocol often said something more specific just before,
 * as `[mov,mp4,… @ 0x55…] moov atom not found`. Both are kept, the summary first; the input itself is
 * dropped (the caller knows it, and it may be a long signed URL).
 */
export function classifyProbeFailure(stderr: string, exitCode: number): ProbeFailure {
  // FFprobe's own words for this one are "Invalid argument"; say which format and why it is refused.
  const refused = refusedFormatReason(stderr);
  if (refused) return { code: "WE-JOB-007", message: `cannot read the source: ${refused}` };
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const isTagged = (line: string) => /^\[[^\]]* @ 0x[0-9a-f]+\]/i.test(line);
  const summaryLine = lines.filter((line) => !isTagged(line)).at(-1);
  const detailLine = lines.filter(isTagged).at(-1);

  // The input may contain ": " (a URL with a port does not, but a path might); reasons never do.
  const summary = summaryLine === undefined ? undefined : afterLastColon(summaryLine);
  const detail = detailLine?.replace(/^\[[^\]]* @ 0x[0-9a-f]+\]\s*/i, "");

  let reason: string;
  if (summary && detail && !summary.includes(detail) && !detail.endsWith(summary)) reason = `${summary} (${detail})`;
  else if (summary && detail && detail.endsWith(summary)) reason = detail;
  else reason = summary || detail || `ffprobe exited with code ${exitCode} and no error output`;
  if (reason.length > MAX_REASON_CHARS) reason = `${reason.slice(0, MAX_REASON_CHARS - 1)}…`;
  return { code: "WE-JOB-007", message: `cannot read the source: ${reason}` };
}

function afterLastColon(line: string): string {
  const at = line.lastIndexOf(": ");
  return at < 0 ? line : line.slice(at + 2);
}

/**
 * Undefined when FFprobe's JSON describes something we can encode; otherwise why not. A subtitle-only or
 * data-only file (WebVTT, a bare SRT) probes fine but has nothing to transcode.
 */
export function probeContentProblem(json: { streams?: unknown }): string | undefined {
  const streams = Array.isArray(json.streams) ? json.streams : [];
  const media = streams.filter((s) => {
    const type = (s as { codec_type?: unknown } | null)?.codec_type;
    return type === "video" || type === "audio";
  });
  return media.length === 0 ? "no audio or video streams" : undefined;
}

/** Index of the first element >= x in an ascending array. */
function lowerBound(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Why FFmpeg cannot transcode a stream's codec, or undefined when it can. FFprobe names every codec it
 * knows, even one its build cannot decode; one it does not know at all reads `codec_name: "unknown"` (or
 * no name), and then the container's codec tag (the MP4/AVI fourcc) is the only name there is.
 */
export function unsupportedCodecProblem(stream: Record<string, unknown>, kind: "video" | "audio"): string | undefined {
  const name = typeof stream.codec_name === "string" ? stream.codec_name : "";
  if (name !== "" && name !== "unknown" && name !== "none") return undefined;
  const tag = typeof stream.codec_tag_string === "string" && !/^(\[0\])+$/.test(stream.codec_tag_string) ? stream.codec_tag_string : undefined;
  const which = tag ? `"${tag}"` : "(the container names none FFmpeg knows)";
  return `the ${kind} codec ${which} is not supported: FFmpeg cannot decode it; convert the source to a common codec (H.264, HEVC, VP9, AV1, ProRes…)`;
}

/** A source stream no output carries, and why: the job shows them under `source.ignored_streams`. */
export interface IgnoredStream {
  /** FFprobe's stream index in the source file. */
  index: number;
  type: string;
  codec: string;
  language?: string;
  reason: string;
}

/**
 * Every stream of the source the outputs leave out: bitmap subtitles (text ones are carried), timecode/data tracks,
 * attachments, cover art and video streams after the first. None of these fails a job; the job says so.
 */
export function ignoredStreamsOf(streams: ReadonlyArray<Record<string, unknown>>): IgnoredStream[] {
  const ignored: IgnoredStream[] = [];
  let videoSeen = false;
  for (const [position, stream] of streams.entries()) {
    const type = typeof stream.codec_type === "string" ? stream.codec_type : "unknown";
    const coverArt = (stream.disposition as Record<string, number> | undefined)?.attached_pic === 1;
    let reason: string | undefined;
    if (type === "audio") continue;
    // Text subtitles are carried (media/subtitles.ts); bitmap ones are listed here with why not.
    if (type === "subtitle" && subtitleIgnoredReason(codecNameOf(stream)) === undefined) continue;
    if (type === "video" && !coverArt && !videoSeen) {
      videoSeen = true;
      continue;
    }
    if (type === "video") reason = coverArt ? "cover art is not carried" : "only the first video stream is transcoded";
    else if (type === "subtitle") reason = subtitleIgnoredReason(codecNameOf(stream))!;
    else if (type === "data") reason = "timecode and data tracks are not carried";
    else if (type === "attachment") reason = "attachments (fonts, files) are not carried";
    else reason = `${type} streams are not carried`;
    const tags = (stream.tags ?? {}) as Record<string, unknown>;
    const language = typeof tags.language === "string" ? tags.language : undefined;
    ignored.push({
      index: typeof stream.index === "number" ? stream.index : position,
      type,
      codec: codecNameOf(stream),
      ...(language ? { language } : {}),
      reason,
    });
  }
  return ignored;
}

/** FFprobe's codec name, or the container's tag (a timecode track is `unknown` by name, `tmcd` by tag). */
function codecNameOf(stream: Record<string, unknown>): string {
  const name = typeof stream.codec_name === "string" ? stream.codec_name : "";
  if (name !== "" && name !== "unknown" && name !== "none") return name;
  const tag = typeof stream.codec_tag_string === "string" && !/^(\[0\])+$/.test(stream.codec_tag_string) ? stream.codec_tag_string : undefined;
  return tag ?? "unknown";
}
