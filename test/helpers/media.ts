/**
 * Media for end-to-end tests: short generated clips (`-f lavfi` test patterns, never files in git) and
 * independent checks of what the pipeline produced, made with the system's ffprobe/ffmpeg and our own small
 * parsers — deliberately NOT with src/media, so a bug shared by the product's builders and its own
 * verification cannot hide.
 *
 * Every check returns a list of problems (empty = pass) carrying the numbers, so a failed assertion says
 * what was wrong without a rerun.
 */
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { runProc } from "./proc.ts";

const FFMPEG = process.env.FFMPEG_PATH ?? "ffmpeg";
const FFPROBE = process.env.FFPROBE_PATH ?? "ffprobe";

/** One AAC frame at 48 kHz: how far audio and video ends may drift apart (plus 1 ms of container rounding). */
export const AAC_FRAME_S = 1024 / 48000;
const EPS = 1e-6;

async function run(argv: string[], timeoutMs = 120_000): Promise<string> {
  const r = await runProc(argv, { timeoutMs });
  if (r.code !== 0) throw new Error(`${argv.map((a) => a.split("/").pop()).join(" ")} failed (${JSON.stringify({ code: r.code, signal: r.signal })}):\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

// ---- clips ------------------------------------------------------------------------------------------

export interface ClipSpec {
  width: number;
  height: number;
  /** FFmpeg rate: "30", "24000/1001". */
  rate: string;
  duration_s: number;
  audio: boolean;
  /** Keyframe interval in frames (closed GOPs, no scene-cut keyframes). */
  gop: number;
  /** Display rotation written as the legacy `rotate` tag (FFmpeg 5.1 turns it into a display matrix on remux). */
  rotate?: 90 | 180 | 270;
  /** moov before mdat (default: FFmpeg's default, moov at the end). */
  faststart?: boolean;
}

/**
 * Writes `dir/name.mp4`: H.264 (veryfast, so with B-frames like real sources; 4:4:4 when the size is odd)
 * and, when asked, a 440 Hz
 * stereo AAC tone at 48 kHz. Rotation is added by a stream-copy remux: with FFmpeg 5.1 the `rotate` tag is
 * dropped when set on an encoding run, but honoured (as a display matrix) when remuxing.
 */
export async function makeClip(dir: string, name: string, c: ClipSpec): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${name}.mp4`);
  const tmp = join(dir, `${name}.tmp.mp4`);
  // testsrc2 only makes even sizes and 4:2:0 H.264 cannot carry odd ones: an odd size is scaled to and
  // stored as 4:4:4 (High 4:4:4 Predictive), as odd-sized sources in the wild are (or a non-4:2:0 codec).
  const odd = c.width % 2 === 1 || c.height % 2 === 1;
  const even = (x: number) => x + (x % 2);
  await run([
    FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y",
    "-f", "lavfi", "-i", `testsrc2=size=${even(c.width)}x${even(c.height)}:rate=${c.rate}`,
    ...(c.audio ? ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"] : []),
    "-t", String(c.duration_s),
    "-map", "0:v", ...(c.audio ? ["-map", "1:a"] : []),
    ...(odd ? ["-vf", `scale=${c.width}:${c.height},setsar=1`] : []),
    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", odd ? "yuv444p" : "yuv420p",
    "-g", String(c.gop), "-keyint_min", String(c.gop), "-sc_threshold", "0",
    ...(c.audio ? ["-c:a", "aac", "-b:a", "96k", "-ac", "2"] : []),
    ...(c.faststart && !c.rotate ? ["-movflags", "+faststart"] : []),
    c.rotate ? tmp : out,
  ]);
  if (c.rotate) {
    await run([
      FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y", "-i", tmp,
      "-map", "0", "-c", "copy", "-metadata:s:v:0", `rotate=${c.rotate}`,
      ...(c.faststart ? ["-movflags", "+faststart"] : []),
      out,
    ]);
  } else if (existsSync(tmp)) renameSync(tmp, out);
  return out;
}

// ---- probing ----------------------------------------------------------------------------------------

export interface VideoInfo {
  codec: string;
  width: number;
  height: number;
  /** Pixel aspect (1 = square). */
  sar: number;
  /** Frames actually read (-count_packets), not a header's claim. */
  frames: number;
  /** Stream duration in seconds (NaN when the container has none, e.g. MPEG-TS via HLS). */
  duration_s: number;
  fps: number;
  /** Display rotation in degrees (0, 90, 180, 270) from the display matrix or the legacy tag. */
  rotation: number;
}

export interface AudioInfo {
  codec: string;
  duration_s: number;
  sample_rate: number;
  channels: number;
}

export interface MediaInfo {
  video: VideoInfo | null;
  audio: AudioInfo | null;
  format: string;
  duration_s: number;
}

const rational = (s: unknown): number => {
  const m = /^(\d+)[/:](\d+)$/.exec(String(s ?? ""));
  return m && Number(m[2]) !== 0 ? Number(m[1]) / Number(m[2]) : Number.NaN;
};

/** Streams and format of a local file or URL; `-count_packets` reads every packet (the truth about frames). */
export async function probe(input: string): Promise<MediaInfo> {
  const out = await run([FFPROBE, "-v", "error", "-count_packets", "-show_streams", "-show_format", "-of", "json", input]);
  const j = JSON.parse(out) as { streams?: Array<Record<string, unknown>>; format?: Record<string, unknown> };
  const streams = j.streams ?? [];
  const v = streams.find((s) => s.codec_type === "video" && !(s.disposition as Record<string, number> | undefined)?.attached_pic);
  const a = streams.find((s) => s.codec_type === "audio");
  const rotationOf = (s: Record<string, unknown>): number => {
    const side = (s.side_data_list as Array<Record<string, unknown>> | undefined)?.find((d) => d.rotation !== undefined);
    const raw = side ? Number(side.rotation) : Number((s.tags as Record<string, unknown> | undefined)?.rotate ?? 0);
    return (((Math.round(raw / 90) * 90) % 360) + 360) % 360;
  };
  return {
    video: v
      ? {
          codec: String(v.codec_name),
          width: Number(v.width),
          height: Number(v.height),
          sar: rational(v.sample_aspect_ratio) || 1,
          frames: Number(v.nb_read_packets ?? 0),
          duration_s: Number(v.duration ?? Number.NaN),
          fps: rational(v.avg_frame_rate) || rational(v.r_frame_rate),
          rotation: rotationOf(v),
        }
      : null,
    audio: a ? { codec: String(a.codec_name), duration_s: Number(a.duration ?? Number.NaN), sample_rate: Number(a.sample_rate), channels: Number(a.channels) } : null,
    format: String(j.format?.format_name ?? ""),
    duration_s: Number(j.format?.duration ?? Number.NaN),
  };
}

/** Presentation times of the video keyframes (packet flags, no decoding), ascending. */
export async function keyframeTimes(input: string): Promise<number[]> {
  const out = await run([FFPROBE, "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", input]);
  const times: number[] = [];
  for (const line of out.split("\n")) {
    const [pts, flags] = line.trim().split(",");
    if (pts && flags?.includes("K")) times.push(Number(pts));
  }
  return times.sort((x, y) => x - y);
}

/** Mean SSIM ("All:") of b against a, frame by frame. */
export async function ssim(a: string, b: string): Promise<number> {
  const r = await runProc([FFMPEG, "-hide_banner", "-nostdin", "-i", a, "-i", b, "-lavfi", "[0:v][1:v]ssim", "-f", "null", "-"], { timeoutMs: 120_000 });
  const m = /SSIM .*All:([\d.]+)/.exec(r.stderr);
  if (r.code !== 0 || !m) throw new Error(`ssim of ${a} and ${b} failed: ${r.stderr.slice(-2000)}`);
  return Number(m[1]);
}

/**
 * The picture area that is not black border, over all frames (cropdetect without reset): equal to the
 * frame size when nothing was letterboxed or pillarboxed.
 */
export async function contentArea(input: string): Promise<{ width: number; height: number }> {
  const r = await runProc([FFMPEG, "-hide_banner", "-nostdin", "-i", input, "-an", "-vf", "cropdetect=limit=24:round=2:reset=0", "-f", "null", "-"], { timeoutMs: 120_000 });
  const all = [...r.stderr.matchAll(/crop=(\d+):(\d+):\d+:\d+/g)];
  const last = all.at(-1);
  if (r.code !== 0 || !last) throw new Error(`cropdetect on ${input} failed: ${r.stderr.slice(-2000)}`);
  return { width: Number(last[1]), height: Number(last[2]) };
}

/** Types of the top-level ISO-BMFF boxes, in file order. */
export function topLevelBoxes(bytes: Uint8Array): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const types: string[] = [];
  let at = 0;
  while (at + 8 <= bytes.length) {
    let size = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (size === 1) size = Number(view.getBigUint64(at + 8));
    else if (size === 0) size = bytes.length - at;
    if (size < 8) throw new Error(`bad box size ${size} for ${JSON.stringify(type)} at ${at}`);
    types.push(type);
    at += size;
  }
  return types;
}

