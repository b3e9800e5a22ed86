/** Output rows as the API shows them, each with a fresh download/playback URL from its storage plugin. */
import type { outputs } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";

/** Links are valid for a day; GET …/outputs again for new ones. */
export const OUTPUT_URL_TTL_S = 24 * 3600;

export async function outputUrl(ctx: KernelContext, o: typeof outputs.$inferSelect): Promise<string | null> {
  try {
    const storage = await ctx.plugins.route("storage", { id: o.storagePlugin });
    const r = await storage.call<{ url: string }>("read_url", {
      key: o.storageKey,
      expires_in: OUTPUT_URL_TTL_S,
      // HLS: one credential for the whole rendition tree, so the playlists' relative URLs resolve.
      ...(o.storagePrefix ? { scope_prefix: o.storagePrefix } : {}),
    });
    return r.url;
  } catch (error) {
    ctx.logger.warn({ error, job_id: o.jobId, key: o.storageKey }, "no download URL for output");
    return null;
  }
}

export async function outputView(ctx: KernelContext, o: typeof outputs.$inferSelect) {
  return {
    id: o.id,
    kind: o.kind,
    profile: o.profile,
    storage: o.storagePlugin,
    storage_key: o.storageKey,
    url: await outputUrl(ctx, o),
    size_bytes: o.sizeBytes,
    duration_s: o.durationS,
    width: o.width,
    height: o.height,
    bitrate: o.bitrate,
    codecs: { video: o.videoCodec, audio: o.audioCodec },
    details: o.details,
  };
}
