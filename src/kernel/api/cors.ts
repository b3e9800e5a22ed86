/**
 * CORS from an allowlist (CORS_ORIGINS; empty = no cross-origin access).
 *
 * An allowed Origin is reflected exactly, never `*`: callers authenticate with an Authorization header, and a
 * wildcard would let any web page drive the API with a key it obtained. A disallowed origin gets no CORS
 * headers (the browser then refuses to hand the response to the page) and its preflight is refused with 403.
 * Preflights are answered here, in onRequest, before authentication: browsers never send credentials on a
 * preflight, so requiring them would make every cross-origin call fail.
 */
import { envelope } from "./envelope.ts";

export const CORS_ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
export const CORS_ALLOW_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Request-Id, Last-Event-ID";
/** Response headers a page may read besides the safelisted ones (request id for support, Retry-After on 429). */
export const CORS_EXPOSE_HEADERS = "X-Request-Id, Retry-After, Location";
/** Seconds a browser may cache a preflight (Chromium caps this at 7200). */
export const CORS_MAX_AGE = 600;

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

/**
 * An onRequest handler: adds the CORS headers for an allowed origin and answers preflights (204 or 403).
 * `requestId` gives the id the request-id hook assigned.
 */
export function corsHook(allowlist: readonly string[], requestId: (r: Request) => string) {
  return ({ request, set }: HookContext) => {
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
    set.headers["access-control-allow-origin"] = origin;
    if (!preflight) {
      set.headers["access-control-expose-headers"] = CORS_EXPOSE_HEADERS;
      return;
    }
    set.headers["access-control-allow-methods"] = CORS_ALLOW_METHODS;
    set.headers["access-control-allow-headers"] = CORS_ALLOW_HEADERS;
    set.headers["access-control-max-age"] = String(CORS_MAX_AGE);
    set.status = 204;
    return new Response(null, { status: 204, headers: set.headers as Record<string, string> });
  };
}
