/**
 * publisher-rtmp: any RTMP or RTMPS server (an own nginx-rtmp/SRS, a CDN, a platform's manual ingest). The
 * settings are the ingest URL and the stream key (a secret: encrypted at rest, never shown); `prepare_live`
 * hands them to the restream engine. There is no broadcast to create or end on such a server.
 */
import * as v from "valibot";
import type { LiveIngest, PublisherPlugin } from "../../src/plugin-runtime/pillars.ts";
import { PluginError, definePlugin } from "../../src/plugin-runtime/sdk.ts";
import { isIngestUrl, normalizeIngestUrl } from "./ingest-url.ts";

export const config = v.object({
  /** rtmp:// or rtmps:// ingest URL without the key, e.g. rtmp://live.example.com/app. */
  url: v.optional(v.pipe(v.string(), v.check(isIngestUrl, "must be an rtmp:// or rtmps:// URL with a host and no credentials, query or fragment"))),
  /** The stream key the server expects after the URL. */
  key: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"), v.regex(/^[^\s/?#]+$/, "must not contain spaces, '/', '?' or '#'"))),
});

export default definePlugin({
  id: "publisher-rtmp",
  pillar: "publisher",
  version: "1.0.0",
  capabilities: ["live"],
  config,
  secretFields: ["key"],
  create({ config: c }): PublisherPlugin {
    return {
      health: () => (c.url && c.key ? { status: "ok" as const } : { status: "degraded" as const, detail: "url and key are not both set" }),
      async prepare_live(): Promise<LiveIngest> {
        if (!c.url || !c.key) {
          const missing = [!c.url && "url", !c.key && "key"].filter(Boolean).join(" and ");
          throw new PluginError("WE-PLG-003", `publisher-rtmp: set ${missing} in the plugin settings (PUT /v1/plugins/publisher-rtmp/config)`, {
            issues: [!c.url && { path: "url", message: "required" }, !c.key && { path: "key", message: "required" }].filter(Boolean),
          });
        }
        return { url: normalizeIngestUrl(c.url), key: c.key };
      },
      async end_live() {
        return { ended: false };
      },
      async upload_vod() {
        throw new PluginError("WE-PUB-005", "publisher-rtmp does not upload files (it only sends live streams); publish a job's output with publisher-youtube");
      },
    };
  },
});
