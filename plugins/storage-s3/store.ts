/**
 * storage-s3: objects in one bucket (optionally under a key prefix) of S3 or an S3-compatible server.
 *
 * - Uploads stream from a local file through `@aws-sdk/lib-storage` (multipart above PART_SIZE). Checksums
 *   are WHEN_REQUIRED (docs/architecture.md §9): with the SDK defaults a streamed upload to some S3-compatible servers was
 *   stored with the aws-chunked framing inside.
 * - Downloads stream to a temp file next to the destination, then rename (atomic for the reader).
 * - Keys follow the same rules as storage-fs (src/plugin-runtime/shared/storage-keys.ts) so both backends accept the same keys.
 * - read_url is presigned per object: the credential of a presigned URL covers exactly one key, so
 *   `scope_prefix` cannot widen it. For an HLS playlist asked with a `scope_prefix` (the rendition tree) the
 *   link is to a rewritten copy whose every reference is presigned too (playlists.ts), with the same expiry.
 *   With `public_base_url` (a CDN or a public-read bucket) links are plain URLs under it instead, and the
 *   playlists' relative URIs resolve as they are.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type BucketLocationConstraint,
  type _Object,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { CallContext, ObjectInfo, StoragePlugin } from "../../src/plugin-runtime/pillars.ts";
import type { HealthResult } from "../../src/plugin-runtime/protocol.ts";
import { PluginError } from "../../src/plugin-runtime/sdk.ts";
import { tempPathFor } from "../../src/plugin-runtime/shared/local-files.ts";
import { MAX_KEY_BYTES, checkExpiresIn, checkKey, checkPrefix, checkScope, keyToUrlPath, showKey } from "../../src/plugin-runtime/shared/storage-keys.ts";
import { PLUGIN, s3Error } from "./errors.ts";
import { isPlaylistKey, playlistReferences, rewritePlaylist, signedCopyKey } from "./playlists.ts";

export interface S3StorageOptions {
  endpoint?: string;
  region: string;
  bucket: string;
  /** "" or a prefix ending in "/". */
  prefix: string;
  forcePathStyle: boolean;
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Base URL that serves the bucket's root publicly (CDN, public-read bucket): read_url links go under it unsigned. */
  publicBaseUrl?: string;
}

/** Rendition playlists under a master are rewritten too; deeper nesting does not occur in HLS. */
const MAX_PLAYLIST_DEPTH = 2;
/** A playlist larger than this is not an HLS playlist this platform wrote. */
const MAX_PLAYLIST_BYTES = 16 * 1024 * 1024;

export type S3Storage = StoragePlugin & {
  health(): Promise<HealthResult>;
  close(): Promise<void>;
  readonly client: S3Client;
  /** Not an RPC method (the SDK refuses names starting with "_"): put_file without the `move` handling. */
  _upload(p: { key: string; path: string; content_type?: string }, ctx: CallContext): Promise<{ size: number; etag?: string }>;
};

/** Multipart part size: 8 MiB (S3 minimum 5 MiB); 4 parts in flight → at most ~32 MiB buffered. */
export const PART_SIZE = 8 * 1024 * 1024;
const MAX_PRESIGN_S = 7 * 24 * 3600;
const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 10_000;

const errno = (error: unknown): string | undefined => (error as { code?: unknown })?.code as string | undefined;
const unquote = (etag: string | undefined): string | undefined => etag?.replace(/^"|"$/g, "");

/** `prefix` as stored: no leading "/", and a trailing "/" when not empty. */
export function normalizePrefix(prefix: string | undefined): string {
  const p = (prefix ?? "").replace(/^\/+/, "");
  return p === "" || p.endsWith("/") ? p : `${p}/`;
}

export function createS3Client(options: S3StorageOptions): S3Client {
  return new S3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.forcePathStyle,
    ...(options.accessKeyId && options.secretAccessKey ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } } : {}),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5000 },
  });
}