// ---- expectations -----------------------------------------------------------------------------------

/** What an output must match, measured on the source with the same tools. */
export interface SourceFacts {
  frames: number;
  fps: number;
  duration_s: number;
  has_audio: boolean;
  /** Display size (rotation applied). */
  display_width: number;
  display_height: number;
}

export async function sourceFacts(path: string): Promise<SourceFacts> {
  const i = await probe(path);
  if (!i.video) throw new Error(`${path} has no video`);
  const turned = i.video.rotation % 180 !== 0;
  return {
    frames: i.video.frames,
    fps: i.video.fps,
    duration_s: i.video.duration_s,
    has_audio: i.audio !== null,
    display_width: Math.round((turned ? i.video.height : i.video.width) * i.video.sar),
    display_height: turned ? i.video.width : i.video.height,
  };
}

const f6 = (x: number) => Number(x.toFixed(6));

/**
 * A finished MP4 (fetched by URL): frame count = source's; video duration within one frame; audio present
 * exactly when the source has it and its duration within one AAC frame + 1 ms of the video's; moov before
 * mdat (faststart); even dimensions, square pixels, no rotation left to apply; display aspect within
 * rounding of the source's and picture content filling the frame (nothing letterboxed or stretched).
 */
export async function checkMp4(url: string, src: SourceFacts): Promise<{ problems: string[]; info: MediaInfo }> {
  const problems: string[] = [];
  const res = await fetch(url);
  if (res.status !== 200) return { problems: [`GET ${url} → ${res.status}`], info: { video: null, audio: null, format: "", duration_s: Number.NaN } };
  const bytes = new Uint8Array(await res.arrayBuffer());
  const boxes = topLevelBoxes(bytes);
  const moov = boxes.indexOf("moov");
  const mdat = boxes.indexOf("mdat");
  if (moov < 0 || mdat < 0 || moov > mdat) problems.push(`not faststart: top-level boxes ${boxes.join(",")}`);

  const info = await probe(url);
  const v = info.video;
  if (!v) return { problems: [...problems, "no video stream"], info };
  if (v.frames !== src.frames) problems.push(`frames ${v.frames} ≠ source ${src.frames}`);
  const frame = 1 / src.fps;
  if (!(Math.abs(v.duration_s - src.duration_s) <= frame + EPS)) problems.push(`video duration ${f6(v.duration_s)} s vs source ${f6(src.duration_s)} s: more than one frame (${f6(frame)} s) apart`);
  if (Math.abs(v.fps - src.fps) > 0.001) problems.push(`frame rate ${v.fps} ≠ source ${src.fps}`);
  if (src.has_audio && !info.audio) problems.push("no audio stream although the source has one");
  if (!src.has_audio && info.audio) problems.push(`an audio stream (${info.audio.codec}) although the source has none`);
  if (info.audio) {
    const gap = Math.abs(info.audio.duration_s - v.duration_s);
    const allowed = 1024 / (info.audio.sample_rate || 48000) + 0.001;
    if (!(gap <= allowed + EPS)) problems.push(`audio ${f6(info.audio.duration_s)} s vs video ${f6(v.duration_s)} s: ${f6(gap)} s apart (allowed ${f6(allowed)} s)`);
  }
  problems.push(...geometryProblems(v, src));
  const area = await contentArea(url);
  if (area.width !== v.width || area.height !== v.height) problems.push(`black borders: picture content ${area.width}x${area.height} in a ${v.width}x${v.height} frame`);
  return { problems, info };
}

