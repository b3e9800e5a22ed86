/**
 * HLS packaging helpers: the master (multivariant) playlist, RFC 6381 codec strings from ffprobe
 * streams, media playlist parsing and measured bitrates. Pure.
 */

export interface Variant {
  /** Media playlist URI, relative to the master. */
  uri: string;
  /** Peak segment bit rate, bits/s (segmentBitrates().peak). */
  bandwidth: number;
  /** Average bit rate, bits/s (segmentBitrates().average). */
  average_bandwidth: number;
  width: number;
  height: number;
  /** e.g. "avc1.64001f,mp4a.40.2" */
  codecs: string;
  frame_rate?: number;
  /** GROUP-ID of the alternate audio renditions this variant plays with (its own segments are video only). */
  audio_group?: string;
  /** GROUP-ID of the WebVTT subtitle renditions offered with this variant. */
  subtitle_group?: string;
}

/** An alternate audio rendition (one source audio track): an `EXT-X-MEDIA:TYPE=AUDIO` entry. */
export interface AudioRendition {
  group_id: string;
  /** Media playlist URI relative to the master; name: shown in track menus, unique in its group. */
  uri: string;
  name: string;
  /** RFC 5646 tag; omitted for "und". */
  language?: string;
  default: boolean;
  channels: number;
}

/** A WebVTT subtitle rendition (`EXT-X-MEDIA:TYPE=SUBTITLES`); every variant names its group. */
export interface SubtitleRendition {
  group_id: string;
  uri: string;
  /** Shown in subtitle menus, unique in its group. */
  name: string;
  /** RFC 5646 tag; omitted for "und". */
  language?: string;
  default: boolean;
}

