/**
 * The FFmpeg command of a live task (issue 15), pure: one input (the session's HTTP-FLV on the ingesting
 * kernel), one decode, every rung scaled from it and encoded with libx264 for low latency, each rung an HLS
 * muxer that PUTs its segments and playlist to the kernel.
 *
 * Choices, each for a reason:
 * - Keyframes are forced every `segment_seconds` of OUTPUT time (`-force_key_frames expr:gte(t,n_forced*N)`),
 *   with `-g`/`-keyint_min` = fps × N and `-sc_threshold 0` so x264 adds none of its own: every rung cuts its
 *   segments at the same instants, so a player switches rendition on a segment boundary without a glitch.
 *   FFmpeg starts output timestamps near 0 (no `-copyts`), so `t` counts from the first frame even when the
 *   publisher's FLV timestamps do not.
 * - Constant frame rate per rung (`fps` filter, default DEFAULT_LIVE_FPS): the GOP in frames is then exactly
 *   N seconds, and HLS players prefer a steady rate.
 * - `-preset veryfast -tune zerolatency`: no B-frames, no lookahead; each frame leaves the encoder at once.
 * - No `-reconnect`: a reconnect re-requests the live FLV from a byte offset the kernel cannot serve (a new
 *   request is a new FLV stream with its own header); a broken pull ends the attempt and the task is re-run
 *   (a new epoch), which the kernel's playlists show as a discontinuity. `-rw_timeout` turns a stalled pull
 *   into an error instead of a hang (LIVE_SOURCE_STALL_S, longer than a reconnect grace).
 * - No `-http_persistent`: it was unreliable with several HLS muxers PUTting at once (issue 15); a new
 *   connection per file to a kernel on the same network costs little. No `delete_segments` either: the
 *   kernel builds the sliding window and deletes what slid out (src/kernel/live/delivery/).
 * - Audio is encoded once per rung (each HLS muxer is its own output and FFmpeg cannot share an encoder
 *   between outputs); AAC-LC stereo at 48 kHz costs a few percent of a core per rung.
 * - Segment files `e<epoch>_<seq>.ts` and playlist `e<epoch>.m3u8`, epoch = the task's attempt: a restarted
 *   transcode never overwrites the previous one's files, and the kernel sees the restart.
 */
import type { LiveParams, LiveRung } from "../../core/task-contracts.ts";

/** Output frame rate of a rung without its own `fps`. */
export const DEFAULT_LIVE_FPS = 30;
/** Entries in the worker's own rung playlist (the kernel keeps the window players see). */
export const WORKER_PLAYLIST_SIZE = 6;
/** A PUT that moves no byte for this long fails the attempt. */
export const LIVE_IO_TIMEOUT_S = 15;
/**
 * A pull that brings no byte for this long fails the attempt. Longer than a publisher's reconnect grace
 * (LIVE_RECONNECT_GRACE, default 10 s): the kernel holds the source open, silent, while it waits for the
 * publisher to come back, and a transcode that gave up then would restart for nothing.
 */
export const LIVE_SOURCE_STALL_S = 60;

/** Input analysis limits (bytes, µs): the codec parameters are in the FLV's first tags. */
export const LIVE_PROBE_BYTES = 524_288;
export const LIVE_ANALYZE_US = 500_000;

export interface LiveLadderInput {
  params: Pick<LiveParams, "source_url" | "push_url" | "token" | "segment_seconds" | "rungs" | "audio_kbps">;
  /** The task's attempt number: names this run's files. */
  epoch: number;
}

const rungFps = (rung: LiveRung) => rung.fps ?? DEFAULT_LIVE_FPS;

/** Keyframe interval in frames of one rung: exactly one segment. */
export function gopFrames(rung: LiveRung, segmentSeconds: number): number {
  return Math.max(1, Math.round(rungFps(rung) * segmentSeconds));
}

/** `${push_url}/${rung}/${file}` without a doubled slash. */
export function pushUrl(pushBase: string, rung: string, file: string): string {
  return `${pushBase.replace(/\/+$/, "")}/${rung}/${file}`;
}

export const segmentFileTemplate = (epoch: number) => `e${epoch}_%d.ts`;
export const playlistFile = (epoch: number) => `e${epoch}.m3u8`;

