/**
 * One central check of the request target, before routing: a NUL byte (`%00`) or malformed percent-encoding
 * in the path or the query string is refused with 400 WE-REQ-001. No route has a use for either, and left
 * through they reach places that fail with a 500: PostgreSQL rejects NUL in text (worker ids, audit rows),
 * decodeURIComponent throws on a stray `%` (signed storage URLs).
 */

/** Why the target of `url` is refused, or undefined when it is fine. Pure. */
export function urlTargetProblem(url: string): string | undefined {
  // Bun hands an HTTP/1.0 request without a Host header on with a relative URL, which every `new URL()` in
  // the hooks and routes would throw on: refused here, first.
  if (!/^https?:\/\/[^/]/i.test(url)) return "no Host header (HTTP/1.1 requires one)";
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const target = start < 0 ? "" : url.slice(start);
  const hash = target.indexOf("#");
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? "" : target.slice(q + 1, hash < 0 ? undefined : hash);
  for (const [part, where] of [
    [path, "path"],
    [query, "query string"],
  ] as const) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(where === "query string" ? part.replaceAll("+", " ") : part);
    } catch {
      return `malformed percent-encoding in the ${where}`;
    }
    if (decoded.includes("\0")) return `NUL byte (%00) in the ${where}`;
  }
  return undefined;
}

/** The path of a request URL, even a relative or odd one (for error messages and hooks that must not throw). Pure. */
export function pathOf(url: string): string {
  try {
    return new URL(url, "http://invalid").pathname;
  } catch {
    return "/";
  }
}
