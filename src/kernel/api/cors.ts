/**
 * CORS from an allowlist (CORS_ORIGINS; empty = no cross-origin access).
 *
 * An allowed Origin is reflected exactly, never `*`: callers authenticate with an Authorization header, and a
 * wildcard would let any web page drive the API with a key it obtained. A disallowed origin gets no CORS
 * headers (the browser then refuses to hand the response to the page) and its preflight is refused with 403.
 * Preflights are answered here, in onRequest, before authentication: browsers never send credentials on a
 * preflight, so requiring them would make every cross-origin call fail.
 *
 * Signed media links (`/v1/storage/storage-fs/t/…`, HLS playlists and segments) and live playback (`/live/…`) follow MEDIA_CORS_ORIGINS
 * instead (default `*`): the expiring token in the URL is the credential, no cookie or header is involved, and
 * an HLS player on a customer's site (hls.js fetches with CORS) must be able to read them.
 */
import { envelope } from "./envelope.ts";

export const CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
export const CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id, Last-Event-ID";
/** Response headers a page may read besides the safelisted ones (request id for support, Retry-After on 429). */
export const CORS_EXPOSE_HEADERS = "X-Request-Id, Retry-After, Location";
/** Seconds a browser may cache a preflight (Chromium caps this at 7200). */
export const CORS_MAX_AGE = 600;
/** Signed media links: read-only methods, Range for seeking; players read the length and range of a part. */
export const MEDIA_CORS_ALLOW_METHODS = "GET, HEAD, OPTIONS";
export const MEDIA_CORS_ALLOW_HEADERS = "Range";
export const MEDIA_CORS_EXPOSE_HEADERS = "Content-Length, Content-Range, Accept-Ranges, Content-Type";
/** Where the signed media links live (src/kernel/api/storage-urls.ts). */
export const SIGNED_MEDIA_PATH = "/v1/storage/storage-fs/t/";
/** Live playback (src/kernel/api/live-playback.ts): players on other sites read it like signed media links. */
export const LIVE_MEDIA_PATH = "/live/";

/** The media policy: `["*"]` allows every origin. */
export function mediaOriginAllowed(origin: string, allowlist: readonly string[]): boolean {
  return (allowlist.length === 1 && allowlist[0] === "*" && origin !== "") || originAllowed(origin, allowlist);
}

/** Origins compare case-insensitively (scheme and host are); a configured trailing slash was already removed. */
export function originAllowed(origin: string, allowlist: readonly string[]): boolean {
  // "null" is what sandboxed frames and file:// pages send: it identifies nobody, so it is never allowed.
  if (origin === "null" || origin === "*") return false;
  const o = origin.toLowerCase();
  return allowlist.some((a) => a.toLowerCase() === o);
}

interface HookContext {
  request: Request;
  set: { status?: number | string; headers: Record<string, string | number> };
}

interface CorsPolicy {
  expose: string;
  methods: string;
  headers: string;
}
const API_POLICY: CorsPolicy = { expose: CORS_EXPOSE_HEADERS, methods: CORS_ALLOW_METHODS, headers: CORS_ALLOW_HEADERS };
const MEDIA_POLICY: CorsPolicy = { expose: MEDIA_CORS_EXPOSE_HEADERS, methods: MEDIA_CORS_ALLOW_METHODS, headers: MEDIA_CORS_ALLOW_HEADERS };

/** The headers for an allowed origin: a simple request goes on with them; a preflight is answered here, 204. */
function allow(set: HookContext["set"], allowOrigin: string, preflight: boolean, policy: CorsPolicy): Response | undefined {
  set.headers["access-control-allow-origin"] = allowOrigin;
  if (!preflight) {
    set.headers["access-control-expose-headers"] = policy.expose;
    return;
  }
  set.headers["access-control-allow-methods"] = policy.methods;
  set.headers["access-control-allow-headers"] = policy.headers;
  set.headers["access-control-max-age"] = String(CORS_MAX_AGE);
  return new Response(null, { status: 204, headers: set.headers as Record<string, string> });
}

/**
 * An onRequest handler: adds the CORS headers for an allowed origin and answers preflights (204 or 403).
 * `requestId` gives the id the request-id hook assigned.
 */
export function corsHook(allowlist: readonly string[], requestId: (r: Request) => string, mediaAllowlist: readonly string[] = []) {
  const media = mediaCors(mediaAllowlist, requestId);
  return ({ request, set }: HookContext) => {
    const path = new URL(request.url).pathname;
    if (path.startsWith(SIGNED_MEDIA_PATH) || path.startsWith(LIVE_MEDIA_PATH)) return media({ request, set });
    const origin = request.headers.get("origin");
    // The answer depends on Origin whenever CORS is configured: caches must key on it.
    if (allowlist.length > 0) set.headers.vary = "Origin";
    if (origin === null) return;
    const allowed = originAllowed(origin, allowlist);
    const preflight = request.method === "OPTIONS" && request.headers.has("access-control-request-method");
    if (!allowed) {
      if (!preflight) return;
      set.status = 403;
      return envelope("WE-AUTH-003", `origin ${origin} is not allowed to call this API (CORS_ORIGINS)`, requestId(request));
    }
    if (preflight) set.status = 204;
    return allow(set, origin, preflight, API_POLICY);
  };
}

/** CORS for signed media links (MEDIA_CORS_ORIGINS): `*` answers `Access-Control-Allow-Origin: *`. */
function mediaCors(allowlist: readonly string[], requestId: (r: Request) => string) {
  const any = allowlist.length === 1 && allowlist[0] === "*";
  return ({ request, set }: HookContext) => {
    const origin = request.headers.get("origin");
    if (!any && allowlist.length > 0) set.headers.vary = "Origin";
    if (origin === null) return;
    const preflight = request.method === "OPTIONS" && request.headers.has("access-control-request-method");
    if (!mediaOriginAllowed(origin, allowlist)) {
      if (!preflight) return;
      set.status = 403;
      return envelope("WE-AUTH-003", `origin ${origin} may not load media from this server (MEDIA_CORS_ORIGINS)`, requestId(request));
    }
    return allow(set, any ? "*" : origin, preflight, MEDIA_POLICY);
  };
}
