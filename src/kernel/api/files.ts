/**
 * `/v1/files`: uploaded sources.
 * - `POST` uploads into the default storage and returns the key to use as a job's source_url. Streamed to
 *   one temporary file under DATA_DIR and handed to the storage plugin with `move` (a rename when storage-fs
 *   shares the filesystem): the bytes are written once, never held in memory.
 * - `GET` lists uploads (newest first) with the jobs that use each; `DELETE /v1/files/<key>` removes one
 *   (refused while an unfinished job reads it). Unused uploads also expire (UPLOAD_RETENTION, uploads/catalog.ts).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import type { KernelContext } from "../context.ts";
import { receiveMultipart, receiveRaw } from "../uploads/receive.ts";
import { deleteUpload, jobsUsing, keyFromPath, listUploads, uploadStorage, uploadView } from "../uploads/catalog.ts";
import { limitParam, offsetParam, page } from "./pagination.ts";

export function fileRoutes(ctx: KernelContext) {
  const tmpDir = join(ctx.config.DATA_DIR, "tmp", "uploads");
  return new Elysia({ detail: { tags: ["files"] } } as never)
    .get(
      "/v1/files",
      async ({ query }) => {
        const { limit, offset } = page(query);
        const all = await listUploads(await uploadStorage(ctx));
        const slice = all.slice(offset, offset + limit);
        const refs = await jobsUsing(ctx, slice.map((o) => o.key));
        return { items: slice.map((o) => uploadView(o, refs.get(o.key))), limit, offset, total: all.length };
      },
      {
        query: v.object({ limit: limitParam, offset: offsetParam }),
        detail: { summary: "List uploaded files, newest first, with the jobs that use each (referenced)" },
      },
    )
    .delete(
      "/v1/files/*",
      async ({ params, set }) => {
        await deleteUpload(ctx, keyFromPath((params as Record<string, string>)["*"] ?? ""));
        set.status = 204;
      },
      { detail: { summary: "Delete an upload by its key (404 WE-STO-001 if absent, 409 WE-JOB-010 while an unfinished job uses it)" } },
    )
    .post("/v1/files", async ({ request, query, set }) => {
      const created = await upload(ctx, tmpDir, request, query.filename);
      set.status = 201;
      return created;
    }, {
      parse: "none",
      query: v.object({ filename: v.optional(v.pipe(v.string(), v.maxLength(255))) }),
      detail: { summary: "Upload a file (multipart field `file`, or a raw body with ?filename=); returns the key for source_url" },
    });
}

/** Receives the body into a temp file (bounded by UPLOAD_MAX_SIZE), then moves it into storage under a new key. */
async function upload(ctx: KernelContext, tmpDir: string, request: Request, filename: string | undefined) {
  const limit = ctx.config.UPLOAD_MAX_SIZE;
  const declared = Number(request.headers.get("content-length") ?? 0);
  if (declared > limit) throw new AppError("WE-REQ-003", `upload too large: ${declared} bytes, the limit is ${limit} (UPLOAD_MAX_SIZE)`);
  mkdirSync(tmpDir, { recursive: true });
  const tmp = join(tmpDir, crypto.randomUUID());
  const multipart = (request.headers.get("content-type") ?? "").toLowerCase().startsWith("multipart/form-data");
  const got = multipart ? await receiveMultipart(request, tmp, limit) : await receiveRaw(request, tmp, limit, filename);
  const storage = await uploadStorage(ctx);
  const key = `uploads/${crypto.randomUUID()}/${got.filename}`;
  const put = await storage.call<{ size: number }>("put_file", { key, path: tmp, move: true, ...(got.contentType ? { content_type: got.contentType } : {}) }, { timeoutMs: 30 * 60_000 });
  return { key, source_url: key, storage: storage.id, filename: got.filename, size_bytes: put.size };
}
