/** The storage-s3 plugin definition: S3 or an S3-compatible server (store.ts). */
import * as v from "valibot";
import { definePlugin } from "../../src/plugin-runtime/sdk.ts";
import { checkPrefix } from "../../src/plugin-runtime/shared/storage-keys.ts";
import { PLUGIN } from "./errors.ts";
import { type S3Storage, createS3Client, createS3Storage, ensureBucket, normalizePrefix } from "./store.ts";

export const config = v.pipe(
  v.object({
    /** S3-compatible endpoint (MinIO, Ceph, s3rver…); AWS when absent. */
    endpoint: v.optional(v.pipe(v.string(), v.url())),
    region: v.optional(v.pipe(v.string(), v.minLength(1)), "us-east-1"),
    bucket: v.pipe(v.string(), v.minLength(1)),
    /** Key prefix inside the bucket ("webencode" and "webencode/" are the same: a "/" is appended). */
    prefix: v.optional(v.string(), ""),
    /** http://endpoint/bucket/key instead of http://bucket.endpoint/key (most S3-compatible servers). */
    force_path_style: v.optional(v.boolean(), false),
    /** Static credentials (secrets). Without them the SDK's default chain (e.g. an instance role) is used. */
    access_key_id: v.optional(v.pipe(v.string(), v.minLength(1))),
    secret_access_key: v.optional(v.pipe(v.string(), v.minLength(1))),
    /** Create the bucket at start when it does not exist. */
    create_bucket: v.optional(v.boolean(), false),
    /**
     * Base URL that serves the bucket's root without credentials (a CDN in front of it, or a public-read
     * bucket): download and playback links are plain URLs under it. Absent: presigned links (HLS playlists
     * rewritten with a presigned URL per segment).
     */
    public_base_url: v.optional(v.pipe(v.string(), v.url(), v.regex(/^https?:\/\//i, "public_base_url must be an http(s) URL"))),
  }),
  v.check((c) => (c.access_key_id === undefined) === (c.secret_access_key === undefined), "access_key_id and secret_access_key must be set together"),
);

export default definePlugin({
  id: "storage-s3",
  pillar: "storage",
  version: "1.0.0",
  schemes: ["s3"],
  priority: 90,
  capabilities: ["presigned-urls", "multipart"],
  config,
  secretFields: ["access_key_id", "secret_access_key"],
  env: [],
  async create({ config: c, log }): Promise<S3Storage> {
    const prefix = normalizePrefix(c.prefix);
    if (prefix) checkPrefix(PLUGIN, prefix);
    const opts = {
      endpoint: c.endpoint,
      region: c.region,
      bucket: c.bucket,
      prefix,
      forcePathStyle: c.force_path_style,
      accessKeyId: c.access_key_id,
      secretAccessKey: c.secret_access_key,
      publicBaseUrl: c.public_base_url,
    };
    const client = createS3Client(opts);
    if (c.create_bucket) await ensureBucket(client, c.bucket, c.region);
    log.info("storage-s3 ready", { endpoint: c.endpoint ?? "aws", region: c.region, bucket: c.bucket, prefix, path_style: c.force_path_style });
    return createS3Storage(opts, client);
  },
});
