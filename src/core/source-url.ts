/**
 * What a job's `source_url` may be (pure): an http(s) URL, `s3://bucket/key`, or a key in the default
 * storage (e.g. what POST /v1/files returned). Everything else — file://, other schemes, absolute paths,
 * `..` — is refused with WE-JOB-002 before a job exists. (Address checks after DNS resolution — loopback,
 * private ranges — belong to the outbound-request policy.) A source named like a playlist (.m3u8, .mpd …)
 * is refused with WE-JOB-007 (422) at once: whatever it is called, FFmpeg refuses to open one anyway
 * (src/media/input-policy.ts), and saying so at submission beats a job that fails at analysis.
 */
import { AppError } from "./errors.ts";

export type SourceRef =
  | { kind: "url"; url: string }
  | { kind: "s3"; bucket: string; key: string }
  | { kind: "key"; key: string };

const MAX_URL = 4096;

export function parseSourceUrl(input: string): SourceRef {
  const s = input.trim();
  const bad = (why: string): never => {
    throw new AppError("WE-JOB-002", `source_url ${JSON.stringify(s.slice(0, 200))} is not usable: ${why}`, { source_url: s.slice(0, 500) });
  };
  if (!s) bad("it is empty");
  if (s.length > MAX_URL) bad(`it is longer than ${MAX_URL} characters`);
  if (/[\u0000-\u001f]/.test(s)) bad("it contains control characters");
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(s)?.[1]?.toLowerCase();
  if (scheme === "http" || scheme === "https") {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return bad("it is not a valid URL");
    }
    if (!u.hostname) bad("the URL has no host");
    if (u.username || u.password) bad("credentials in the URL are not accepted; use a presigned URL or s3://");
    refusePlaylist(s, u.pathname);
    return { kind: "url", url: u.toString() };
  }
  if (scheme === "s3") {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(s);
    if (!m) return bad("expected s3://bucket/key with a valid bucket name");
    checkKey(m[2]!, bad);
    refusePlaylist(s, m[2]!);
    return { kind: "s3", bucket: m[1]!, key: m[2]! };
  }
  if (scheme) bad(`the ${scheme}: scheme is not allowed (use http://, https://, s3://bucket/key or a storage key from POST /v1/files)`);
  checkKey(s, bad);
  refusePlaylist(s, s);
  return { kind: "key", key: s };
}

/** File name extensions of playlists and scripts that name other files (what each is, for the message). */
const PLAYLIST_EXTENSIONS: Record<string, string> = {
  m3u8: "an HLS playlist",
  m3u: "a playlist",
  mpd: "a DASH manifest",
  ffconcat: "a concat script",
  sdp: "an SDP session description",
};

function refusePlaylist(source: string, path: string): void {
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  const what = ext === undefined ? undefined : PLAYLIST_EXTENSIONS[ext];
  if (!what) return;
  throw new AppError(
    "WE-JOB-007",
    `source_url ${JSON.stringify(source.slice(0, 200))} is ${what} (.${ext}): playlists are not accepted as sources, since FFmpeg would open the files or URLs they list; submit the media file itself (e.g. one rendition's MP4 or TS)`,
    { source_url: source.slice(0, 500), reason: "playlist" },
  );
}

function checkKey(key: string, bad: (why: string) => never): void {
  if (key.startsWith("/")) bad("absolute paths are not allowed; upload the file with POST /v1/files and use the returned key");
  if (key.split("/").some((seg) => seg === ".." || seg === "." || seg === "")) bad("the key has an empty, '.' or '..' segment");
  if (key.includes("\\")) bad("the key contains a backslash");
}