function geometryProblems(v: VideoInfo, src: SourceFacts): string[] {
  const problems: string[] = [];
  if (v.width % 2 || v.height % 2) problems.push(`odd dimensions ${v.width}x${v.height}`);
  if (Math.abs(v.sar - 1) > 1e-9) problems.push(`non-square pixels (SAR ${v.sar})`);
  if (v.rotation !== 0) problems.push(`rotation ${v.rotation}° left in the output`);
  const portraitSrc = src.display_height > src.display_width;
  if (portraitSrc !== v.height > v.width) problems.push(`orientation: output ${v.width}x${v.height}, source displays as ${src.display_width}x${src.display_height}`);
  // Each side is rounded to an even number: the aspect may move by at most that much.
  const aspect = v.width / v.height;
  const srcAspect = src.display_width / src.display_height;
  const slack = aspect * (1 / v.width + 1 / v.height) + 1e-9;
  if (Math.abs(aspect - srcAspect) > slack) problems.push(`aspect ${f6(aspect)} (${v.width}x${v.height}) vs source ${f6(srcAspect)}: beyond rounding (${f6(slack)})`);
  return problems;
}

// ---- HLS --------------------------------------------------------------------------------------------

/** `A=1,B="x,y",C=z` → { A: "1", B: "x,y", C: "z" } (RFC 8216 §4.2 attribute lists). */
export function attributes(list: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Z0-9-]+)=("[^"]*"|[^,]*)(?:,|$)/g;
  for (let m = re.exec(list); m; m = re.exec(list)) out[m[1]!] = m[2]!.replace(/^"|"$/g, "");
  return out;
}

