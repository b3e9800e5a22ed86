/**
 * The standard plugins built into both executables. They run as subprocesses of the executable itself
 * (`webencode-kernel __plugin <id>`), so a release carries one Bun runtime per executable instead of one per
 * plugin (~110 MB each: docs/BENCHMARKS.md, binary sizes). A compiled binary in PLUGIN_DIR with the same id overrides one of these.
 */
import { join } from "node:path";
import type { Pillar } from "./protocol.ts";
import type { PluginDefinition } from "./sdk.ts";

export interface BuiltinPlugin {
  pillar: Pillar;
  load(): Promise<PluginDefinition>;
}

export const BUILTIN_PLUGINS: Record<string, BuiltinPlugin> = {
  "storage-fs": { pillar: "storage", load: async () => (await import("../../plugins/storage-fs/plugin.ts")).default as never },
  "storage-s3": { pillar: "storage", load: async () => (await import("../../plugins/storage-s3/plugin.ts")).default as never },
  "encoder-ffmpeg": { pillar: "encoder", load: async () => (await import("../../plugins/encoder-ffmpeg/plugin.ts")).default as never },
  "auth-basic": { pillar: "auth", load: async () => (await import("../../plugins/auth-basic/plugin.ts")).default as never },
  "auth-oidc": { pillar: "auth", load: async () => (await import("../../plugins/auth-oidc/plugin.ts")).default as never },
  "publisher-rtmp": { pillar: "publisher", load: async () => (await import("../../plugins/publisher-rtmp/plugin.ts")).default as never },
  "publisher-youtube": { pillar: "publisher", load: async () => (await import("../../plugins/publisher-youtube/plugin.ts")).default as never },
  "publisher-twitch": { pillar: "publisher", load: async () => (await import("../../plugins/publisher-twitch/plugin.ts")).default as never },
};

/** True inside a `bun build --compile` executable (its modules live under /$bunfs). */
export function isCompiled(): boolean {
  return Bun.main.startsWith("/$bunfs/") || Bun.main.startsWith("B:/~BUN/");
}

/** argv that starts built-in plugin `id` as a subprocess of this executable (or of bun, in development). */
export function builtinCommand(id: string): string[] {
  return isCompiled() ? [process.execPath, "__plugin", id] : [process.execPath, join(import.meta.dir, "plugin-main.ts"), id];
}
