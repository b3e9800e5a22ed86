/**
 * A publisher's result may carry `credentials` (a refresh token the platform issued or rotated). The kernel
 * stores them as the plugin's secret (encrypted at rest) and hands on the result without them: they never
 * reach an API response, a log or an event.
 */
import type { PluginSettingsStore } from "../plugin-registry/settings-store.ts";

/** The result without `credentials`, and the credentials found. Pure. */
export function splitCredentials<T>(result: T): { result: T; refreshToken: string | undefined } {
  if (!result || typeof result !== "object" || !("credentials" in result)) return { result, refreshToken: undefined };
  const { credentials, ...rest } = result as Record<string, unknown>;
  const token = (credentials as { refresh_token?: unknown } | null)?.refresh_token;
  return { result: rest as T, refreshToken: typeof token === "string" && token ? token : undefined };
}

/** Persists a rotated refresh token (if any) and answers the result without it. */
export async function keepCredentials<T>(store: Pick<PluginSettingsStore, "setSecret">, pluginId: string, result: T): Promise<T> {
  const split = splitCredentials(result);
  if (split.refreshToken) await store.setSecret(pluginId, "publisher", "refresh_token", split.refreshToken);
  return split.result;
}
