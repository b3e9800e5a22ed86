/**
 * storage-fs: objects are files under one root directory, keyed by their relative path.
 *
 * - Keys are confined to the root (paths.ts); files and directories share one namespace, so "a" and "a/b"
 *   cannot both exist (the second write is refused with WE-STO-002).
 * - Writes are atomic (files.ts); temp files are named `.we-tmp-*` and never listed.
 * - `content_type` is not stored: whoever serves a file derives the type from its extension.
 * - Read/write URLs point at the kernel (`public_base_url`), which checks them with sign.ts `verifyToken`
 *   and serves `local_path` (GET) or `put_file` (PUT).
 */
import { randomUUID } from "node:crypto";
import type { Stats } from "node:fs";
import { lstat, mkdir, open, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { CallContext, ObjectInfo, StoragePlugin } from "../../src/plugin-runtime/pillars.ts";
import type { HealthResult } from "../../src/plugin-runtime/protocol.ts";
import { PluginError } from "../../src/plugin-runtime/sdk.ts";
import { atomicCopy, atomicMove, pruneEmptyDirs } from "../../src/plugin-runtime/shared/local-files.ts";
import { TEMP_PREFIX, checkExpiresIn, checkKey, checkScope, keyToUrlPath, showKey } from "../../src/plugin-runtime/shared/storage-keys.ts";
import { PLUGIN, assertConfined, fsError, resolveKey, resolvePrefix } from "./paths.ts";
import { type TokenType, signToken } from "../../src/plugin-runtime/shared/url-signing.ts";
import { walkKeys } from "./walk.ts";

export interface FsStorageOptions {
  /** An absolute, real (symlink-free) path of an existing directory. */
  root: string;
  publicBaseUrl: string;
  urlSigningKey?: string;
}

export type FsStorage = StoragePlugin & { health(): Promise<HealthResult>; close(): Promise<void> };

const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 10_000;

const errno = (error: unknown): string | undefined => (error as { code?: unknown })?.code as string | undefined;

function etagOf(st: Stats): string {
  return `${st.size.toString(16)}-${Math.round(st.mtimeMs * 1000).toString(16)}`;
}

function infoOf(key: string, st: Stats): ObjectInfo {
  return { key, size: st.size, modified: st.mtime.toISOString(), etag: etagOf(st) };
}

function notFound(key: string): PluginError {
  return new PluginError("WE-STO-001", `${PLUGIN}: object ${showKey(key)} not found`, { key });
}

export function createFsStorage(opts: FsStorageOptions): FsStorage {
  const { root } = opts;
  const base = opts.publicBaseUrl.replace(/\/+$/, "");

  /** The confined path of an existing regular file, or WE-STO-001. */
  const existingFile = async (key: string): Promise<{ full: string; st: Stats }> => {
    const full = await resolveKey(root, key);
    let st: Stats;
    try {
      st = await stat(full);
    } catch (e) {
      if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") throw notFound(key);
      throw fsError(e, "stat", key);
    }
    if (!st.isFile()) throw notFound(key);
    return { full, st };
  };

  const signedUrl = (type: TokenType, key: string, scope: string, expiresIn: number) => {
    if (!opts.urlSigningKey) throw new PluginError("WE-STO-004", `${PLUGIN}: url_signing_key is not configured`);
    const exp = Math.ceil(Date.now() / 1000) + expiresIn;
    const token = signToken(opts.urlSigningKey, scope, exp, type);
    return { url: `${base}/v1/storage/${PLUGIN}/${type}/${token}/${keyToUrlPath(key)}`, expires_at: new Date(exp * 1000).toISOString() };
  };

  return {
    async put_file({ key, path, content_type: _ct, move }, ctx: CallContext) {
      const full = await resolveKey(root, key);
      let src: Stats;
      try {
        src = await stat(path);
      } catch (e) {
        if (errno(e) === "ENOENT") throw new PluginError("WE-STO-001", `${PLUGIN}: put_file source ${JSON.stringify(path)} does not exist`, { key, path });
        throw fsError(e, "reading source for", key);
      }
      if (src.isDirectory()) throw new PluginError("WE-REQ-001", `${PLUGIN}: put_file source ${JSON.stringify(path)} is a directory`, { key, path });
      const dir = dirname(full);
      try {
        await mkdir(dir, { recursive: true });
      } catch (e) {
        throw fsError(e, "put_file", key);
      }
      await assertConfined(root, dir, key);
      try {
        if (move && src.isFile()) await atomicMove(path, full, ctx?.signal);
        else await atomicCopy(path, full, ctx?.signal);
        const st = await stat(full);
        return { size: st.size, etag: etagOf(st) };
      } catch (e) {
        if (e instanceof DOMException && e.name === "AbortError") throw e;
        throw fsError(e, "put_file", key);
      }
    },

    async get_file({ key, path }, ctx: CallContext) {
      const { full } = await existingFile(key);
      try {
        await mkdir(dirname(path), { recursive: true });
        return { size: await atomicCopy(full, path, ctx?.signal) };
      } catch (e) {
        if (e instanceof DOMException && e.name === "AbortError") throw e;
        throw fsError(e, "get_file", key);
      }
    },

    async stat({ key }) {
      const { st } = await existingFile(key);
      return infoOf(key, st);
    },

    async list({ prefix = "", cursor, limit = DEFAULT_LIMIT }) {
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new PluginError("WE-REQ-001", `${PLUGIN}: limit must be an integer in [1, ${MAX_LIMIT}], got ${limit}`);
      if (cursor !== undefined && typeof cursor !== "string") throw new PluginError("WE-REQ-001", `${PLUGIN}: cursor must be a string`);
      const { dir, dirKey } = await resolvePrefix(root, prefix);
      const items: ObjectInfo[] = [];
      let more = false;
      try {
        for await (const e of walkKeys(root, dir, dirKey, prefix, cursor || undefined)) {
          if (items.length === limit) {
            more = true;
            break;
          }
          const st = await stat(e.path).catch(() => undefined); // deleted meanwhile: skip it
          if (st?.isFile()) items.push(infoOf(e.key, st));
        }
      } catch (e) {
        throw fsError(e, "list", prefix);
      }
      return more ? { items, next_cursor: items[items.length - 1]!.key } : { items };
    },

    async delete({ key }) {
      const full = await resolveKey(root, key);
      try {
        const st = await lstat(full);
        if (st.isDirectory()) return { deleted: false };
        await unlink(full);
      } catch (e) {
        if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return { deleted: false };
        throw fsError(e, "delete", key);
      }
      await pruneEmptyDirs(root, dirname(full));
      return { deleted: true };
    },

    async delete_prefix({ prefix }) {
      if (prefix === "" || prefix === undefined) throw new PluginError("WE-STO-002", `${PLUGIN}: delete_prefix refused: the prefix is empty (that would delete every object)`);
      const { dir, dirKey } = await resolvePrefix(root, prefix);
      const dirs = new Set<string>();
      let deleted = 0;
      try {
        let batch: string[] = [];
        const flush = async () => {
          const results = await Promise.all(batch.map((p) => unlink(p).then(() => 1, (e) => (errno(e) === "ENOENT" ? 0 : Promise.reject(e)))));
          deleted += results.reduce((a, b) => a + b, 0);
          batch = [];
        };
        // The walk reads each directory before yielding from it, so unlinking as we go is safe.
        for await (const e of walkKeys(root, dir, dirKey, prefix)) {
          batch.push(e.path);
          dirs.add(dirname(e.path));
          if (batch.length >= 64) await flush();
        }
        await flush();
      } catch (e) {
        throw fsError(e, "delete_prefix", prefix);
      }
      for (const d of [...dirs].sort((a, b) => b.length - a.length)) await pruneEmptyDirs(root, d);
      return { deleted };
    },

    async read_url({ key, expires_in, scope_prefix }) {
      checkKey(PLUGIN, key);
      const scope = checkScope(PLUGIN, key, scope_prefix);
      return signedUrl("t", key, scope, checkExpiresIn(PLUGIN, expires_in));
    },

    async write_url({ key, expires_in, content_type }) {
      checkKey(PLUGIN, key);
      const signed = signedUrl("w", key, key, checkExpiresIn(PLUGIN, expires_in));
      const headers: Record<string, string> = content_type ? { "content-type": content_type } : {};
      return { ...signed, method: "PUT", headers };
    },

    async local_path({ key }) {
      const { full } = await existingFile(key);
      return { path: full };
    },

    async health(): Promise<HealthResult> {
      const probe = join(root, `${TEMP_PREFIX}health-${randomUUID()}`);
      try {
        if (!(await stat(root)).isDirectory()) return { status: "degraded", detail: `storage root ${root} is not a directory` };
        // "wx" does not create missing parents (Bun.write would, and hide a deleted root).
        const fh = await open(probe, "wx");
        await fh.close();
        await unlink(probe);
        return { status: "ok" };
      } catch (e) {
        return { status: "degraded", detail: `storage root ${root} is not writable: ${(e as Error)?.message ?? String(e)}` };
      }
    },

    async close() {},
  };
}