export interface HlsVariantReport {
  uri: string;
  attrs: Record<string, string>;
  /** EXTINF durations in order. */
  extinf: number[];
  keyframes: number[];
  info: MediaInfo;
}

export interface HlsReport {
  problems: string[];
  master: string;
  variants: HlsVariantReport[];
}

/**
 * An HLS output from its master playlist URL: master tags and attributes, every media playlist and every
 * segment fetched through URLs resolved RELATIVE to their playlist (as a player does), ENDLIST, segment
 * durations summing to the source's duration, identical segment boundaries and identical keyframe times in
 * every variant, each variant's frame count equal to the source's, audio exactly when the source has it.
 */
export async function checkHls(masterUrl: string, src: SourceFacts, opts: { expectVariants: number }): Promise<HlsReport> {
  const problems: string[] = [];
  const res = await fetch(masterUrl);
  const master = await res.text();
  if (res.status !== 200) return { problems: [`GET master → ${res.status}: ${master.slice(0, 200)}`], master, variants: [] };
  const lines = master.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines[0] !== "#EXTM3U") problems.push("master does not start with #EXTM3U");
  if (!lines.includes("#EXT-X-INDEPENDENT-SEGMENTS")) problems.push("master lacks #EXT-X-INDEPENDENT-SEGMENTS");

  const variants: HlsVariantReport[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith("#EXT-X-STREAM-INF:")) continue;
    const attrs = attributes(line.slice("#EXT-X-STREAM-INF:".length));
    const uri = lines[i + 1] ?? "";
    for (const a of ["BANDWIDTH", "AVERAGE-BANDWIDTH", "RESOLUTION", "CODECS"]) if (!attrs[a]) problems.push(`variant ${uri}: no ${a}`);
    if (!/^\d+x\d+$/.test(attrs.RESOLUTION ?? "")) problems.push(`variant ${uri}: RESOLUTION ${attrs.RESOLUTION}`);
    if (!(Number(attrs.BANDWIDTH) >= Number(attrs["AVERAGE-BANDWIDTH"]) && Number(attrs["AVERAGE-BANDWIDTH"]) > 0)) problems.push(`variant ${uri}: BANDWIDTH ${attrs.BANDWIDTH} < AVERAGE-BANDWIDTH ${attrs["AVERAGE-BANDWIDTH"]}`);
    if (!/^avc1\.[0-9a-f]{6}|^hvc1\./i.test(attrs.CODECS ?? "")) problems.push(`variant ${uri}: CODECS ${attrs.CODECS}`);
    if (src.has_audio !== /mp4a\./.test(attrs.CODECS ?? "")) problems.push(`variant ${uri}: CODECS ${attrs.CODECS} vs source audio ${src.has_audio}`);
    if (uri.startsWith("#") || /^[a-z]+:/i.test(uri) || uri.startsWith("/")) problems.push(`variant URI ${uri} is not relative`);
    variants.push(await checkVariant(new URL(uri, masterUrl).toString(), uri, attrs, src, problems));
  }
  if (variants.length !== opts.expectVariants) problems.push(`${variants.length} variants, expected ${opts.expectVariants}`);

  // GOP alignment: identical segment boundaries and keyframe times in every variant.
  const ref = variants[0];
  for (const v of variants.slice(1)) {
    if (!ref) break;
    if (v.extinf.length !== ref.extinf.length || v.extinf.some((d, i) => Math.abs(d - ref.extinf[i]!) > 0.0005)) {
      problems.push(`segment durations differ: ${ref.uri} [${ref.extinf.join(",")}] vs ${v.uri} [${v.extinf.join(",")}]`);
    }
    if (v.keyframes.length !== ref.keyframes.length || v.keyframes.some((t, i) => Math.abs(t - ref.keyframes[i]!) > 0.0005)) {
      problems.push(`keyframe times differ: ${ref.uri} [${ref.keyframes.join(",")}] vs ${v.uri} [${v.keyframes.join(",")}]`);
    }
  }
  return { problems, master, variants };
}

