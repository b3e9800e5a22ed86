/**
 * 405 instead of 404 when the path exists with other methods (RFC 9110 §15.5.6): the router only answers "no
 * route", so the error hook asks which of the app's routes match the path. Pure: routes in, methods out.
 */

/** The methods of the routes whose pattern matches `path` (`:name` is one segment, a final `*` the rest), sorted. */
export function allowedMethods(routes: ReadonlyArray<{ method: string; path: string }>, path: string): string[] {
  const segments = split(path);
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.method === "ALL" || !matches(split(route.path), segments)) continue;
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD"); // Bun.serve answers HEAD for every GET route
  }
  return [...methods].sort();
}

function split(path: string): string[] {
  return path.split("?")[0]!.split("/").filter(Boolean);
}

function matches(pattern: string[], segments: string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    // A bare catch-all at the root would claim every path; only a wildcard under a prefix counts.
    if (p === "*") return i > 0 && segments.length >= i;
    const s = segments[i];
    if (s === undefined) return false;
    if (p.startsWith(":") ? s.length === 0 : p !== s) return false;
  }
  return pattern.length === segments.length;
}
