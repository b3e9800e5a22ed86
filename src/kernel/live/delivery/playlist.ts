/**
 * The live playlists the kernel serves, built from what the worker's FFmpeg PUTs (pure: no clock, no I/O).
 *
 * The worker's HLS muxer writes, per rung, segments `e<epoch>_<n>.ts` and its own playlist `e<epoch>.m3u8`,
 * `<epoch>` being the live task's attempt number. Its playlist restarts at every new attempt (a restarted
 * transcode), so players are never given it: the kernel keeps, per rung, a sliding window of the segments
 * received over the whole session, numbered by its own media sequence that only grows, with an
 * `EXT-X-DISCONTINUITY` where the epoch changes (new encoder: new timestamps, new codec state) and
 * `EXT-X-DISCONTINUITY-SEQUENCE` counting the discontinuities that have slid out of the window, as RFC 8216
 * §6.2.2 asks so a player joining later still numbers them right.
 */

/** One segment in the kernel's window. */
export interface WindowSegment {
  /** The worker's file name, `e<epoch>_<n>.ts`: also the URI in the kernel's playlist (same folder). */
  file: string;
  epoch: number;
  /** The kernel's media sequence number of this segment (grows by one per segment, over the whole session). */
  sequence: number;
  durationS: number;
  /** Wall-clock time of the segment's first frame (ISO 8601), for `EXT-X-PROGRAM-DATE-TIME`. */
  programDateTime: string;
  /** First segment of an epoch that followed another one: `EXT-X-DISCONTINUITY` before it. */
  discontinuity: boolean;
}

/** The state of one rung's playlist: JSON-serialisable (it is stored beside the segments). */
export interface RungWindow {
  /** Sequence number the next accepted segment gets. */
  nextSequence: number;
  /** Discontinuities before the first segment of `segments` (EXT-X-DISCONTINUITY-SEQUENCE). */
  discontinuitySequence: number;
  /** The newest epoch seen; segments of an older epoch (a transcode that was replaced) are ignored. */
  epoch: number;
  /** Never decreases (RFC 8216 §6.2.1: the target duration must not change). */
  targetDurationS: number;
  /** In the playlist, oldest first. */
  segments: WindowSegment[];
  /** Slid out of the playlist but still served for slow players; deleted once they leave this list too. */
  retired: string[];
  ended: boolean;
}

/** One entry of the worker's playlist. */
export interface WorkerSegment {
  file: string;
  durationS: number;
  programDateTime: string | null;
}

export interface WorkerPlaylist {
  epoch: number;
  segments: WorkerSegment[];
  ended: boolean;
}

const SEGMENT_FILE = /^e(\d{1,6})_(\d{1,9})\.ts$/;
const PLAYLIST_FILE = /^e(\d{1,6})\.m3u8$/;
/** A rung name: what the live task's ladder calls it (e.g. `720p`); also a path segment of playback URLs. */
const RUNG_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

export type PushedFile = { kind: "segment"; epoch: number; index: number } | { kind: "playlist"; epoch: number };

/** What a PUT's file name is: a segment, the worker's rung playlist, or null (refused). */
export function parsePushedFile(file: string): PushedFile | null {
  const segment = SEGMENT_FILE.exec(file);
  if (segment) return { kind: "segment", epoch: Number(segment[1]), index: Number(segment[2]) };
  const playlist = PLAYLIST_FILE.exec(file);
  if (playlist) return { kind: "playlist", epoch: Number(playlist[1]) };
  return null;
}

export function isRungName(name: string): boolean {
  return RUNG_NAME.test(name);
}

export function isSegmentFile(file: string): boolean {
  return SEGMENT_FILE.test(file);
}

/**
 * Reads the worker's rung playlist: each `#EXTINF` duration with the URI after it (reduced to its last path
 * segment, since FFmpeg may write the URL it PUT to), the `#EXT-X-PROGRAM-DATE-TIME` before it if any.
 * Entries whose URI is not a segment name of this epoch are skipped. Throws on a text that is no playlist.
 */
