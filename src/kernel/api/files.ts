/**
 * `POST /v1/files`: upload a source into the default storage and get the key to use as a job's source_url.
 * Streamed to one temporary file under DATA_DIR and handed to the storage plugin with `move` (a rename when
 * storage-fs shares the filesystem): the bytes are written once, never held in memory.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import type { KernelContext } from "../context.ts";
import { receiveMultipart, receiveRaw } from "../uploads/receive.ts";

export function fileRoutes(ctx: KernelContext) {
  const tmpDir = join(ctx.config.DATA_DIR, "tmp", "uploads");
  return new Elysia({ detail: { tags: ["files"] } } as never).post(
    "/v1/files",
    async ({ request, query, set }) => {
      const limit = ctx.config.UPLOAD_MAX_SIZE;
      const declared = Number(request.headers.get("content-length") ?? 0);
      if (declared > limit) throw new AppError("WE-REQ-003", `upload too large: ${declared} bytes, the limit is ${limit} (UPLOAD_MAX_SIZE)`);
      mkdirSync(tmpDir, { recursive: true });
      const tmp = join(tmpDir, crypto.randomUUID());
      const multipart = (request.headers.get("content-type") ?? "").toLowerCase().startsWith("multipart/form-data");
      const got = multipart ? await receiveMultipart(request, tmp, limit) : await receiveRaw(request, tmp, limit, query.filename);
      const storage = await ctx.plugins.route("storage", { scheme: "fs" }).catch(() => ctx.plugins.route("storage"));
      const key = `uploads/${crypto.randomUUID()}/${got.filename}`;
      const put = await storage.call<{ size: number }>("put_file", { key, path: tmp, move: true, ...(got.contentType ? { content_type: got.contentType } : {}) }, { timeoutMs: 30 * 60_000 });
      set.status = 201;
      return { key, source_url: key, storage: storage.id, filename: got.filename, size_bytes: put.size };
    },
    {
      parse: "none",
      query: v.object({ filename: v.optional(v.pipe(v.string(), v.maxLength(255))) }),
      detail: { summary: "Upload a file (multipart field `file`, or a raw body with ?filename=); returns the key for source_url" },
    },
  );
}
