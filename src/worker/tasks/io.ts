/**
 * How a task reaches media: the source as something FFmpeg can open (an http(s) URL, a presigned S3 URL, or
 * a local path when storage-fs is on this host), and parts/outputs moved through the storage plugin. Media
 * bytes never pass through the kernel or the plugin control channel.
 */
import { resolveSourceUrl } from "../../core/outbound-guard.ts";
import { parseSourceUrl } from "../../core/source-url.ts";
import type { PluginHost } from "../../plugin-runtime/host/host.ts";
import type { PluginSupervisor } from "../../plugin-runtime/host/supervisor.ts";

/** Presigned source URLs must outlive the longest task attempt. */
const SOURCE_URL_TTL_S = 12 * 3600;

export async function storageById(plugins: PluginHost, id: string): Promise<PluginSupervisor> {
  return plugins.route("storage", { id });
}

/**
 * `outbound` applies to user-given http(s) URLs only (their redirects are followed and checked here, see
 * resolveSourceUrl); keys and s3:// sources become URLs or paths of our own storage and are not user input.
 */
export async function resolveInput(plugins: PluginHost, sourceUrl: string, defaultStorage: string, outbound: { allowCidrs: readonly string[]; signal?: AbortSignal }): Promise<string> {
  const ref = parseSourceUrl(sourceUrl);
  if (ref.kind === "url") return resolveSourceUrl(ref.url, outbound);
  const storage = ref.kind === "s3" ? await plugins.route("storage", { scheme: "s3" }) : await storageById(plugins, defaultStorage);
  if (ref.kind === "key") {
    const { path } = await storage.call<{ path: string | null }>("local_path", { key: ref.key });
    if (path) return path;
  }
  const { url } = await storage.call<{ url: string }>("read_url", { key: ref.key, expires_in: SOURCE_URL_TTL_S });
  return url;
}

export async function encoder(plugins: PluginHost): Promise<PluginSupervisor> {
  return plugins.route("encoder");
}
