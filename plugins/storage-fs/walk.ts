/**
 * Walks the objects under a prefix in key order (UTF-8 bytes, like S3). Siblings are sorted with a directory
 * compared as `name + "/"`, so a depth-first walk yields keys in global order ("a-b" < "a/c" < "a0").
 * With `after` (a list cursor) whole subtrees that sort before it are skipped without being read.
 *
 * Temp files (`.we-tmp-*`) are never yielded. A symlink is yielded only when it points to a regular file
 * inside the root; symlinked directories are not descended (no cycles, no escapes).
 */
import type { Dirent } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { TEMP_PREFIX, compareKeys } from "../../src/plugin-runtime/shared/storage-keys.ts";
import { isInside } from "./paths.ts";

export interface WalkEntry {
  key: string;
  path: string;
}

const errno = (error: unknown): string | undefined => (error as { code?: unknown })?.code as string | undefined;

async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (e) {
    // A directory removed meanwhile, or a prefix whose "directory" is a file: nothing under it.
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return [];
    throw e;
  }
}

async function isConfinedFile(root: string, path: string): Promise<boolean> {
  try {
    const real = await realpath(path);
    return isInside(root, real) && (await stat(real)).isFile();
  } catch {
    return false;
  }
}

/**
 * Yields every object whose key starts with `prefix` and sorts after `after`, in key order. `dir` is the
 * directory of `dirKey` (the prefix up to and including its last "/").
 */
export async function* walkKeys(root: string, dir: string, dirKey: string, prefix: string, after?: string): AsyncGenerator<WalkEntry> {
  const entries = await entriesOf(dir);
  const items = entries
    .filter((d) => !d.name.startsWith(TEMP_PREFIX) && (d.isDirectory() || d.isFile() || d.isSymbolicLink()))
    .map((d) => ({ d, sortKey: d.isDirectory() ? `${d.name}/` : d.name }))
    .sort((a, b) => compareKeys(a.sortKey, b.sortKey));
  for (const { d } of items) {
    const path = join(dir, d.name);
    if (d.isDirectory()) {
      const sub = `${dirKey}${d.name}/`;
      // Only subtrees that can hold keys matching the prefix…
      if (!sub.startsWith(prefix) && !prefix.startsWith(sub)) continue;
      // …and that do not sort entirely before the cursor.
      if (after !== undefined && !after.startsWith(sub) && compareKeys(after, sub) > 0) continue;
      yield* walkKeys(root, path, sub, prefix, after);
      continue;
    }
    const key = `${dirKey}${d.name}`;
    if (!key.startsWith(prefix)) continue;
    if (after !== undefined && compareKeys(key, after) <= 0) continue;
    if (d.isSymbolicLink() && !(await isConfinedFile(root, path))) continue;
    yield { key, path };
  }
}