async function checkVariant(url: string, uri: string, attrs: Record<string, string>, src: SourceFacts, problems: string[]): Promise<HlsVariantReport> {
  const res = await fetch(url);
  const text = await res.text();
  const empty: MediaInfo = { video: null, audio: null, format: "", duration_s: Number.NaN };
  if (res.status !== 200) {
    problems.push(`GET ${uri} → ${res.status}`);
    return { uri, attrs, extinf: [], keyframes: [], info: empty };
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (!lines.includes("#EXT-X-ENDLIST")) problems.push(`${uri}: no #EXT-X-ENDLIST`);
  const target = Number(lines.find((l) => l.startsWith("#EXT-X-TARGETDURATION:"))?.split(":")[1]);
  const extinf: number[] = [];
  const segments: string[] = [];
  let pending: number | undefined;
  for (const line of lines) {
    if (line.startsWith("#EXTINF:")) pending = Number(line.slice(8).split(",")[0]);
    else if (!line.startsWith("#")) {
      if (pending === undefined) problems.push(`${uri}: segment ${line} without #EXTINF`);
      extinf.push(pending ?? 0);
      segments.push(line);
      pending = undefined;
    }
  }
  if (segments.length === 0) problems.push(`${uri}: no segments`);
  for (const [i, d] of extinf.entries()) if (Math.round(d) > target) problems.push(`${uri}: segment ${i} lasts ${d} s, over TARGETDURATION ${target}`);
  const sum = extinf.reduce((a, b) => a + b, 0);
  if (!(Math.abs(sum - src.duration_s) <= 1 / src.fps + 0.001)) problems.push(`${uri}: segments sum to ${f6(sum)} s, the source lasts ${f6(src.duration_s)} s`);
  for (const seg of segments) {
    if (/^[a-z]+:/i.test(seg) || seg.startsWith("/")) problems.push(`${uri}: segment URI ${seg} is not relative`);
    const r = await fetch(new URL(seg, url));
    const body = new Uint8Array(await r.arrayBuffer());
    if (r.status !== 200) problems.push(`${uri}: GET ${seg} → ${r.status}`);
    else if (body.length < 188 || body[0] !== 0x47 || body.length % 188 !== 0) problems.push(`${uri}: ${seg} is not MPEG-TS (${body.length} bytes, first byte ${body[0]})`);
  }
  // Through FFmpeg's own HLS demuxer, which resolves the relative URLs itself.
  const info = await probe(url);
  const keyframes = await keyframeTimes(url);
  if (!info.video) problems.push(`${uri}: no video`);
  else {
    if (info.video.frames !== src.frames) problems.push(`${uri}: ${info.video.frames} frames, the source has ${src.frames}`);
    if (`${info.video.width}x${info.video.height}` !== attrs.RESOLUTION) problems.push(`${uri}: picture ${info.video.width}x${info.video.height} ≠ RESOLUTION ${attrs.RESOLUTION}`);
    problems.push(...geometryProblems(info.video, src).map((p) => `${uri}: ${p}`));
  }
  if (src.has_audio !== (info.audio !== null)) problems.push(`${uri}: audio ${info.audio ? "present" : "missing"}, source audio ${src.has_audio}`);
  // Every segment starts on a keyframe: its start (first pts + the EXTINFs before it) is a keyframe time.
  let start = keyframes[0] ?? 0;
  for (const [i, d] of extinf.entries()) {
    if (!keyframes.some((k) => Math.abs(k - start) <= 0.002)) problems.push(`${uri}: segment ${i} starts at ${f6(start)} s, not on a keyframe`);
    start += d;
  }
  return { uri, attrs, extinf, keyframes, info };
}