/** Creates the bucket; an existing one is fine. */
export async function ensureBucket(client: S3Client, bucket: string, region: string): Promise<void> {
  try {
    await client.send(
      new CreateBucketCommand({
        Bucket: bucket,
        ...(region !== "us-east-1" ? { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } } : {}),
      }),
    );
  } catch (e) {
    const name = (e as { name?: string })?.name;
    if (name === "BucketAlreadyOwnedByYou" || name === "BucketAlreadyExists") return;
    throw s3Error(e, "create bucket", bucket);
  }
}

export function createS3Storage(options: S3StorageOptions, client: S3Client = createS3Client(options)): S3Storage {
  const Bucket = options.bucket;
  const prefix = options.prefix;

  /** The bucket key of `key`, after the shared key rules and S3's 1024-byte limit (prefix included). */
  const full = (key: string): string => {
    checkKey(PLUGIN, key);
    const k = prefix + key;
    if (Buffer.byteLength(k) > MAX_KEY_BYTES) {
      throw new PluginError("WE-STO-002", `${PLUGIN}: key ${showKey(key)} refused: with the configured prefix it is longer than ${MAX_KEY_BYTES} bytes`, { key });
    }
    return k;
  };
  const infoOf = (object: _Object): ObjectInfo => ({
    key: (object.Key ?? "").slice(prefix.length),
    size: object.Size ?? 0,
    modified: (object.LastModified ?? new Date(0)).toISOString(),
    ...(object.ETag ? { etag: unquote(object.ETag) } : {}),
  });

  const presign = (key: string, expiresIn: number): Promise<string> => getSignedUrl(client, new GetObjectCommand({ Bucket, Key: full(key) }), { expiresIn });

  /**
   * A presigned link to a copy of the playlist whose references inside `scope` are presigned links (a rendition
   * playlist: to its own rewritten copy). The copy lives under `<scope>_signed/` (removed with the tree) and is
   * rewritten on every call, so a link handed out earlier serves the newest signatures.
   */
  const signedPlaylistUrl = async (key: string, scope: string, expiresIn: number, depth: number): Promise<string> => {
    const object = await client.send(new GetObjectCommand({ Bucket, Key: full(key) }));
    if ((object.ContentLength ?? 0) > MAX_PLAYLIST_BYTES) throw new PluginError("WE-STO-002", `${PLUGIN}: ${showKey(key)} is too large to be an HLS playlist`, { key });
    const text = (await object.Body?.transformToString("utf-8")) ?? "";
    const urls = new Map<string, string>();
    const references = playlistReferences(key, text).filter((reference) => reference.startsWith(scope));
    await Promise.all(
      references.map(async (reference) => {
        const nested = isPlaylistKey(reference) && depth < MAX_PLAYLIST_DEPTH;
        urls.set(reference, nested ? await signedPlaylistUrl(reference, scope, expiresIn, depth + 1) : await presign(reference, expiresIn));
      }),
    );
    const copy = signedCopyKey(scope, key);
    await client.send(
      new PutObjectCommand({ Bucket, Key: full(copy), Body: rewritePlaylist(key, text, urls), ContentType: "application/vnd.apple.mpegurl", CacheControl: "private, no-cache" }),
    );
    return presign(copy, expiresIn);
  };

  return {
    client,

    // `move`: the caller hands the file over; it is removed once stored (never after a failed upload).
    async put_file(params: { key: string; path: string; content_type?: string; move?: boolean }, ctx: CallContext) {
      const result = await this._upload(params, ctx);
      if (params.move) await unlink(params.path).catch(() => {});
      return result;
    },

    /** Not an RPC method (the SDK refuses names starting with "_"). */
    async _upload({ key, path, content_type }: { key: string; path: string; content_type?: string }, ctx: CallContext) {
      const Key = full(key);
      let size: number;
      try {
        const st = await stat(path);
        if (st.isDirectory()) throw new PluginError("WE-REQ-001", `${PLUGIN}: put_file source ${JSON.stringify(path)} is a directory`, { key, path });
        size = st.size;
      } catch (e) {
        if (errno(e) === "ENOENT") throw new PluginError("WE-STO-001", `${PLUGIN}: put_file source ${JSON.stringify(path)} does not exist`, { key, path });
        throw e;
      }
      const ContentType = content_type ? { ContentType: content_type } : {};
      if (size === 0) {
        try {
          const out = await client.send(new PutObjectCommand({ Bucket, Key, Body: new Uint8Array(0), ...ContentType }), { abortSignal: ctx?.signal });
          return { size, ...(out.ETag ? { etag: unquote(out.ETag) } : {}) };
        } catch (e) {
          throw s3Error(e, "put_file", key);
        }
      }
      const body = createReadStream(path);
      const abort = new AbortController();
      const onAbort = () => abort.abort();
      ctx?.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        const upload = new Upload({ client, params: { Bucket, Key, Body: body, ...ContentType }, partSize: PART_SIZE, queueSize: 4, leavePartsOnError: false, abortController: abort });
        const out = await upload.done();
        return { size, ...(out.ETag ? { etag: unquote(out.ETag) } : {}) };
      } catch (e) {
        throw s3Error(e, "put_file", key);
      } finally {
        ctx?.signal?.removeEventListener("abort", onAbort);
        body.destroy();
      }
    },

    async get_file({ key, path }, ctx: CallContext) {
      const Key = full(key);
      await mkdir(dirname(path), { recursive: true });
      const tmp = tempPathFor(path);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket, Key }), { abortSignal: ctx?.signal });
        const body = out.Body instanceof ReadableStream ? Readable.fromWeb(out.Body as never) : (out.Body as Readable | undefined);
        if (!body) throw new PluginError("WE-STO-004", `${PLUGIN}: get_file ${showKey(key)}: empty response body`, { key });
        await pipeline(body, createWriteStream(tmp), ...(ctx?.signal ? [{ signal: ctx.signal }] : []));
        const fh = await open(tmp, "r");
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        const { size } = await stat(tmp);
        if (out.ContentLength !== undefined && size !== out.ContentLength) {
          throw new PluginError("WE-STO-004", `${PLUGIN}: get_file ${showKey(key)}: got ${size} of ${out.ContentLength} bytes`, { key });
        }
        await rename(tmp, path);
        return { size };
      } catch (e) {
        await unlink(tmp).catch(() => {});
        throw s3Error(e, "get_file", key);
      }
    },

    async stat({ key }) {
      try {
        const out = await client.send(new HeadObjectCommand({ Bucket, Key: full(key) }));
        return { key, size: out.ContentLength ?? 0, modified: (out.LastModified ?? new Date(0)).toISOString(), ...(out.ETag ? { etag: unquote(out.ETag) } : {}) };
      } catch (e) {
        throw s3Error(e, "stat", key);
      }
    },

    async list({ prefix: p = "", cursor, limit = DEFAULT_LIMIT }) {
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new PluginError("WE-REQ-001", `${PLUGIN}: limit must be an integer in [1, ${MAX_LIMIT}], got ${limit}`);
      checkPrefix(PLUGIN, p);
      const items: ObjectInfo[] = [];
      let token: string | undefined;
      let more = false;
      try {
        // S3 pages hold at most 1000 keys: a larger `limit` follows the continuation token.
        do {
          const out = await client.send(
            new ListObjectsV2Command({
              Bucket,
              Prefix: prefix + p,
              MaxKeys: Math.min(1000, limit - items.length),
              ...(token ? { ContinuationToken: token } : cursor ? { StartAfter: prefix + cursor } : {}),
            }),
          );
          for (const obj of out.Contents ?? []) if (obj.Key) items.push(infoOf(obj));
          more = Boolean(out.IsTruncated && out.NextContinuationToken);
          token = out.NextContinuationToken;
        } while (more && items.length < limit);
      } catch (e) {
        throw s3Error(e, "list", p);
      }
      return more && items.length ? { items, next_cursor: items[items.length - 1]!.key } : { items };
    },

    async delete({ key }) {
      const Key = full(key);
      try {
        await client.send(new HeadObjectCommand({ Bucket, Key }));
      } catch (e) {
        const mapped = s3Error(e, "delete", key);
        if (mapped instanceof PluginError && mapped.code === "WE-STO-001") return { deleted: false };
        throw mapped;
      }
      try {
        await client.send(new DeleteObjectCommand({ Bucket, Key }));
        return { deleted: true };
      } catch (e) {
        throw s3Error(e, "delete", key);
      }
    },

    async delete_prefix({ prefix: p }) {
      if (!p) throw new PluginError("WE-STO-002", `${PLUGIN}: delete_prefix refused: the prefix is empty (that would delete every object)`);
      checkPrefix(PLUGIN, p);
      const attempted = new Set<string>();
      let deleted = 0;
      try {
        // List from the start each round: what was deleted is gone, so this terminates and never depends on a
        // continuation token staying valid while its keys disappear. DeleteObjects takes at most 1000 keys.
        for (;;) {
          const out = await client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix + p, MaxKeys: 1000 }));
          const keys = (out.Contents ?? []).map((c) => c.Key).filter((k): k is string => Boolean(k));
          if (!keys.length) break;
          const again = keys.find((k) => attempted.has(k));
          if (again) throw new PluginError("WE-STO-004", `${PLUGIN}: delete_prefix ${showKey(p)}: ${showKey(again)} is still listed after being deleted`, { prefix: p });
          for (const k of keys) attempted.add(k);
          const res = await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }));
          const failed = res.Errors ?? [];
          if (failed.length) {
            const first = failed[0]!;
            throw s3Error({ name: first.Code, message: first.Message, $metadata: { httpStatusCode: first.Code === "AccessDenied" ? 403 : 500 } }, "delete_prefix", first.Key?.slice(prefix.length) ?? p);
          }
          deleted += keys.length;
        }
      } catch (e) {
        throw s3Error(e, "delete_prefix", p);
      }
      return { deleted };
    },

    async read_url({ key, expires_in, scope_prefix }) {
      const Key = full(key);
      const scope = scope_prefix === undefined || scope_prefix === key ? undefined : checkScope(PLUGIN, key, scope_prefix);
      const expiresIn = checkExpiresIn(PLUGIN, expires_in, MAX_PRESIGN_S);
      const expires_at = new Date(Date.now() + expiresIn * 1000).toISOString();
      if (options.publicBaseUrl) return { url: `${options.publicBaseUrl.replace(/\/+$/, "")}/${keyToUrlPath(Key)}`, expires_at };
      try {
        const url = scope && isPlaylistKey(key) ? await signedPlaylistUrl(key, scope, expiresIn, 0) : await presign(key, expiresIn);
        return { url, expires_at };
      } catch (e) {
        throw s3Error(e, "read_url", key);
      }
    },

    async write_url({ key, expires_in, content_type }) {
      const Key = full(key);
      const expiresIn = checkExpiresIn(PLUGIN, expires_in, MAX_PRESIGN_S);
      try {
        const cmd = new PutObjectCommand({ Bucket, Key, ...(content_type ? { ContentType: content_type } : {}) });
        const url = await getSignedUrl(client, cmd, { expiresIn, ...(content_type ? { signableHeaders: new Set(["content-type"]) } : {}) });
        const headers: Record<string, string> = content_type ? { "content-type": content_type } : {};
        return { url, method: "PUT", headers, expires_at: new Date(Date.now() + expiresIn * 1000).toISOString() };
      } catch (e) {
        throw s3Error(e, "write_url", key);
      }
    },

    async local_path() {
      return { path: null };
    },

    async health(): Promise<HealthResult> {
      try {
        await client.send(new HeadBucketCommand({ Bucket }), { abortSignal: AbortSignal.timeout(10_000) });
        return { status: "ok" };
      } catch (e) {
        const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
        if (err?.$metadata?.httpStatusCode === 404 || err?.name === "NoSuchBucket") return { status: "degraded", detail: `${PLUGIN}: bucket ${Bucket} does not exist` };
        return { status: "degraded", detail: s3Error(e, "health check of bucket", Bucket).message };
      }
    },

    async close() {
      client.destroy();
    },
  };
}
