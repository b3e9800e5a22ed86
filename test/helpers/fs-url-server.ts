/**
 * A tiny stand-in for the kernel route that serves storage-fs URLs (`/v1/storage/storage-fs/{t|w}/<token>/<key>`):
 * GET checks a read token with verifyToken and streams `local_path`; PUT checks a write token, spools the body
 * to a temp file and calls `put_file`. Lets the storage contract fetch the URLs storage-fs hands out.
 */
import { randomUUID } from "node:crypto";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { type TokenType, verifyToken } from "../../src/plugin-runtime/shared/url-signing.ts";

interface FsUrlBackend {
  local_path(p: { key: string }): Promise<{ path: string | null }>;
  put_file(p: { key: string; path: string; content_type?: string }): Promise<{ size: number }>;
}

export interface FsUrlServer {
  /** e.g. http://127.0.0.1:41234 — the storage-fs `public_base_url`. */
  url: string;
  /** Requests seen, for assertions. */
  requests: number;
  stop(): Promise<void>;
}

const ROUTE = "/v1/storage/storage-fs/";

function parse(pathname: string): { type: TokenType; token: string; key: string } | undefined {
  if (!pathname.startsWith(ROUTE)) return undefined;
  const [type, token, ...rest] = pathname.slice(ROUTE.length).split("/");
  if ((type !== "t" && type !== "w") || !token || rest.length === 0) return undefined;
  try {
    const segs = rest.map(decodeURIComponent);
    // An encoded "/" inside a segment would let one URL name a different key than it was signed for.
    if (segs.some((s) => s.includes("/"))) return undefined;
    return { type, token, key: segs.join("/") };
  } catch {
    return undefined;
  }
}

/** `backend()` is called per request, so the server can start before the storage it serves exists. */
export function startFsUrlServer(opts: { secret: string; backend: () => FsUrlBackend; spoolDir: string }): FsUrlServer {
  const state = { requests: 0 };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      state.requests++;
      const r = parse(new URL(req.url).pathname);
      if (!r) return new Response("not found", { status: 404 });
      const wantType: TokenType = req.method === "PUT" ? "w" : "t";
      if ((req.method !== "GET" && req.method !== "HEAD" && req.method !== "PUT") || r.type !== wantType) return new Response("method not allowed", { status: 405 });
      if (!verifyToken(opts.secret, r.token, r.key, r.type, Date.now() / 1000)) return new Response("forbidden", { status: 403 });
      try {
        if (r.type === "t") {
          const { path } = await opts.backend().local_path({ key: r.key });
          return path ? new Response(Bun.file(path)) : new Response("not found", { status: 404 });
        }
        const spool = join(opts.spoolDir, `upload-${randomUUID()}`);
        try {
          await Bun.write(spool, new Response(req.body));
          await opts.backend().put_file({ key: r.key, path: spool, ...(req.headers.get("content-type") ? { content_type: req.headers.get("content-type")! } : {}) });
        } finally {
          await unlink(spool).catch(() => {});
        }
        return new Response(null, { status: 201 });
      } catch (e) {
        const code = (e as { code?: string })?.code;
        const status = code === "WE-STO-001" ? 404 : code === "WE-STO-002" ? 403 : 500;
        return new Response(String((e as Error)?.message ?? e), { status });
      }
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    get requests() {
      return state.requests;
    },
    async stop() {
      await server.stop(true);
    },
  };
}
