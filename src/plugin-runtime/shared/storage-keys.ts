/**
 * Object key syntax, shared by every storage plugin so a key valid on one backend is valid on all of them
 * (a job's outputs can move from storage-fs to storage-s3). Pure: no I/O.
 *
 * A key is `segment("/" segment)*`: not empty, well-formed Unicode, at most 1024 UTF-8 bytes, no NUL byte, no
 * backslash, not absolute, no empty / "." / ".." segment, segments at most 255 bytes, and no segment starting
 * with the reserved temp-file prefix. Relative URLs in HLS playlists resolve against such keys unambiguously.
 * Part of the SDK (src/plugin-runtime/shared/), not of one plugin: every storage plugin, built in or a binary in
 * PLUGIN_DIR, applies the same rules.
 */
import { PluginError } from "../sdk.ts";

export const MAX_KEY_BYTES = 1024;
export const MAX_SEGMENT_BYTES = 255;
/** In-flight writes are temp files with this name prefix; keys may not use it and listings skip it. */
export const TEMP_PREFIX = ".we-tmp-";

const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8");

/** Why `s` cannot be (part of) a key, checking only what applies to any prefix of a key; undefined when fine. */
function stringProblem(value: string, what: string): string | undefined {
  if (typeof value !== "string") return `${what} must be a string`;
  if (!value.isWellFormed()) return `${what} is not well-formed Unicode (lone surrogate)`;
  if (value.includes("\0")) return `${what} contains a NUL byte`;
  if (value.includes("\\")) return `${what} contains a backslash`;
  if (value.startsWith("/")) return `${what} is absolute (starts with "/")`;
  if (utf8Length(value) > MAX_KEY_BYTES) return `${what} is longer than ${MAX_KEY_BYTES} bytes`;
  return undefined;
}

function segmentProblem(seg: string, what: string): string | undefined {
  if (seg === "") return `${what} has an empty segment (a doubled or trailing "/")`;
  if (seg === "." || seg === "..") return `${what} has a "${seg}" segment`;
  if (utf8Length(seg) > MAX_SEGMENT_BYTES) return `${what} has a segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  if (seg.startsWith(TEMP_PREFIX)) return `${what} has a segment starting with the reserved "${TEMP_PREFIX}"`;
  return undefined;
}

/** The rule `key` breaks, or undefined for a valid key. */
export function keyProblem(key: string): string | undefined {
  const p = stringProblem(key, "key");
  if (p) return p;
  if (key === "") return "key is empty";
  for (const seg of key.split("/")) {
    const sp = segmentProblem(seg, "key");
    if (sp) return sp;
  }
  return undefined;
}

/**
 * The rule a list/delete prefix breaks. A prefix is a string prefix of keys ("" = all): every complete segment
 * follows the key rules, the last (partial) one may be empty or anything without NUL/backslash.
 */
export function prefixProblem(prefix: string): string | undefined {
  const p = stringProblem(prefix, "prefix");
  if (p) return p;
  const segs = prefix.split("/");
  segs.pop();
  for (const seg of segs) {
    const sp = segmentProblem(seg, "prefix");
    if (sp) return sp;
  }
  return undefined;
}

/** A short, printable rendering of a key for error messages (keys can be 2000 characters of junk). */
export function showKey(key: unknown): string {
  const s = typeof key === "string" ? key : String(key);
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

export function checkKey(plugin: string, key: string): string {
  const problem = keyProblem(key);
  if (problem) throw new PluginError("WE-STO-002", `${plugin}: key ${showKey(key)} refused: ${problem}`, { key: String(key).slice(0, 200), rule: problem });
  return key;
}

export function checkPrefix(plugin: string, prefix: string): string {
  const problem = prefixProblem(prefix);
  if (problem) throw new PluginError("WE-STO-002", `${plugin}: prefix ${showKey(prefix)} refused: ${problem}`, { prefix: String(prefix).slice(0, 200), rule: problem });
  return prefix;
}

/**
 * The credential scope of a read URL: the key itself, or a directory prefix of it ending in "/" (so a token
 * for "jobs/1/hls/" never covers "jobs/1/hls2/…" and a verifier only has to try the key's "/" boundaries).
 */
export function checkScope(plugin: string, key: string, scope: string | undefined): string {
  if (scope === undefined || scope === key) return key;
  if (typeof scope !== "string" || scope === "" || !scope.endsWith("/") || !key.startsWith(scope)) {
    throw new PluginError(
      "WE-STO-002",
      `${plugin}: scope_prefix ${showKey(scope)} refused: it must be the key or a prefix of key ${showKey(key)} ending in "/"`,
      { key, scope_prefix: scope },
    );
  }
  return checkPrefix(plugin, scope);
}

/** `expires_in` as whole seconds in [1, max]; WE-REQ-001 otherwise. */
export function checkExpiresIn(plugin: string, expiresIn: unknown, max = 7 * 24 * 3600): number {
  if (typeof expiresIn !== "number" || !Number.isFinite(expiresIn) || expiresIn <= 0 || expiresIn > max) {
    throw new PluginError("WE-REQ-001", `${plugin}: expires_in must be a number of seconds in (0, ${max}], got ${String(expiresIn)}`);
  }
  return Math.ceil(expiresIn);
}

/** Orders keys by their UTF-8 bytes, like S3 (JS `<` compares UTF-16 code units, which differs above U+FFFF). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** The key as a URL path: each segment percent-encoded, "/" kept, so relative URLs resolve segment by segment. */
export function keyToUrlPath(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}
