/** The storage-fs plugin definition: a directory as object storage (store.ts), signed URLs served by the kernel. */
import { mkdir, realpath } from "node:fs/promises";
import { resolve } from "node:path";
import * as v from "valibot";
import { PluginError, definePlugin } from "../../src/plugin-runtime/sdk.ts";
import { type FsStorage, createFsStorage } from "./store.ts";

export const config = v.object({
  /** The storage root; created when missing. Object keys are paths relative to it. */
  root: v.pipe(v.string(), v.minLength(1)),
  /** Where the kernel serving /v1/storage/storage-fs/… is reachable by whoever gets read/write URLs. */
  public_base_url: v.optional(v.pipe(v.string(), v.url()), "http://127.0.0.1:8080"),
  /** HMAC key for read/write URL tokens (secret); without it read_url/write_url fail with WE-STO-004. */
  url_signing_key: v.optional(v.pipe(v.string(), v.minLength(1))),
});

export default definePlugin({
  id: "storage-fs",
  pillar: "storage",
  version: "1.0.0",
  schemes: ["file", "fs"],
  priority: 100,
  capabilities: ["local-paths", "signed-urls", "scoped-urls", "atomic-writes"],
  config,
  secretFields: ["url_signing_key"],
  env: [],
  async create({ config: c, log }): Promise<FsStorage> {
    const wanted = resolve(c.root);
    let root: string;
    try {
      await mkdir(wanted, { recursive: true });
      root = await realpath(wanted);
    } catch (e) {
      throw new PluginError("WE-STO-004", `storage-fs: cannot use storage root ${wanted}: ${(e as Error)?.message ?? String(e)}`);
    }
    log.info("storage-fs ready", { root, public_base_url: c.public_base_url, signed_urls: Boolean(c.url_signing_key) });
    return createFsStorage({ root, publicBaseUrl: c.public_base_url, urlSigningKey: c.url_signing_key });
  },
});
