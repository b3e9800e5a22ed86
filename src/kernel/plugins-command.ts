/**
 * `webencode-kernel plugins list` and `webencode-kernel plugins enable <id>`: plugin enablement straight in the
 * database, for when there is no API to ask — e.g. a standalone kernel that will not start because its only
 * encoder was disabled. Works with the kernel stopped (standalone: its embedded database admits one process);
 * running kernels and workers pick the change up when they restart (or use POST /v1/plugins/<id>/enable).
 */
import { pluginConfigs } from "../db/schema.ts";
import { BUILTIN_PLUGINS } from "../plugin-runtime/builtin.ts";
import { PILLARS, type Pillar } from "../plugin-runtime/protocol.ts";
import { withDatabase } from "./command-db.ts";
import type { KernelConfig } from "./config.ts";
import type { Logger } from "../core/logger.ts";
import { builtinDefaults } from "./plugin-registry/defaults.ts";
import { setPluginEnabled } from "./plugin-registry/settings-store.ts";

const USAGE = "usage: webencode-kernel plugins list\n       webencode-kernel plugins enable <id>\n";

export interface PluginLine {
  id: string;
  pillar: string;
  enabled: boolean;
  /** "stored" (a plugin_configs row) or "default" (a built-in with nothing stored). */
  source: "stored" | "default";
}

/** Stored rows first-class, built-ins without a row at their defaults; sorted by id. Pure. */
export function pluginLines(rows: Array<{ id: string; pillar: string; enabled: boolean }>, defaults: Record<string, { enabled: boolean }>): PluginLine[] {
  const out = new Map<string, PluginLine>();
  for (const [id, d] of Object.entries(defaults)) out.set(id, { id, pillar: BUILTIN_PLUGINS[id]?.pillar ?? "?", enabled: d.enabled, source: "default" });
  for (const r of rows) out.set(r.id, { id: r.id, pillar: r.pillar, enabled: r.enabled, source: "stored" });
  return [...out.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export function formatPluginLines(lines: PluginLine[]): string {
  return lines.map((l) => `${l.id.padEnd(24)} ${l.pillar.padEnd(10)} ${(l.enabled ? "enabled" : "disabled").padEnd(9)} ${l.source}\n`).join("");
}

export async function pluginsCommand(config: KernelConfig, logger: Logger, args: string[]): Promise<number> {
  const [sub, id, ...rest] = args;
  if (sub === "list" && id === undefined) {
    return withDatabase(config, logger, async (db) => {
      const rows = await db.select({ id: pluginConfigs.id, pillar: pluginConfigs.pillar, enabled: pluginConfigs.enabled }).from(pluginConfigs);
      process.stdout.write(formatPluginLines(pluginLines(rows, builtinDefaults(config))));
    }, { requireCurrentSchema: true });
  }
  if (sub !== "enable" || !id || rest.length) {
    process.stderr.write(`unknown plugins command: ${args.join(" ") || "(none)"}\n${USAGE}`);
    return 2;
  }
  return withDatabase(config, logger, async (db) => {
    const rows = await db.select({ id: pluginConfigs.id, pillar: pluginConfigs.pillar, enabled: pluginConfigs.enabled }).from(pluginConfigs);
    const known = pluginLines(rows, builtinDefaults(config)).find((l) => l.id === id);
    const pillar = known?.pillar as Pillar | undefined;
    if (!known || !pillar || !PILLARS.includes(pillar)) {
      process.stderr.write(`no plugin ${id} is known to this database (built-in or configured); \`webencode-kernel plugins list\` shows them. A plugin binary in PLUGIN_DIR with no stored settings is enabled already.\n`);
      return 1;
    }
    await setPluginEnabled(db, id, pillar, true);
    process.stdout.write(`${id} enabled${known.enabled && known.source === "stored" ? " (it already was)" : ""}; running kernels and workers apply it when they restart (or POST /v1/plugins/${id}/enable)\n`);
  }, { requireCurrentSchema: true });
}
