/**
 * FFmpeg command lines of a restream: the one input reader (a file or URL paced in real time, or a live
 * session's FLV) that writes FLV to stdout, and one publisher per destination that reads that FLV on stdin and
 * sends it to `<url>/<key>` as FLV over RTMP. Pure, so each flag is unit-tested.
 *
 * Stream copy is the default (no decoding: a destination costs almost no CPU); a destination with `transcode`
 * gets its own H.264/AAC encode, for a platform whose bitrate or resolution cap is below the source.
 */

export interface DestinationTranscode {
  height: number;
  video_kbps: number;
}

export interface RestreamDestination {
  id: string;
  /** The publisher plugin that owns the settings ("rtmp", "youtube", "twitch", …). */
  publisher: string;
  /** rtmp:// or rtmps:// server URL, without the key. */
  url: string;
  /** The stream key: secret, never logged nor reported. */
  key: string;
  enabled: boolean;
  transcode?: DestinationTranscode;
}

export type RestreamInput =
  /** A file or URL played as if live: `-re` paces it in real time; `loop` starts it over at the end. */
  | { kind: "file"; source: string; loop: boolean; startSeconds?: number }
  /**
   * A live session's FLV (already real time: no pacing). `token`: sent as `Authorization: Bearer <token>`
   * (the kernel's internal live source, src/kernel/live/internal-url.ts).
   */
  | { kind: "live"; source: string; token?: string };

/** Audio bitrate of a transcoded destination: what platforms recommend for stereo. */
export const TRANSCODE_AUDIO_KBPS = 128;
/** Keyframe every 2 s at 30 fps: what YouTube and Twitch ask of an ingest. */
export const TRANSCODE_GOP_FRAMES = 60;

/** Where the publisher sends: the server URL and the key as its last path segment. */
export function publishUrl(destination: Pick<RestreamDestination, "url" | "key">): string {
  const base = destination.url.replace(/\/+$/, "");
  return destination.key === "" ? base : `${base}/${destination.key}`;
}

/** The input reader: anything FFmpeg can open → FLV with the codecs untouched on stdout, and nothing else. */
export function restreamInputArgs(input: RestreamInput): string[] {
  const argv = ["-hide_banner", "-nostdin", "-loglevel", "warning"];
  if (input.kind === "file") {
    argv.push("-re");
    if (input.loop) argv.push("-stream_loop", "-1");
    if (input.startSeconds !== undefined && input.startSeconds > 0) argv.push("-ss", String(input.startSeconds));
  }
  if (input.kind === "live" && input.token) argv.push("-headers", `Authorization: Bearer ${input.token}\r\n`);
  argv.push("-i", input.source, "-map", "0:v:0?", "-map", "0:a:0?", "-c", "copy", "-f", "flv", "pipe:1");
  return argv;
}

/**
 * One destination's publisher: FLV on stdin, `-progress pipe:1` on stdout (the watchdog's heartbeat and the
 * bitrate), FLV to the platform. The key is in the argv (FFmpeg has no other way to take it); it is never
 * logged, and every message taken from FFmpeg goes through redactKey first.
 */
export function restreamDestinationArgs(destination: Pick<RestreamDestination, "url" | "key" | "transcode">): string[] {
  // The input is FLV with its codec headers up front: a short probe starts sending at once instead of after
  // FFmpeg's default 5 s of analysis (the watchdog would otherwise see a slow start as a stall).
  const argv = ["-hide_banner", "-loglevel", "warning", "-analyzeduration", "500000", "-probesize", "262144", "-f", "flv", "-i", "pipe:0", "-map", "0:v:0?", "-map", "0:a:0?"];
  const transcode = destination.transcode;
  if (transcode) {
    const kbps = Math.round(transcode.video_kbps);
    argv.push(
      "-vf", `scale=-2:${Math.round(transcode.height)}`,
      "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
      "-b:v", `${kbps}k`, "-maxrate", `${kbps}k`, "-bufsize", `${kbps * 2}k`,
      "-g", String(TRANSCODE_GOP_FRAMES), "-keyint_min", String(TRANSCODE_GOP_FRAMES), "-sc_threshold", "0",
      "-c:a", "aac", "-b:a", `${TRANSCODE_AUDIO_KBPS}k`,
    );
  } else {
    argv.push("-c", "copy");
  }
  argv.push("-progress", "pipe:1", "-nostats", "-f", "flv", publishUrl(destination));
  return argv;
}

/**
 * Where a resumed attempt starts in a file: `elapsed` media seconds after `start`, folded into the file when it
 * loops (its timestamps keep growing across loops). Without a known duration the position is not folded; past
 * the end of a non-looping file it is the end.
 */
export function filePosition(startSeconds: number, elapsedSeconds: number, durationSeconds: number | null, loop: boolean): number {
  const at = Math.max(0, startSeconds) + Math.max(0, elapsedSeconds);
  if (durationSeconds === null || !(durationSeconds > 0)) return round3(at);
  return round3(loop ? at % durationSeconds : Math.min(at, durationSeconds));
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** A message with the key replaced (FFmpeg prints the full URL in its errors). */
export function redactKey(text: string, key: string): string {
  if (key === "") return text;
  return text.split(key).join("<key>");
}

/**
 * Whether a publisher's failure is terminal: the platform refused the key or the authorization, so the same
 * attempt would be refused again (the destination goes `failed` with the platform's message). Network errors,
 * resets and timeouts are not: those reconnect with the backoff.
 */
const TERMINAL_PATTERNS: RegExp[] = [
  // FFmpeg prints an RTMP server's refusal as `Server error: <description>` (the status code itself is not
  // printed); a description about the key or the authorization is terminal, "server is full" is not.
  /server error:.*\b(stream key|key|auth\w*|unauthori[sz]ed|forbidden|not allowed|invalid)\b/i,
  /NetStream\.Publish\.BadName/i,
  /NetStream\.Publish\.Denied/i,
  /NetConnection\.Connect\.Rejected/i,
  /\b401\b.*unauthori[sz]ed/i,
  /\b403\b.*forbidden/i,
  /authentication failed/i,
  /invalid (stream )?key/i,
];

export function isTerminalPublishError(stderrText: string): boolean {
  return TERMINAL_PATTERNS.some((pattern) => pattern.test(stderrText));
}

/**
 * The line of FFmpeg's stderr worth showing a user: the platform's own words when it sent any (RTMP
 * `Server error: …`), else the last non-empty line. Key redacted, at most 300 characters.
 */
export function publishErrorMessage(stderrText: string, key: string): string {
  const lines = stderrText.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const server = lines.find((line) => /server error|NetStream\.|NetConnection\./i.test(line));
  const chosen = server ?? lines[lines.length - 1] ?? "publisher exited without a message";
  return redactKey(chosen.replace(/^\[[^\]]*\]\s*/, ""), key).slice(0, 300);
}
