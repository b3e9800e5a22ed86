/**
 * The dashboard's client routes: a path ↔ page mapping with no DOM, so the server's SPA fallback
 * (src/kernel/api/ui.ts serves index.html for these paths only) and the router agree, and unit tests read it.
 */

export type Page =
  | "overview" | "jobs" | "job" | "new-job" | "workers" | "streams" | "profiles"
  | "plugins" | "webhooks" | "api-keys" | "users" | "audit" | "sign-in" | "not-found";

export interface Route {
  page: Page;
  /** The id in /jobs/:id. */
  id?: string;
  query: Record<string, string>;
}

/** The navigation, in order; `need` is the least role that sees the entry. */
export const NAV: ReadonlyArray<{ page: Page; path: string; label: string; need: "viewer" | "operator" | "admin" }> = [
  { page: "overview", path: "/", label: "Overview", need: "viewer" },
  { page: "jobs", path: "/jobs", label: "Jobs", need: "viewer" },
  { page: "new-job", path: "/jobs/new", label: "New job", need: "operator" },
  { page: "workers", path: "/workers", label: "Workers", need: "viewer" },
  { page: "streams", path: "/streams", label: "Streams", need: "viewer" },
  { page: "profiles", path: "/profiles", label: "Profiles", need: "viewer" },
  { page: "plugins", path: "/plugins", label: "Plugins", need: "viewer" },
  { page: "webhooks", path: "/webhooks", label: "Webhooks", need: "admin" },
  { page: "api-keys", path: "/api-keys", label: "API keys", need: "admin" },
  { page: "users", path: "/users", label: "Users", need: "admin" },
  { page: "audit", path: "/audit", label: "Audit log", need: "admin" },
];

/** Paths the server answers with the dashboard's page (besides "/"); `:id` is one path segment. */
export const CLIENT_PATHS: readonly string[] = ["/sign-in", "/jobs", "/jobs/new", "/jobs/:id", "/workers", "/streams", "/profiles", "/plugins", "/webhooks", "/api-keys", "/users", "/audit"];

const STATIC: Record<string, Page> = Object.fromEntries([...NAV.map((n) => [n.path, n.page] as const), ["/sign-in", "sign-in"] as const]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The page a location shows. */
export function parseRoute(pathname: string, search = ""): Route {
  const query = Object.fromEntries(new URLSearchParams(search));
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, "") : pathname;
  const page = STATIC[path];
  if (page) return { page, query };
  const job = /^\/jobs\/([^/]+)$/.exec(path);
  if (job && UUID.test(job[1]!)) return { page: "job", id: job[1]!.toLowerCase(), query };
  return { page: "not-found", query };
}

/** A path with a query string, leaving out empty values (filters the user cleared). */
export function withQuery(path: string, query: Record<string, string | number | undefined>): string {
  const entries = Object.entries(query).filter(([, value]) => value !== undefined && value !== "").map(([k, value]): [string, string] => [k, String(value)]);
  return entries.length === 0 ? path : `${path}?${new URLSearchParams(entries)}`;
}