export function parseWorkerPlaylist(text: string, epoch: number): WorkerPlaylist {
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  if (lines[0] !== "#EXTM3U") throw new Error("not an HLS playlist (no #EXTM3U on the first line)");
  const segments: WorkerSegment[] = [];
  let duration: number | null = null;
  let programDateTime: string | null = null;
  let ended = false;
  for (const line of lines.slice(1)) {
    if (line.startsWith("#EXTINF:")) {
      const value = Number.parseFloat(line.slice("#EXTINF:".length));
      duration = Number.isFinite(value) && value > 0 ? value : null;
    } else if (line.startsWith("#EXT-X-PROGRAM-DATE-TIME:")) {
      const value = line.slice("#EXT-X-PROGRAM-DATE-TIME:".length);
      programDateTime = Number.isNaN(Date.parse(value)) ? null : new Date(value).toISOString();
    } else if (line === "#EXT-X-ENDLIST") {
      ended = true;
    } else if (line !== "" && !line.startsWith("#")) {
      const file = line.split("?")[0]!.split("/").pop() ?? "";
      const parsed = parsePushedFile(file);
      if (duration !== null && parsed?.kind === "segment" && parsed.epoch === epoch) segments.push({ file, durationS: duration, programDateTime });
      duration = null;
      programDateTime = null;
    }
  }
  return { epoch, segments, ended };
}

/** The worker's segment number in `e<epoch>_<n>.ts` (-1 for another name). */
function indexOf(file: string): number {
  const parsed = parsePushedFile(file);
  return parsed?.kind === "segment" ? parsed.index : -1;
}

export function emptyWindow(): RungWindow {
  return { nextSequence: 0, discontinuitySequence: 0, epoch: 0, targetDurationS: 1, segments: [], retired: [], ended: false };
}

export interface MergeOptions {
  /** Segments listed in the playlist. */
  windowSize: number;
  /** Segments kept (and served) after they left the playlist, for players that are behind. */
  retainExtra: number;
  /** Receipt time of the worker's playlist (epoch ms): program date-time of segments the worker gave none. */
  nowMs: number;
  /** Whether a segment's bytes were stored (a segment listed but never received is left out). */
  stored(file: string): boolean;
}

export interface MergeResult {
  window: RungWindow;
  /** Newly listed segments. */
  added: WindowSegment[];
  /** Files to delete from storage now (slid past the retention margin). */
  expired: string[];
  /** True when the playlist came from an epoch older than the window's: nothing was changed. */
  stale: boolean;
}

/** Adds the worker playlist's new segments to the window; slides it. */
export function mergeWorkerPlaylist(window: RungWindow, playlist: WorkerPlaylist, options: MergeOptions): MergeResult {
  if (playlist.epoch < window.epoch || window.ended) return { window, added: [], expired: [], stale: true };
  const known = new Set(window.segments.map((segment) => segment.file).concat(window.retired));
  // Only segments after the newest one listed of this epoch: one whose PUT finished late stays out rather
  // than being listed after later ones (a playlist runs forward in time).
  const newestIndex = Math.max(-1, ...window.segments.filter((segment) => segment.epoch === playlist.epoch).map((segment) => indexOf(segment.file)));
  const fresh = playlist.segments.filter((segment) => !known.has(segment.file) && indexOf(segment.file) > newestIndex && options.stored(segment.file));
  // A newer epoch's first segment follows the older epoch's last one: a discontinuity (only if something came before).
  let pendingDiscontinuity = playlist.epoch > window.epoch && window.nextSequence > 0;
  let nextSequence = window.nextSequence;
  let targetDurationS = window.targetDurationS;
  // Wall-clock of segments without one: they end at receipt time, so count back from the last.
  let clockMs = options.nowMs - fresh.reduce((sum, segment) => sum + segment.durationS * 1000, 0);
  const added = fresh.map((segment): WindowSegment => {
    const entry: WindowSegment = {
      file: segment.file,
      epoch: playlist.epoch,
      sequence: nextSequence++,
      durationS: segment.durationS,
      programDateTime: segment.programDateTime ?? new Date(clockMs).toISOString(),
      discontinuity: pendingDiscontinuity,
    };
    pendingDiscontinuity = false;
    clockMs += segment.durationS * 1000;
    targetDurationS = Math.max(targetDurationS, Math.round(segment.durationS));
    return entry;
  });
  const all = window.segments.concat(added);
  const slid = all.slice(0, Math.max(0, all.length - options.windowSize));
  const segments = all.slice(slid.length);
  const retired = window.retired.concat(slid.map((segment) => segment.file));
  const expired = retired.slice(0, Math.max(0, retired.length - options.retainExtra));
  return {
    window: {
      nextSequence,
      discontinuitySequence: window.discontinuitySequence + slid.filter((segment) => segment.discontinuity).length,
      epoch: Math.max(window.epoch, playlist.epoch),
      targetDurationS,
      segments,
      retired: retired.slice(expired.length),
      ended: false,
    },
    added,
    expired,
    stale: false,
  };
}

/**
 * The rung's media playlist as players get it. `uriPrefix` goes before each file name: the kernel puts the
 * session id there, so a segment URL is never reused by a later session of the same stream (segments are
 * cached as immutable).
 */
