/**
 * Receiving an upload into one temporary file, streamed: multipart/form-data (the file in a field named
 * `file`, parsed with busboy as it arrives) or a raw body. Never buffered whole in memory; bounded by a
 * byte limit (the stream is cut and WE-REQ-003 raised as soon as the limit is passed).
 */
import busboy from "busboy";
import { createWriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AppError, errorMessage } from "../../core/errors.ts";

export interface Received {
  filename: string;
  size: number;
  contentType: string | undefined;
}

/** A safe last path segment for a storage key (pure). */
export function safeFilename(name: string | undefined): string {
  const base = (name ?? "").split(/[\\/]/).pop() ?? "";
  const cleaned = base.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+/, "").slice(0, 200);
  return cleaned || "upload.bin";
}

function limiter(limit: number): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      t.bytes += chunk.length;
      if (t.bytes > limit) cb(new AppError("WE-REQ-003", `upload too large: the limit is ${limit} bytes (UPLOAD_MAX_SIZE)`));
      else cb(null, chunk);
    },
  }) as Transform & { bytes: number };
  t.bytes = 0;
  return t;
}

export async function receiveRaw(request: Request, dest: string, limit: number, filename: string | undefined): Promise<Received> {
  if (!request.body) throw new AppError("WE-REQ-001", "the request has no body; send the file as the body (with ?filename=) or as multipart field `file`");
  const count = limiter(limit);
  try {
    await pipeline(Readable.fromWeb(request.body as never), count, createWriteStream(dest, { flags: "wx" }));
  } catch (e) {
    await unlink(dest).catch(() => {});
    throw e instanceof AppError ? e : new AppError("WE-REQ-004", `upload interrupted: ${errorMessage(e)}`);
  }
  if (count.bytes === 0) {
    await unlink(dest).catch(() => {});
    throw new AppError("WE-REQ-001", "the uploaded file is empty");
  }
  return { filename: safeFilename(filename), size: count.bytes, contentType: request.headers.get("content-type") ?? undefined };
}

export async function receiveMultipart(request: Request, dest: string, limit: number): Promise<Received> {
  if (!request.body) throw new AppError("WE-REQ-001", "the request has no body");
  const headers = Object.fromEntries(request.headers.entries());
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers, limits: { files: 1, fileSize: limit + 1, fields: 20 } });
  } catch (e) {
    throw new AppError("WE-REQ-004", `malformed multipart request: ${(e as Error).message}`);
  }
  let received: Received | undefined;
  let part: Readable | undefined;
  let writing: Promise<void> | undefined;
  let failure: unknown;
  bb.on("file", (field, file, info) => {
    if (field !== "file" || writing) {
      file.resume();
      return;
    }
    part = file;
    const count = limiter(limit);
    writing = pipeline(file, count, createWriteStream(dest, { flags: "wx" })).then(() => {
      received = { filename: safeFilename(info.filename), size: count.bytes, contentType: info.mimeType };
    });
    // A failed write (over the limit, disk full) ends the whole request at once: destroying the parser makes
    // the body pipeline below reject, so the rest of the body is not read just to be thrown away.
    writing.catch((e) => {
      failure ??= e;
      bb.destroy(e as Error);
    });
  });
  try {
    // Every failure — the client aborting, a truncated or malformed body, a failed write — surfaces here as
    // this one rejection; nothing is left pending for the process to see as an unhandled rejection.
    await pipeline(Readable.fromWeb(request.body as never), bb);
    await writing;
  } catch (e) {
    failure ??= e;
  }
  if (failure !== undefined) {
    // The part stream may be cut mid-file with the write still open: end it and wait before removing the file,
    // or the write stream could (re)create it after the unlink.
    part?.destroy();
    await writing?.catch(() => {});
    await unlink(dest).catch(() => {});
    throw failure instanceof AppError ? failure : new AppError("WE-REQ-004", `malformed or interrupted multipart request: ${errorMessage(failure)}`);
  }
  if (!received) throw new AppError("WE-REQ-001", "no file in the multipart body: send it in a field named `file`");
  if (received.size === 0) {
    await unlink(dest).catch(() => {});
    throw new AppError("WE-REQ-001", "the uploaded file is empty");
  }
  return received;
}
