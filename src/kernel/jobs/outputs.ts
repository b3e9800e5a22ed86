/** Output rows as the API shows them, each with a fresh download/playback URL from its storage plugin. */
import type { outputs } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";

/** Links are valid for a day; GET …/outputs again for new ones. */
export const OUTPUT_URL_TTL_S = 24 * 3600;

export async function outputUrl(ctx: KernelContext, row: typeof outputs.$inferSelect): Promise<string | null> {
  try {
    const storage = await ctx.plugins.route("storage", { id: row.storagePlugin });
    const r = await storage.call<{ url: string }>("read_url", {
      key: row.storageKey,
      expires_in: OUTPUT_URL_TTL_S,
      // HLS: one credential for the whole rendition tree, so the playlists' relative URLs resolve.
      ...(row.storagePrefix ? { scope_prefix: row.storagePrefix } : {}),
    });
    return r.url;
  } catch (error) {
    ctx.logger.warn({ error, job_id: row.jobId, key: row.storageKey }, "no download URL for output");
    return null;
  }
}

export async function outputView(ctx: KernelContext, output: typeof outputs.$inferSelect) {
  return {
    id: output.id,
    kind: output.kind,
    profile: output.profile,
    storage: output.storagePlugin,
    storage_key: output.storageKey,
    url: await outputUrl(ctx, output),
    size_bytes: output.sizeBytes,
    duration_s: output.durationS,
    width: output.width,
    height: output.height,
    bitrate: output.bitrate,
    codecs: { video: output.videoCodec, audio: output.audioCodec },
    details: output.details,
  };
}
