/**
 * What FFmpeg and FFprobe may open when they read an input (pure; docs/security.md, "What FFmpeg may open").
 *
 * FFmpeg opens more than the input it is given when the input is a playlist or a script: an HLS playlist
 * makes it fetch variant playlists, segments and key URIs; a DASH manifest, a concat script, an IMF CPL or
 * an SDP file name further files, URLs or network ports. None of those were checked by the outbound guard
 * (an http(s) source) or stay under the storage root (an uploaded file). So every input is opened with:
 * - `-format_whitelist`: only container formats that hold their media themselves (INPUT_FORMATS). A playlist
 *   is refused right after FFmpeg recognized it, before it reads any entry of it.
 * - `-protocol_whitelist`: `file` for a local path, `http,https,tcp,tls` for a URL (a second line of
 *   defence: nested opens inherit it, so a local file can never lead to a network request or the reverse).
 * - `-max_redirects 0` for URLs: FFmpeg reads only the URL the worker's guard checked (outbound-guard.ts).
 * An input whose format the argv names itself (`-f concat` over the part list the worker wrote) gets no format
 * whitelist: that list is ours, not the user's.
 */
import { probeInputOptions } from "../core/outbound-guard.ts";

/**
 * FFmpeg demuxer names of the containers a source may be in. Each reads its media from the one input only
 * (the MOV demuxer's external data references stay off: `enable_drefs` defaults to 0). Not here on purpose:
 * hls, dash, concat, imf, sdp, rtsp, image2 (file patterns) and every format FFmpeg only uses when named
 * with `-f`.
 */
export const INPUT_FORMATS: readonly string[] = Object.freeze([
  "mov", // also mp4, m4a, 3gp, 3g2, mj2
  "matroska", // also webm
  "mpegts",
  "mpeg",
  "mxf",
  "flv",
  "avi",
  "asf",
  "ogg",
  "nut",
  "dv",
  "wtv",
  "gif",
  "ivf",
  "obu",
  "yuv4mpegpipe",
  "h264",
  "hevc",
  "m4v",
  "mpegvideo",
  // Self-contained audio files: accepted so that an audio-only source is refused for what it is (no video,
  // docs/media.md), not as an unknown container.
  "mp3",
  "wav",
  "w64",
  "flac",
  "aac",
  "aiff",
  "caf",
  "amr",
]);

const NETWORK_PROTOCOLS = "http,https,tcp,tls";

const isUrl = (input: string) => /^https?:\/\//i.test(input);

/** The options to put before one input (`-i input`, or FFprobe's input argument). */
export function inputOptions(input: string, opts: { formatNamed?: boolean } = {}): string[] {
  return [
    ...probeInputOptions(input),
    "-protocol_whitelist",
    isUrl(input) ? NETWORK_PROTOCOLS : "file",
    ...(opts.formatNamed ? [] : ["-format_whitelist", INPUT_FORMATS.join(",")]),
  ];
}

/**
 * An FFmpeg argv with inputOptions before every `-i`. Input options are those between the previous input
 * (or the start) and this `-i`; a `-f` among them names the format, so no format whitelist is added.
 */
export function guardInputs(args: readonly string[]): string[] {
  const out: string[] = [];
  let optionsStart = 0;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-i" && i + 1 < args.length) {
      const formatNamed = args.slice(optionsStart, i).includes("-f");
      out.push(...inputOptions(args[i + 1]!, { formatNamed }), "-i", args[i + 1]!);
      i++;
      optionsStart = i + 1;
      continue;
    }
    out.push(args[i]!);
  }
  return out;
}

const WHAT_IT_IS: Record<string, string> = {
  hls: "an HLS playlist",
  dash: "a DASH manifest",
  concat: "a concat script",
  imf: "an IMF composition playlist",
  sdp: "an SDP session description",
};

/**
 * Why a run stopped at the format whitelist, from FFmpeg's stderr (`[hls @ 0x…] Format not on whitelist
 * '…'`), as a sentence for the job's error; undefined when that is not why it failed.
 */
export function refusedFormatReason(stderr: string): string | undefined {
  const m = /^\[([^\] @]+)[^\]]*\] Format not on whitelist/m.exec(stderr);
  if (!m) return undefined;
  const name = m[1]!;
  const what = WHAT_IT_IS[name];
  if (what) return `the source is ${what}, which is refused: FFmpeg would open the files or URLs it lists, which no check covers; submit the media file itself (e.g. one rendition's MP4 or TS)`;
  return `the source's container format "${name}" is not accepted (accepted: ${INPUT_FORMATS.join(", ")})`;
}
