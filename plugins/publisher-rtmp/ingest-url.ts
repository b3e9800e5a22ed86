/** Which ingest URLs a publisher may hand to the restream engine. Pure. */

/**
 * True for an rtmp:// or rtmps:// URL with a host, no credentials, no query or fragment: the engine appends
 * `/<key>`, so anything after the path would end up in the wrong place, and FFmpeg must never be pointed at
 * another protocol (file:, http:, concat:) through a destination's settings.
 */
export function isIngestUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol !== "rtmp:" && url.protocol !== "rtmps:") return false;
  if (!url.hostname || url.username || url.password) return false;
  return url.search === "" && url.hash === "";
}

/** The URL without a trailing slash, so `url + "/" + key` has exactly one. */
export function normalizeIngestUrl(value: string): string {
  return value.replace(/\/+$/, "");
}
