/**
 * HLS from a private bucket. A presigned URL's credential covers exactly one object, so the relative URIs in
 * a master or media playlist (`360p/index.m3u8`, `seg_001.m4s`, `URI="init.mp4"`) would resolve to unsigned
 * object URLs that S3 refuses. read_url therefore hands out a copy of the playlist in which every reference
 * is an absolute URL of its own: presigned per segment (and per rendition playlist, itself rewritten), with
 * the same expiry as the link asked for. The pieces here are pure; store.ts does the S3 calls.
 */
import { posix } from "node:path";

/** Lines and attribute values of a playlist that name another resource. */
const URI_ATTRIBUTE = /URI="([^"]*)"/g;

/** An absolute URL (`https://…`, `data:…`) is left as it is. Pure. */
export function isAbsoluteUri(uri: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(uri);
}

/**
 * The object key a relative URI of the playlist at `playlistKey` points to, or undefined for an absolute
 * URI or one that climbs above the bucket (`../../x`). Query and fragment are dropped. Pure.
 */
export function resolveReference(playlistKey: string, uri: string): string | undefined {
  if (isAbsoluteUri(uri) || uri.startsWith("/")) return undefined;
  const path = uri.split(/[?#]/, 1)[0] ?? "";
  if (!path) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  const joined = posix.normalize(posix.join(posix.dirname(playlistKey), decoded));
  return joined.startsWith("../") || joined === ".." ? undefined : joined;
}

/** Every relative reference of a playlist as object keys, in order of appearance, without repeats. Pure. */
export function playlistReferences(playlistKey: string, text: string): string[] {
  const keys = new Set<string>();
  forEachUri(text, (uri) => {
    const key = resolveReference(playlistKey, uri);
    if (key !== undefined) keys.add(key);
    return uri;
  });
  return [...keys];
}

/**
 * The playlist with each relative reference replaced by `urls.get(key)`; references without an entry and
 * absolute ones are kept as they are. Tags, comments and line endings are untouched. Pure.
 */
export function rewritePlaylist(playlistKey: string, text: string, urls: ReadonlyMap<string, string>): string {
  return forEachUri(text, (uri) => {
    const key = resolveReference(playlistKey, uri);
    return (key !== undefined && urls.get(key)) || uri;
  });
}

/** Where the rewritten copy of `playlistKey` is stored: beside the tree, under `<scope>_signed/`. Pure. */
export function signedCopyKey(scopePrefix: string, playlistKey: string): string {
  const inside = playlistKey.startsWith(scopePrefix) ? playlistKey.slice(scopePrefix.length) : posix.basename(playlistKey);
  return `${scopePrefix}_signed/${inside}`;
}

export const isPlaylistKey = (key: string): boolean => key.toLowerCase().endsWith(".m3u8");

/** Maps every URI of the playlist (URI lines and `URI="…"` attributes of tags) through `map`. Pure. */
function forEachUri(text: string, map: (uri: string) => string): string {
  return text
    .split("\n")
    .map((raw) => {
      const cr = raw.endsWith("\r") ? "\r" : "";
      const line = cr ? raw.slice(0, -1) : raw;
      const trimmed = line.trim();
      if (trimmed === "") return raw;
      if (trimmed.startsWith("#")) return line.replace(URI_ATTRIBUTE, (_all, uri: string) => `URI="${map(uri)}"`) + cr;
      return map(trimmed) + cr;
    })
    .join("\n");
}