/** The HTTP header FFmpeg sends on the pull and on every PUT (`-headers` takes CRLF-terminated lines). */
export function authorizationHeader(token: string): string {
  return `Authorization: Bearer ${token}\r\n`;
}

/**
 * One decode split into every rung: `[0:v:0]split=N[i0]…;[i0]fps=F,scale=W:H:…,setsar=1[v0];…`. Each rung's
 * picture fits inside its width × height with the source's aspect kept (never stretched).
 */
export function liveFilterGraph(rungs: readonly LiveRung[]): string {
  const chains = rungs.map((rung, i) => {
    const from = rungs.length > 1 ? `[i${i}]` : "[0:v:0]";
    return `${from}fps=${rungFps(rung)},scale=${rung.width}:${rung.height}:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[v${i}]`;
  });
  if (rungs.length === 1) return chains[0]!;
  const split = `[0:v:0]split=${rungs.length}${rungs.map((_, i) => `[i${i}]`).join("")}`;
  return [split, ...chains].join(";");
}

function rungOutputArgs(input: LiveLadderInput, rung: LiveRung, index: number): string[] {
  const { params, epoch } = input;
  const seconds = params.segment_seconds;
  const gop = String(gopFrames(rung, seconds));
  return [
    "-map",
    `[v${index}]`,
    // A publisher without audio is a valid stream: the `?` keeps FFmpeg from refusing it.
    "-map",
    "0:a:0?",
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-tune",
    "zerolatency",
    "-profile:v",
    "high",
    "-pix_fmt",
    "yuv420p",
    "-b:v",
    `${rung.video_kbps}k`,
    "-maxrate",
    `${rung.video_kbps}k`,
    "-bufsize",
    `${rung.video_kbps * 2}k`,
    "-g",
    gop,
    "-keyint_min",
    gop,
    "-sc_threshold",
    "0",
    "-force_key_frames",
    `expr:gte(t,n_forced*${seconds})`,
    "-c:a",
    "aac",
    "-b:a",
    `${params.audio_kbps}k`,
    "-ac",
    "2",
    "-ar",
    "48000",
    "-f",
    "hls",
    "-hls_time",
    String(seconds),
    "-hls_list_size",
    String(WORKER_PLAYLIST_SIZE),
    "-hls_flags",
    "independent_segments+program_date_time",
    "-hls_segment_type",
    "mpegts",
    "-start_number",
    "0",
    "-hls_segment_filename",
    pushUrl(params.push_url, rung.name, segmentFileTemplate(epoch)),
    "-method",
    "PUT",
    "-headers",
    authorizationHeader(params.token),
    "-timeout",
    String(LIVE_IO_TIMEOUT_S),
    pushUrl(params.push_url, rung.name, playlistFile(epoch)),
  ];
}

/** The whole FFmpeg argv (without the binary and the progress flags the encoder plugin adds). */
export function liveLadderArgs(input: LiveLadderInput): string[] {
  const { params } = input;
  return [
    "-loglevel",
    "warning",
    "-rw_timeout",
    String(LIVE_SOURCE_STALL_S * 1_000_000),
    "-headers",
    authorizationHeader(params.token),
    // The source starts with FLV header, metadata and both codecs' sequence headers, then a keyframe: half a
    // second of it is all the stream analysis needs. FFmpeg's default probing (5 MB / 5 s) waited ~0.5 s
    // longer before the first frame (measured), time a restarted transcode adds to every failover; 32 KiB
    // was too little behind a 720p keyframe (the audio's parameters were not found before the limit).
    "-probesize",
    String(LIVE_PROBE_BYTES),
    "-analyzeduration",
    String(LIVE_ANALYZE_US),
    "-f",
    "flv",
    "-i",
    params.source_url,
    "-filter_complex",
    liveFilterGraph(params.rungs),
    ...params.rungs.flatMap((rung, i) => rungOutputArgs(input, rung, i)),
  ];
}

/** An argv fit to keep as evidence (task attempts, logs): the bearer token replaced. */
export function redactToken(argv: readonly string[], token: string): string[] {
  return argv.map((arg) => (arg.includes(token) ? arg.split(token).join("<token>") : arg));
}