const quoted = (what: string, value: string) => {
  if (/["\r\n]/.test(value)) throw new Error(`masterPlaylist: invalid ${what} ${JSON.stringify(value)}`);
  return `"${value}"`;
};

/**
 * Variants are listed by ascending BANDWIDTH (ties: smaller picture, then URI). Players that start with
 * the first listed variant (AVPlayer) then start fast on the cheapest rung and climb once they have
 * measured the network, instead of stalling on the top rung; hls.js, Shaka and ExoPlayer choose by their
 * own estimate whatever the order. Apple's examples list variants the same way.
 * Version 3 is the highest any tag here requires (none of them needs more).
 */
export function masterPlaylist(variants: readonly Variant[], audio: readonly AudioRendition[] = [], subtitles: readonly SubtitleRendition[] = []): string {
  if (variants.length === 0) throw new Error("masterPlaylist: no variants");
  const sorted = [...variants].sort(
    (a, b) => a.bandwidth - b.bandwidth || a.height - b.height || a.width - b.width || (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0),
  );
  const lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"];
  // RFC 8216 §4.3.4.1: one entry per track and group, at most one DEFAULT=YES per group; AUTOSELECT lets a
  // player pick by the user's language.
  for (const a of audio) {
    const attrs = [`TYPE=AUDIO`, `GROUP-ID=${quoted("GROUP-ID", a.group_id)}`, `NAME=${quoted("NAME", a.name)}`];
    if (a.language) attrs.push(`LANGUAGE=${quoted("LANGUAGE", a.language)}`);
    attrs.push(`DEFAULT=${a.default ? "YES" : "NO"}`, "AUTOSELECT=YES", `CHANNELS="${a.channels}"`, `URI=${quoted("URI", a.uri)}`);
    lines.push(`#EXT-X-MEDIA:${attrs.join(",")}`);
  }
  // Subtitles: AUTOSELECT lets a player pick the track of the user's language; DEFAULT=YES shows it at start.
  for (const s of subtitles) {
    const attrs = [`TYPE=SUBTITLES`, `GROUP-ID=${quoted("GROUP-ID", s.group_id)}`, `NAME=${quoted("NAME", s.name)}`];
    if (s.language) attrs.push(`LANGUAGE=${quoted("LANGUAGE", s.language)}`);
    attrs.push(`DEFAULT=${s.default ? "YES" : "NO"}`, "AUTOSELECT=YES", `URI=${quoted("URI", s.uri)}`);
    lines.push(`#EXT-X-MEDIA:${attrs.join(",")}`);
  }
  for (const v of sorted) {
    if (/[\r\n]/.test(v.uri) || v.uri === "") throw new Error(`masterPlaylist: invalid URI ${JSON.stringify(v.uri)}`);
    if (v.codecs.includes('"')) throw new Error(`masterPlaylist: invalid CODECS ${JSON.stringify(v.codecs)}`);
    const attrs = [`BANDWIDTH=${Math.ceil(v.bandwidth)}`, `AVERAGE-BANDWIDTH=${Math.ceil(v.average_bandwidth)}`, `RESOLUTION=${v.width}x${v.height}`, `CODECS="${v.codecs}"`];
    // RFC 8216 §4.3.4.2: a decimal rounded to three places.
    if (v.frame_rate !== undefined) attrs.push(`FRAME-RATE=${v.frame_rate.toFixed(3)}`);
    if (v.audio_group !== undefined) {
      if (!audio.some((a) => a.group_id === v.audio_group)) throw new Error(`masterPlaylist: no audio rendition in group ${v.audio_group}`);
      attrs.push(`AUDIO=${quoted("AUDIO", v.audio_group)}`);
    }
    if (v.subtitle_group !== undefined) {
      if (!subtitles.some((s) => s.group_id === v.subtitle_group)) throw new Error(`masterPlaylist: no subtitle rendition in group ${v.subtitle_group}`);
      attrs.push(`SUBTITLES=${quoted("SUBTITLES", v.subtitle_group)}`);
    }
    lines.push(`#EXT-X-STREAM-INF:${attrs.join(",")}`, v.uri);
  }
  return `${lines.join("\n")}\n`;
}

/** The fields of an ffprobe `-show_streams [-show_data] -of json` stream that codecString reads. */
export interface ProbeStreamInfo {
  codec_name?: string;
  codec_tag_string?: string;
  profile?: string;
  level?: number;
  pix_fmt?: string;
  width?: number;
  height?: number;
  avg_frame_rate?: string;
  r_frame_rate?: string;
  /** Hexdump printed by `ffprobe -show_data` (avcC / hvcC / av1C, or Annex B parameter sets). */
  extradata?: string;
}

/** "30000/1001" → 29.97…; undefined for "0/0" and garbage. */
export function parseRational(text: string | undefined): number | undefined {
  const m = text?.match(/^\s*(\d+(?:\.\d+)?)(?:\/(\d+))?\s*$/);
  if (!m) return undefined;
  const value = Number(m[1]) / (m[2] === undefined ? 1 : Number(m[2]));
  return Number.isFinite(value) && value > 0 ? value : undefined;
}

/** Bytes of ffprobe's extradata hexdump ("00000000: 0142 c01e ffe1 …  .B......"). */
export function parseHexdump(text: string): Uint8Array {
  const bytes: number[] = [];
  for (const line of text.split("\n")) {
    const m = line.match(/^[0-9a-f]{8}: (.{1,40})/i);
    if (!m) continue;
    // The hex columns are 8 groups of 4 digits + a space (40 characters); the ASCII column follows.
    const hex = (m[1] ?? "").replace(/\s+/g, "");
    for (let i = 0; i + 1 < hex.length; i += 2) bytes.push(Number.parseInt(hex.slice(i, i + 2), 16));
  }
  return Uint8Array.from(bytes);
}

const hex2 = (n: number) => n.toString(16).padStart(2, "0");
const dec2 = (n: number) => String(n).padStart(2, "0");

/** H.264 profile name (as ffprobe prints it) → profile_idc and the usual constraint flags byte. */
const AVC_PROFILES: Readonly<Record<string, readonly [number, number]>> = {
  // x264 writes 0xC0 for Constrained Baseline (constraint_set0+1, seen in its avcC); 0xE0 (set2 too) is
  // equally valid and common in examples. Players decide on profile_idc and level.
  "Constrained Baseline": [66, 0xc0],
  Baseline: [66, 0x00],
  // x264 sets constraint_set1 (Main-compatible) for Main.
  Main: [77, 0x40],
  Extended: [88, 0x00],
  High: [100, 0x00],
  "High 10": [110, 0x00],
  "High 10 Intra": [110, 0x10],
  "High 4:2:2": [122, 0x00],
  "High 4:2:2 Intra": [122, 0x10],
  "High 4:4:4 Predictive": [244, 0x00],
  "High 4:4:4 Intra": [244, 0x10],
  "CAVLC 4:4:4": [44, 0x00],
};

/** HEVC profile name → general_profile_idc and its compatibility flags (bit j = compatible with j). */
const HEVC_PROFILES: Readonly<Record<string, readonly [number, number]>> = {
  Main: [1, 0b0110], // Main streams are also Main 10 compatible
  "Main 10": [2, 0b0100],
  "Main Still Picture": [3, 0b1110],
  Rext: [4, 0b1_0000],
};

/** VP9 levels (webmproject.org/vp9/levels): [level×10, max luma sample rate, max luma picture size]. */
const VP9_LEVELS: readonly (readonly [number, number, number])[] = [
  [10, 829_440, 36_864],
  [11, 2_764_800, 73_728],
  [20, 4_608_000, 122_880],
  [21, 9_216_000, 245_760],
  [30, 20_736_000, 552_960],
  [31, 36_864_000, 983_040],
  [40, 83_558_400, 2_228_224],
  [41, 160_432_128, 2_228_224],
  [50, 311_951_360, 8_912_896],
  [51, 588_251_136, 8_912_896],
  [52, 1_176_502_272, 8_912_896],
  [60, 1_176_502_272, 35_651_584],
  [61, 2_353_004_544, 35_651_584],
  [62, 4_706_009_088, 35_651_584],
];

/** AV1 levels (spec annex A.3): [seq_level_idx, MaxPicSize, MaxDisplayRate]. */
const AV1_LEVELS: readonly (readonly [number, number, number])[] = [
  [0, 147_456, 4_423_680],
  [1, 278_784, 8_363_520],
  [4, 665_856, 19_975_680],
  [5, 1_065_024, 31_950_720],
  [8, 2_359_296, 70_778_880],
  [9, 2_359_296, 141_557_760],
  [12, 8_912_896, 267_386_880],
  [13, 8_912_896, 534_773_760],
  [14, 8_912_896, 1_069_547_520],
  [15, 8_912_896, 1_069_547_520],
  [16, 35_651_584, 1_069_547_520],
  [17, 35_651_584, 2_139_095_040],
  [18, 35_651_584, 4_278_190_080],
  [19, 35_651_584, 4_278_190_080],
];

function lumaRate(stream: ProbeStreamInfo): { size: number; rate: number } {
  const size = (stream.width ?? 0) * (stream.height ?? 0);
  const fps = parseRational(stream.avg_frame_rate) ?? parseRational(stream.r_frame_rate) ?? 30;
  return { size, rate: size * fps };
}

function bitDepth(pixFmt: string | undefined): number {
  const m = pixFmt?.match(/p(10|12)(le|be)?$/);
  return m ? Number(m[1]) : 8;
}

function reverseBits32(x: number): number {
  let out = 0;
  for (let i = 0; i < 32; i++) out = (out << 1) | ((x >>> i) & 1);
  return out >>> 0;
}

/** The SPS's profile_idc, constraint byte and level_idc from an Annex B stream's extradata. */
function annexBSps(bytes: Uint8Array): [number, number, number] | undefined {
  for (let i = 0; i + 6 < bytes.length; i++) {
    if (bytes[i] === 0 && bytes[i + 1] === 0 && bytes[i + 2] === 1 && ((bytes[i + 3] ?? 0) & 0x1f) === 7) {
      return [bytes[i + 4] ?? 0, bytes[i + 5] ?? 0, bytes[i + 6] ?? 0];
    }
  }
  return undefined;
}

function avcString(info: ProbeStreamInfo, bytes: Uint8Array | undefined): string {
  // avcC: configurationVersion 1, then profile_idc, constraint flags, level_idc: exact, use them.
  if (bytes && bytes.length >= 4 && bytes[0] === 1) return `avc1.${hex2(bytes[1] ?? 0)}${hex2(bytes[2] ?? 0)}${hex2(bytes[3] ?? 0)}`;
  const sps = bytes ? annexBSps(bytes) : undefined;
  if (sps) return `avc1.${sps.map(hex2).join("")}`;
  const known = info.profile ? AVC_PROFILES[info.profile] : undefined;
  if (!known) throw new Error(`codecString: unknown H.264 profile ${JSON.stringify(info.profile)}`);
  if (info.level === undefined || info.level <= 0) throw new Error("codecString: H.264 stream without a level");
  return `avc1.${hex2(known[0])}${hex2(known[1])}${hex2(info.level)}`;
}

function hevcString(info: ProbeStreamInfo, bytes: Uint8Array | undefined): string {
  const tag = info.codec_tag_string === "hev1" ? "hev1" : "hvc1";
  let space = 0;
  let tier = 0;
  let idc: number;
  let compat: number;
  let constraints: number[];
  let level: number;
  if (bytes && bytes.length >= 13 && bytes[0] === 1) {
    // hvcC: general_profile_space(2) tier(1) profile_idc(5), 32 compatibility flags, 48 constraint
    // bits, general_level_idc.
    const b1 = bytes[1] ?? 0;
    space = b1 >> 6;
    tier = (b1 >> 5) & 1;
    idc = b1 & 0x1f;
    compat = (((bytes[2] ?? 0) << 24) | ((bytes[3] ?? 0) << 16) | ((bytes[4] ?? 0) << 8) | (bytes[5] ?? 0)) >>> 0;
    compat = reverseBits32(compat);
    constraints = Array.from(bytes.slice(6, 12));
    level = bytes[12] ?? 0;
  } else {
    const known = info.profile ? HEVC_PROFILES[info.profile] : undefined;
    if (!known) throw new Error(`codecString: unknown HEVC profile ${JSON.stringify(info.profile)}`);
    if (info.level === undefined || info.level <= 0) throw new Error("codecString: HEVC stream without a level");
    [idc, compat] = known;
    // progressive_source + frame_only_constraint: what x265 writes (0x90 in its hvcC); ffprobe does not
    // print the flags, and Main-tier is assumed for the same reason.
    constraints = [0x90];
    level = info.level;
  }
  while (constraints.length > 0 && constraints.at(-1) === 0) constraints.pop();
  const spaceLetter = space === 0 ? "" : String.fromCharCode(64 + space); // 1 → A, 2 → B, 3 → C
  const parts = [tag, `${spaceLetter}${idc}`, compat.toString(16).toUpperCase(), `${tier ? "H" : "L"}${level}`];
  parts.push(...constraints.map((c) => c.toString(16).toUpperCase()));
  return parts.join(".");
}

function vp9String(info: ProbeStreamInfo): string {
  const profile = Number(info.profile?.match(/^Profile (\d)$/)?.[1] ?? Number.NaN);
  if (!Number.isInteger(profile)) throw new Error(`codecString: unknown VP9 profile ${JSON.stringify(info.profile)}`);
  // FFmpeg leaves the VP9 level unknown (-99); the level is the lowest whose limits the stream meets.
  const { size, rate } = lumaRate(info);
  const level = info.level !== undefined && info.level > 0 ? info.level : (VP9_LEVELS.find(([, r, p]) => rate <= r && size <= p)?.[0] ?? 62);
  return `vp09.${dec2(profile)}.${dec2(level)}.${dec2(bitDepth(info.pix_fmt))}`;
}

function av1String(stream: ProbeStreamInfo, bytes: Uint8Array | undefined): string {
  const names: Record<string, number> = { Main: 0, High: 1, Professional: 2 };
  let profile = stream.profile !== undefined ? names[stream.profile] : undefined;
  // ffprobe's AV1 "level" is seq_level_idx (0 = level 2.0); unknown is negative.
  let level = stream.level !== undefined && stream.level >= 0 ? stream.level : undefined;
  let tier = 0;
  let depth = bitDepth(stream.pix_fmt);
  if (bytes && bytes.length >= 3 && ((bytes[0] ?? 0) & 0x80) !== 0) {
    // av1C: marker+version, seq_profile(3) seq_level_idx_0(5), seq_tier_0(1) high_bitdepth(1) twelve_bit(1) …
    profile = (bytes[1] ?? 0) >> 5;
    level = (bytes[1] ?? 0) & 0x1f;
    tier = (bytes[2] ?? 0) >> 7;
    depth = ((bytes[2] ?? 0) >> 5) & 1 ? 12 : ((bytes[2] ?? 0) >> 6) & 1 ? 10 : 8;
  }
  if (profile === undefined) throw new Error(`codecString: unknown AV1 profile ${JSON.stringify(stream.profile)}`);
  if (level === undefined) {
    const { size, rate } = lumaRate(stream);
    level = AV1_LEVELS.find(([, p, r]) => size <= p && rate <= r)?.[0] ?? 19;
  }
  return `av01.${profile}.${dec2(level)}${tier ? "H" : "M"}.${dec2(depth)}`;
}

/** AAC profile names as ffprobe prints them → MPEG-4 audio object type. */
const AAC_OBJECT_TYPES: Readonly<Record<string, number>> = { Main: 1, LC: 2, SSR: 3, LTP: 4, "HE-AAC": 5, "HE-AACv2": 29, LD: 23, ELD: 39 };

/**
 * RFC 6381 codec string of one ffprobe stream. With `-show_data` the decoder configuration record
 * (extradata) gives exact profile, constraint and level bytes; without it they are rebuilt from the
 * profile name and level, which ffprobe always prints.
 */
export function codecString(stream: ProbeStreamInfo): string {
  const bytes = stream.extradata ? parseHexdump(stream.extradata) : undefined;
  switch (stream.codec_name) {
    case "h264":
      return avcString(stream, bytes);
    case "hevc":
      return hevcString(stream, bytes);
    case "vp9":
      return vp9String(stream);
    case "av1":
      return av1String(stream, bytes);
    case "aac":
      return `mp4a.40.${AAC_OBJECT_TYPES[stream.profile ?? "LC"] ?? 2}`;
    case "mp3":
      return "mp4a.40.34";
    case "opus":
      return "opus";
    case "flac":
      return "fLaC";
    case "ac3":
      return "ac-3";
    case "eac3":
      return "ec-3";
    default:
      throw new Error(`codecString: no codec string for ${JSON.stringify(stream.codec_name)}`);
  }
}

export interface MediaSegment {
  uri: string;
  duration: number;
}

export interface MediaPlaylist {
  target_duration: number;
  segments: MediaSegment[];
  /** #EXT-X-ENDLIST seen (a complete VOD playlist). */
  ended: boolean;
  /** #EXT-X-MAP URI (fMP4 init segment), null for MPEG-TS segments. */
  init_uri: string | null;
}

/** The parts of a media playlist the packager needs; anything else is skipped. */
export function parseMediaPlaylist(text: string): MediaPlaylist {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
  if (lines[0] !== "#EXTM3U") throw new Error("not an HLS playlist: the first line is not #EXTM3U");
  let target: number | undefined;
  let pending: number | undefined;
  let ended = false;
  let init: string | null = null;
  const segments: MediaSegment[] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith("#EXT-X-TARGETDURATION:")) target = Number(line.slice("#EXT-X-TARGETDURATION:".length));
    else if (line.startsWith("#EXTINF:")) pending = Number(line.slice("#EXTINF:".length).split(",")[0]);
    else if (line === "#EXT-X-ENDLIST") ended = true;
    else if (line.startsWith("#EXT-X-MAP:")) init = line.match(/URI="([^"]*)"/)?.[1] ?? null;
    else if (!line.startsWith("#")) {
      if (pending === undefined || !Number.isFinite(pending)) throw new Error(`segment ${line} has no valid #EXTINF duration`);
      segments.push({ uri: line, duration: pending });
      pending = undefined;
    }
  }
  if (target === undefined || !Number.isFinite(target)) throw new Error("playlist has no valid #EXT-X-TARGETDURATION");
  return { target_duration: target, segments, ended, init_uri: init };
}

