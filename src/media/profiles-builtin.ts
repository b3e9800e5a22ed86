/** The built-in profiles and ladders, and how a job's profile ids resolve against them. */
import { parseProfile, type ProfileSpec } from "./profile-spec.ts";

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Built-ins go through the same validation as custom profiles, so a bad edit here fails at import. */
function builtin(input: unknown): ProfileSpec {
  return deepFreeze(parseProfile(input));
}

/**
 * Every AAC profile shares one audio setting on purpose: the audio track is encoded once per distinct
 * audio setting (never per chunk), so a four-rung H.264 ladder needs one audio task, not four.
 */
const AAC_STEREO = { codec: "aac", bitrate_kbps: 128, channels: 2, sample_rate: 48000 } as const;

/**
 * The H.264 ladder: 1-pass ABR with a VBV cap (maxrate 1.5× and bufsize 2× the average), so HLS
 * BANDWIDTH stays predictable; rates follow the usual 16:9 ladders (Apple's authoring guide puts
 * 1080p30 H.264 at 6–7.8 Mb/s for premium content; 5 Mb/s average is the common web trade-off).
 * Preset "fast": about twice as fast as "medium" for a few percent more bitrate at equal quality,
 * while "veryfast" loses noticeably more (weaker motion search and fewer reference frames), which at
 * a capped bitrate shows up as blockiness in motion; throughput matters because every rung of every
 * chunk pays it.
 */
function h264Rung(height: number, bitrate: number): ProfileSpec {
  return builtin({
    id: `${height}p_h264`,
    name: `${height}p H.264`,
    description: `H.264 High, ${height}p, ${bitrate} kb/s average (capped at ${bitrate * 1.5} kb/s), AAC stereo 128 kb/s, MP4`,
    container: "mp4",
    video: {
      codec: "h264",
      encoder: "software",
      hardware_fallback: "cpu",
      height,
      rate_control: { mode: "bitrate", bitrate_kbps: bitrate, maxrate_kbps: bitrate * 1.5, bufsize_kbps: bitrate * 2 },
      preset: "fast",
      keyframe_interval_s: 2,
      pixel_format: "yuv420p",
    },
    audio: AAC_STEREO,
  });
}

export const BUILTIN_PROFILES: Readonly<Record<string, ProfileSpec>> = deepFreeze({
  "1080p_h264": h264Rung(1080, 5000),
  "720p_h264": h264Rung(720, 3000),
  "480p_h264": h264Rung(480, 1500),
  "360p_h264": h264Rung(360, 800),
  // 4K is where a GPU pays most: NVENC (or QSV/VAAPI) when the pool has one, libx265 otherwise.
  "4k_hevc": builtin({
    id: "4k_hevc",
    name: "2160p HEVC",
    description: "HEVC Main, 2160p, 16 Mb/s average (capped at 24 Mb/s), hardware when available, AAC stereo 128 kb/s, MP4",
    container: "mp4",
    video: {
      codec: "hevc",
      encoder: "auto",
      hardware_fallback: "cpu",
      height: 2160,
      rate_control: { mode: "bitrate", bitrate_kbps: 16000, maxrate_kbps: 24000, bufsize_kbps: 32000 },
      preset: "fast",
      keyframe_interval_s: 2,
      pixel_format: "yuv420p",
    },
    audio: AAC_STEREO,
  }),
  // Constant quality as Google's VP9 VOD guide recommends for 1080p (CRF 31 with -b:v 0).
  "1080p_vp9": builtin({
    id: "1080p_vp9",
    name: "1080p VP9",
    description: "VP9 profile 0, 1080p, constant quality CRF 31, Opus stereo 128 kb/s, WebM",
    container: "webm",
    video: {
      codec: "vp9",
      encoder: "software",
      hardware_fallback: "cpu",
      height: 1080,
      rate_control: { mode: "crf", crf: 31 },
      preset: "4",
      keyframe_interval_s: 2,
      pixel_format: "yuv420p",
    },
    audio: { codec: "opus", bitrate_kbps: 128, channels: 2, sample_rate: 48000 },
  }),
  // SVT-AV1 preset 8 is its speed/quality middle for VOD; CRF 32 is about 1080p H.264 at 5 Mb/s.
  "1080p_av1": builtin({
    id: "1080p_av1",
    name: "1080p AV1",
    description: "AV1 Main (SVT-AV1), 1080p, constant quality CRF 32, AAC stereo 128 kb/s, MP4",
    container: "mp4",
    video: {
      codec: "av1",
      encoder: "software",
      hardware_fallback: "cpu",
      height: 1080,
      rate_control: { mode: "crf", crf: 32 },
      preset: "8",
      keyframe_interval_s: 2,
      pixel_format: "yuv420p",
    },
    audio: AAC_STEREO,
  }),
});

export const BUILTIN_LADDERS: Readonly<Record<string, readonly string[]>> = deepFreeze({
  hls_h264_ladder: ["1080p_h264", "720p_h264", "480p_h264", "360p_h264"],
});

/**
 * Profile ids of a job → profiles: ladder ids expanded in place, duplicates dropped (first wins),
 * built-ins before custom ones (built-ins are read-only, a custom profile cannot shadow one).
 * Every unknown id is named in one error.
 */
export function expandProfiles(ids: readonly string[], custom: Readonly<Record<string, ProfileSpec>>): ProfileSpec[] {
  if (ids.length === 0) throw new Error("no profiles requested");
  const out: ProfileSpec[] = [];
  const seen = new Set<string>();
  const unknown: string[] = [];
  const add = (id: string) => {
    const profile = Object.hasOwn(BUILTIN_PROFILES, id) ? BUILTIN_PROFILES[id] : Object.hasOwn(custom, id) ? custom[id] : undefined;
    if (!profile) {
      if (!unknown.includes(id)) unknown.push(id);
      return;
    }
    if (seen.has(profile.id)) return;
    seen.add(profile.id);
    out.push(profile);
  };
  for (const id of ids) {
    const ladder = Object.hasOwn(BUILTIN_LADDERS, id) ? BUILTIN_LADDERS[id] : undefined;
    if (ladder) ladder.forEach(add);
    else add(id);
  }
  if (unknown.length > 0) {
    throw new Error(`unknown profile${unknown.length > 1 ? "s" : ""}: ${unknown.map((id) => `"${id}"`).join(", ")}`);
  }
  return out;
}
