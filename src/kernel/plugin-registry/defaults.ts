/**
 * Settings of the standard plugins before an operator changed anything: storage-fs under DATA_DIR, S3
 * disabled until configured, FFmpeg from PATH (or FFMPEG_PATH/FFPROBE_PATH on the worker).
 */
import { resolve } from "node:path";
import type { PluginSettings } from "../../plugin-runtime/host/host.ts";
import type { KernelConfig } from "../config.ts";

export function builtinDefaults(config: KernelConfig): Record<string, PluginSettings> {
  return {
    "storage-fs": {
      enabled: true,
      priority: 100,
      config: { root: resolve(config.DATA_DIR, "storage"), public_base_url: publicUrl(config) },
    },
    "storage-s3": { enabled: false, priority: 90, config: {} },
    "encoder-ffmpeg": { enabled: true, priority: 100, config: {} },
    // Password users: on (harmless without users); OIDC: on only when an identity provider is configured.
    "auth-basic": { enabled: true, priority: 100, config: {} },
    "auth-oidc": { enabled: Boolean(config.OIDC_ISSUER_URL), priority: 90, config: {} },
    // Publishers: off until an operator sets their destination (enabled but unconfigured they would be degraded).
    "publisher-rtmp": { enabled: false, priority: 100, config: {} },
    "publisher-youtube": { enabled: false, priority: 100, config: {} },
    "publisher-twitch": { enabled: false, priority: 100, config: {} },
  };
}

/** The base URL clients use to reach this kernel (download and playback links). */
export function publicUrl(config: KernelConfig): string {
  return (config.PUBLIC_URL ?? `${config.TLS_CERT_FILE ? "https" : "http"}://127.0.0.1:${config.PORT}`).replace(/\/+$/, "");
}
