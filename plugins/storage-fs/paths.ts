/**
 * Confinement of object keys to the storage root, and the mapping of filesystem errors to catalogue codes.
 *
 * A key is first checked syntactically (keys.ts: no "..", not absolute, no NUL/backslash, bounded lengths),
 * then resolved: the realpath of its deepest existing ancestor (or of the object itself when it exists) must
 * be the root or inside it, so a symbolic link inside the root cannot lead a read or a write outside. A
 * dangling symlink on the way is refused too (a write through it would create something outside).
 *
 * Limit: the check and the following open are not one atomic step; someone who can create symlinks inside
 * the root while the plugin runs could race it. The root is meant to be owned by the platform alone.
 */
import { lstat, realpath } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { PluginError } from "../../src/plugin-runtime/sdk.ts";
import { checkKey, checkPrefix, showKey } from "../../src/plugin-runtime/shared/storage-keys.ts";

export const PLUGIN = "storage-fs";

const errno = (error: unknown): string | undefined => (error as { code?: unknown })?.code as string | undefined;

export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Catalogue error for a filesystem failure while doing `what` on `key`. */
export function fsError(error: unknown, what: string, key: string): PluginError {
  if (error instanceof PluginError) return error;
  const code = errno(error);
  const msg = `${PLUGIN}: ${what} ${showKey(key)} failed: ${(error as Error)?.message ?? String(error)}`;
  switch (code) {
    case "ENOENT":
      return new PluginError("WE-STO-001", `${PLUGIN}: object ${showKey(key)} not found`, { key });
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new PluginError("WE-STO-002", msg, { key, errno: code });
    case "ENOSPC":
    case "EDQUOT":
    case "EFBIG":
      return new PluginError("WE-STO-003", msg, { key, errno: code });
    case "EEXIST":
    case "ENOTDIR":
    case "EISDIR":
    case "ENOTEMPTY":
      // Files and directories share one namespace: "a" and "a/b" cannot both be objects.
      return new PluginError("WE-STO-002", `${PLUGIN}: ${what} ${showKey(key)} refused: the key collides with an existing object or directory of the same name (${code})`, { key, errno: code });
    default:
      return new PluginError("WE-STO-004", msg, { key, ...(code ? { errno: code } : {}) });
  }
}

function escapeError(key: string): PluginError {
  return new PluginError("WE-STO-002", `${PLUGIN}: key ${showKey(key)} refused: it resolves outside the storage root through a symbolic link`, { key, rule: "symlink escape" });
}

/** Throws WE-STO-002 unless the realpath of the deepest existing ancestor of `p` (or `p`) is inside root. */
export async function assertConfined(root: string, path: string, key: string): Promise<void> {
  let existing = path;
  for (;;) {
    try {
      await lstat(existing);
      break;
    } catch (e) {
      const code = errno(e);
      if (code !== "ENOENT" && code !== "ENOTDIR") throw fsError(e, "resolving", key);
      if (existing === root) throw new PluginError("WE-STO-004", `${PLUGIN}: storage root ${root} does not exist`);
      existing = dirname(existing);
    }
  }
  let real: string;
  try {
    real = await realpath(existing);
  } catch (e) {
    const code = errno(e);
    // lstat saw it but realpath cannot follow it: a dangling (or looping) symlink, possibly to outside.
    if (code === "ENOENT" || code === "ELOOP" || code === "ENOTDIR") throw escapeError(key);
    throw fsError(e, "resolving", key);
  }
  if (!isInside(root, real)) throw escapeError(key);
}

/** The absolute path of `key` under `root` (a realpath), after the syntax and symlink checks. */
export async function resolveKey(root: string, key: string): Promise<string> {
  checkKey(PLUGIN, key);
  const full = join(root, ...key.split("/"));
  if (!isInside(root, full) || full === root) throw escapeError(key);
  await assertConfined(root, full, key);
  return full;
}

/** For a prefix: the directory every matching key lives under (confined), and the partial last segment. */
export async function resolvePrefix(root: string, prefix: string): Promise<{ dir: string; dirKey: string; partial: string }> {
  checkPrefix(PLUGIN, prefix);
  const cut = prefix.lastIndexOf("/");
  const dirKey = cut >= 0 ? prefix.slice(0, cut + 1) : "";
  const dir = dirKey ? join(root, ...dirKey.slice(0, -1).split("/")) : root;
  await assertConfined(root, dir, prefix);
  return { dir, dirKey, partial: prefix.slice(cut + 1) };
}
