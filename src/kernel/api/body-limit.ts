/**
 * MAX_BODY_SIZE enforced while the body is read, whatever its framing. The Content-Length check in app.ts
 * refuses a declared oversize body before anything is read; a chunked body declares nothing, so without this
 * Elysia's parsers would buffer all of it (6–9 MiB job bodies were accepted). This parse hook reads the
 * stream itself, stops at the limit (413 WE-REQ-003), and parses what the API accepts: JSON, text and
 * urlencoded forms; anything else is handed on as bytes (no route accepts it, so validation refuses it).
 * The upload route streams its own body with its own limit (UPLOAD_MAX_SIZE) and is skipped.
 */
import { readLimited } from "../../core/read-limited.ts";
import { pathOf } from "./url-guard.ts";

/** The parsed body for a content type (the part before `;`, any case). Pure. */
export function parseBodyBytes(bytes: Uint8Array, contentType: string): unknown {
  const type = contentType.toLowerCase().trim();
  if (type === "application/json" || type.endsWith("+json")) return JSON.parse(new TextDecoder().decode(bytes));
  if (type === "application/x-www-form-urlencoded") return Object.fromEntries(new URLSearchParams(new TextDecoder().decode(bytes)));
  if (type.startsWith("text/")) return new TextDecoder().decode(bytes);
  return bytes.buffer;
}

/**
 * An Elysia parse hook. An empty body gives `undefined`: Elysia's own parser then decides (an optional body
 * stays absent, a required one is refused). A skipped route gets `null`, which marks the body as parsed so
 * no later parser touches the stream its handler reads (a route's `parse: "none"` alone no longer does that
 * once a global parse hook exists).
 */
export function bodyLimitParser(limit: number, skip: (path: string) => boolean) {
  return async ({ request, contentType }: { request: Request; contentType: string }) => {
    if (skip(pathOf(request.url))) return null;
    if (!request.body) return undefined;
    const bytes = await readLimited(request.body, limit);
    if (bytes.byteLength === 0) return undefined;
    return parseBodyBytes(bytes, contentType ?? "");
  };
}
