/**
 * Atomic file copies: stream into a temp file in the destination's directory, fsync it, rename it over the
 * destination, fsync the directory. A reader sees the old file or the complete new one, never a prefix.
 * `Bun.write(Bun.file(dst), Bun.file(src))` copies in the kernel (copy_file_range/sendfile) in bounded
 * memory whatever the size. Bun.write refuses non-regular sources (a FIFO, e.g. a process writing its output
 * as it goes): those are streamed with node streams instead.
 */
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { open, rename, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { TEMP_PREFIX } from "./storage-keys.ts";

export function tempPathFor(dest: string): string {
  return join(dirname(dest), `${TEMP_PREFIX}${randomUUID()}`);
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Copies `src` to `dest` atomically; returns the size written. The caller checked both paths. */
export async function atomicCopy(src: string, dest: string, signal?: AbortSignal): Promise<number> {
  const tmp = tempPathFor(dest);
  try {
    signal?.throwIfAborted();
    if ((await stat(src)).isFile()) await Bun.write(Bun.file(tmp), Bun.file(src));
    else await pipeline(createReadStream(src), createWriteStream(tmp, { flags: "wx" }), ...(signal ? [{ signal }] : []));
    await fsyncPath(tmp);
    const { size } = await stat(tmp);
    signal?.throwIfAborted();
    await rename(tmp, dest);
    await fsyncPath(dirname(dest)).catch(() => {});
    return size;
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Moves `src` to `dest` atomically: a rename when both are on one filesystem (no second write of the bytes),
 * otherwise an atomic copy and then removal of `src`. Returns the size.
 */
export async function atomicMove(src: string, dest: string, signal?: AbortSignal): Promise<number> {
  const { size } = await stat(src);
  try {
    await rename(src, dest);
    await fsyncPath(dirname(dest)).catch(() => {});
    return size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
  }
  const copied = await atomicCopy(src, dest, signal);
  await unlink(src).catch(() => {});
  return copied;
}

/** Removes `dir` and its ancestors while they are empty, never `root` itself nor anything outside it. */
export async function pruneEmptyDirs(root: string, dir: string): Promise<void> {
  let d = dir;
  while (d !== root && d.startsWith(`${root}/`)) {
    try {
      await rmdir(d);
    } catch (e) {
      // Already gone (a concurrent delete): its parent may be empty too. Not empty or in use: stop.
      if ((e as { code?: string })?.code !== "ENOENT") return;
    }
    d = dirname(d);
  }
}
