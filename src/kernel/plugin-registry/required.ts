/**
 * Plugins a deployment cannot run without. Every mode needs an encoder (workers, the standalone kernel's
 * embedded worker included, cannot start without one) and a storage plugin (sources, parts and outputs live
 * there). Disabling the last enabled plugin of either pillar would stop all work — and a standalone kernel
 * would no longer start, leaving no API to undo it — so it is refused.
 */
import type { Pillar } from "../../plugin-runtime/protocol.ts";

export const REQUIRED_PILLARS: readonly Pillar[] = ["encoder", "storage"];

export interface PluginEnabled {
  id: string;
  pillar: Pillar | undefined;
  enabled: boolean;
}

/** Why `id` may not be disabled (it is the last enabled plugin of a required pillar), or undefined. Pure. */
export function disableRefusal(id: string, pillar: Pillar, all: readonly PluginEnabled[]): string | undefined {
  if (!REQUIRED_PILLARS.includes(pillar)) return undefined;
  if (all.some((p) => p.id !== id && p.pillar === pillar && p.enabled)) return undefined;
  const why =
    pillar === "encoder"
      ? "workers (and a standalone kernel's embedded worker) need one to run any task; without it no job runs and a standalone kernel cannot start"
      : "sources, parts and outputs are kept there; without one no job runs";
  return `${id} is the only enabled ${pillar} plugin and cannot be disabled: ${why}. Enable another ${pillar} plugin first`;
}
