/**
 * Serves storage-fs objects behind signed, expiring URLs (`/v1/storage/storage-fs/t/<token>/<key>`) made by
 * the plugin's read_url — downloads, and HLS playback where one prefix-scoped token covers a whole rendition
 * tree so relative segment URLs resolve. Range requests are honoured (players and FFmpeg seek with them).
 * The token is the credential: these routes need no other authentication.
 */
import { Elysia } from "elysia";
import { AppError } from "../../core/errors.ts";
import { verifyToken } from "../../plugin-runtime/shared/url-signing.ts";
import type { KernelContext } from "../context.ts";
import { requestIdOf } from "./request-id.ts";
import { envelope } from "./envelope.ts";

const TYPES: Record<string, string> = {
  m3u8: "application/vnd.apple.mpegurl",
  ts: "video/mp2t",
  m4s: "video/iso.segment",
  mp4: "video/mp4",
  m4a: "audio/mp4",
  webm: "video/webm",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  vtt: "text/vtt; charset=utf-8",
  json: "application/json",
};

/** The object key from the wildcard; malformed percent-encoding is the client's error, not a 500. */
function decodeKey(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new AppError("WE-REQ-001", "invalid request URL: malformed percent-encoding in the object key");
  }
}

export function contentTypeOf(key: string): string {
  return TYPES[key.split(".").pop()?.toLowerCase() ?? ""] ?? "application/octet-stream";
}

/** Parses a single `bytes=a-b` range against a size; undefined for none/unsupported, null for unsatisfiable. Pure. */
export function parseRange(header: string | null, size: number): { start: number; end: number } | null | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return null;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return null;
  return { start, end };
}

export function storageUrlRoutes(ctx: KernelContext) {
  const serve = async (token: string, key: string, request: Request) => {
    const secret = String((await ctx.pluginSettings.get("storage-fs"))?.config.url_signing_key ?? "");
    if (!secret || !verifyToken(secret, token, key, "t", Date.now() / 1000)) {
      throw new AppError("WE-STO-002", "this link is invalid or has expired; request a new one from the API");
    }
    const storage = await ctx.plugins.route("storage", { id: "storage-fs" });
    const { path } = await storage.call<{ path: string | null }>("local_path", { key });
    if (!path) throw new AppError("WE-STO-001", `object ${key} not found`);
    const file = Bun.file(path);
    const size = file.size;
    const headers: Record<string, string> = { "content-type": contentTypeOf(key), "accept-ranges": "bytes", "cache-control": "private, max-age=3600" };
    const range = parseRange(request.headers.get("range"), size);
    if (range === null) {
      return Response.json(envelope("WE-REQ-007", `range not satisfiable: the object is ${size} bytes`, requestIdOf(request), { size }), {
        status: 416,
        headers: { "content-range": `bytes */${size}`, "cache-control": "no-store" },
      });
    }
    if (range) {
      return new Response(file.slice(range.start, range.end + 1), {
        status: 206,
        headers: { ...headers, "content-range": `bytes ${range.start}-${range.end}/${size}`, "content-length": String(range.end - range.start + 1) },
      });
    }
    return new Response(file, { headers: { ...headers, "content-length": String(size) } });
  };
  return new Elysia({ detail: { tags: ["storage"] } } as never).get(
    "/v1/storage/storage-fs/t/:token/*",
    ({ params, request }) => serve(params.token, decodeKey(params["*"]), request),
    { detail: { summary: "Download an object through a signed storage-fs link (Range supported)" } },
  );
}