export function renderMediaPlaylist(window: RungWindow, uriPrefix = ""): string {
  const first = window.segments[0];
  const lines = [
    "#EXTM3U",
    "#EXT-X-VERSION:3",
    `#EXT-X-TARGETDURATION:${window.targetDurationS}`,
    `#EXT-X-MEDIA-SEQUENCE:${first?.sequence ?? window.nextSequence}`,
    `#EXT-X-DISCONTINUITY-SEQUENCE:${window.discontinuitySequence}`,
    "#EXT-X-INDEPENDENT-SEGMENTS",
  ];
  for (const segment of window.segments) {
    // A discontinuity counts in EXT-X-DISCONTINUITY-SEQUENCE only once its segment slid out; while listed,
    // the tag itself is there (the player resets its decoder at it).
    if (segment.discontinuity) lines.push("#EXT-X-DISCONTINUITY");
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${segment.programDateTime}`, `#EXTINF:${segment.durationS.toFixed(3)},`, `${uriPrefix}${segment.file}`);
  }
  if (window.ended) lines.push("#EXT-X-ENDLIST");
  return `${lines.join("\n")}\n`;
}

/** A rung of the session's ladder, as the live task's params give it. */
export interface LadderRung {
  name: string;
  width: number;
  height: number;
  videoKbps: number;
  fps?: number;
}

/**
 * The H.264 codec string of a rung: High profile (libx264's default) at the lowest level that holds the
 * frame size and rate (H.264 Annex A, max macroblocks per second); players only use it to ask the browser
 * whether it can decode, so a level at or above the real one is what matters.
 */
export function h264CodecOf(rung: LadderRung): string {
  const macroblocksPerSecond = Math.ceil(rung.width / 16) * Math.ceil(rung.height / 16) * (rung.fps ?? 30);
  const levels: Array<[number, string]> = [
    [40_500, "1e"], // 3.0
    [108_000, "1f"], // 3.1
    [216_000, "20"], // 3.2
    [245_760, "28"], // 4.0
    [522_240, "2a"], // 4.2
    [589_824, "32"], // 5.0
    [983_040, "33"], // 5.1
  ];
  const level = levels.find(([limit]) => macroblocksPerSecond <= limit)?.[1] ?? "34";
  return `avc1.6400${level}`;
}

/** AAC-LC: what the live ladder encodes. */
export const AAC_CODEC = "mp4a.40.2";

/**
 * The master playlist: one variant per rung, highest first. BANDWIDTH is the peak the player must sustain:
 * video plus audio plus ~10 % for MPEG-TS overhead (packet headers, PES, PAT/PMT at every segment).
 */
export function renderMasterPlaylist(rungs: readonly LadderRung[], audioKbps: number): string {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"];
  const ordered = [...rungs].sort((a, b) => b.videoKbps - a.videoKbps || b.height - a.height);
  for (const rung of ordered) {
    const bandwidth = Math.round((rung.videoKbps + audioKbps) * 1000 * 1.1);
    const frameRate = rung.fps ? `,FRAME-RATE=${rung.fps.toFixed(3)}` : "";
    lines.push(`#EXT-X-STREAM-INF:BANDWIDTH=${bandwidth},AVERAGE-BANDWIDTH=${Math.round((rung.videoKbps + audioKbps) * 1000)},RESOLUTION=${rung.width}x${rung.height},CODECS="${h264CodecOf(rung)},${AAC_CODEC}"${frameRate}`);
    lines.push(`${rung.name}/index.m3u8`);
  }
  return `${lines.join("\n")}\n`;
}

/** Whether every rung has at least `minimum` segments listed: the master playlist may be answered then. */
export function windowsReady(windows: ReadonlyMap<string, RungWindow>, rungs: readonly string[], minimum: number): boolean {
  return rungs.length > 0 && rungs.every((rung) => (windows.get(rung)?.segments.length ?? 0) >= minimum);
}

/** The window closed for good: `EXT-X-ENDLIST`, nothing added after it. */
export function endWindow(window: RungWindow): RungWindow {
  return { ...window, ended: true };
}

/**
 * Appends `query` (e.g. `token=…`) to every URI line of a playlist: a signed stream's token must travel from the
 * master playlist to the media playlists and on to every segment, since the player resolves relative URIs
 * against the playlist's URL without its query.
 */
export function withQuery(playlist: string, query: string): string {
  if (!query) return playlist;
  return playlist
    .split("\n")
    .map((line) => (line !== "" && !line.startsWith("#") ? `${line}${line.includes("?") ? "&" : "?"}${query}` : line))
    .join("\n");
}