export interface SizedSegment {
  duration: number;
  bytes: number;
}

/**
 * BANDWIDTH and AVERAGE-BANDWIDTH of a rendition from its real segment sizes, in bits/s, rounded up.
 * average: all bits ÷ all seconds. peak: RFC 8216 §4.3.4.2's "peak segment bit rate" when the target
 * duration is given (the highest rate of any run of consecutive segments lasting 0.5–1.5 × target
 * duration, so a short last segment does not count alone), else the highest single-segment rate.
 */
export function segmentBitrates(segments: readonly SizedSegment[], target_duration_s?: number): { peak: number; average: number } {
  const usable = segments.filter((s) => s.duration > 0);
  if (usable.length === 0) throw new Error("segmentBitrates: no segments with a duration");
  const totalBits = usable.reduce((sum, s) => sum + s.bytes * 8, 0);
  const totalSeconds = usable.reduce((sum, s) => sum + s.duration, 0);
  const average = totalBits / totalSeconds;
  let peak = 0;
  if (target_duration_s === undefined) {
    for (const s of usable) peak = Math.max(peak, (s.bytes * 8) / s.duration);
  } else {
    const lo = 0.5 * target_duration_s;
    const hi = 1.5 * target_duration_s;
    for (let i = 0; i < usable.length; i++) {
      let bits = 0;
      let seconds = 0;
      for (let j = i; j < usable.length; j++) {
        const s = usable[j] as SizedSegment;
        bits += s.bytes * 8;
        seconds += s.duration;
        if (seconds > hi + 1e-9) break;
        if (seconds >= lo - 1e-9) peak = Math.max(peak, bits / seconds);
      }
    }
    // A playlist shorter than half a target duration has no qualifying run; its average is its peak.
    if (peak === 0) peak = average;
  }
  return { peak: Math.ceil(peak), average: Math.ceil(average) };
}
