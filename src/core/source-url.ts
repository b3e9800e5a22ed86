/**
 * What a job's `source_url` may be (pure): an http(s) URL, `s3://bucket/key`, or a key in the default
 * storage (e.g. what POST /v1/files returned). Everything else — file://, other schemes, absolute paths,
 * `..` — is refused with WE-JOB-002 before a job exists. (Address checks after DNS resolution — loopback,
 * private ranges — belong to the outbound-request policy.)
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
    return { kind: "url", url: u.toString() };
  }
  if (scheme === "s3") {
    const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(s);
    if (!m) return bad("expected s3://bucket/key with a valid bucket name");
    checkKey(m[2]!, bad);
    return { kind: "s3", bucket: m[1]!, key: m[2]! };
  }
  if (scheme) bad(`the ${scheme}: scheme is not allowed (use http://, https://, s3://bucket/key or a storage key from POST /v1/files)`);
  checkKey(s, bad);
  return { kind: "key", key: s };
}

function checkKey(key: string, bad: (why: string) => never): void {
  if (key.startsWith("/")) bad("absolute paths are not allowed; upload the file with POST /v1/files and use the returned key");
  if (key.split("/").some((seg) => seg === ".." || seg === "." || seg === "")) bad("the key has an empty, '.' or '..' segment");
  if (key.includes("\\")) bad("the key contains a backslash");
}
