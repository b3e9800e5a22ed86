/**
 * Plugin settings live in the kernel's database; workers never see DATABASE_URL. A worker asks a kernel for
 * its plugins' settings over the bus (`plugins.settings`, answered by any kernel) and reloads a plugin when
 * a kernel announces a change (`plugin.changed`).
 */
import type { Bus, Unsubscribe } from "../bus/types.ts";
import { BusRequestError } from "../bus/types.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { PluginSettings, PluginSettingsSource } from "./host/host.ts";
import type { Pillar } from "./protocol.ts";

export const PLUGIN_SETTINGS_SUBJECT = "plugins.settings";
export const PLUGIN_CHANGED = "plugin.changed";

export interface PluginChanged {
  id: string;
  /** The process that made the change (it has already applied it). */
  origin: string;
}

/** The pillars whose plugins run on workers; only their settings ever leave the kernel. */
export const WORKER_PILLARS: readonly Pillar[] = ["storage", "encoder"];

/**
 * Kernel side: answer workers' settings requests from the store — for worker pillars only. Auth, live and
 * publisher plugins run in the kernel; their secrets (auth-basic's session key and users, publisher tokens)
 * must never be handed to whoever can send a request on the bus. `pillarOf` names a plugin's pillar.
 */
export function servePluginSettings(bus: Bus, store: PluginSettingsSource, pillarOf: (id: string) => Promise<Pillar | undefined>): Unsubscribe {
  return bus.respond(PLUGIN_SETTINGS_SUBJECT, async (data) => {
    const ids = (data as { ids?: unknown })?.ids;
    if (!Array.isArray(ids)) throw new Error("ids must be an array of plugin ids");
    const out: Record<string, PluginSettings | null> = {};
    for (const id of ids.map(String)) {
      const pillar = await pillarOf(id);
      out[id] = pillar && WORKER_PILLARS.includes(pillar) ? ((await store.get(id)) ?? null) : null;
    }
    return out;
  });
}

/** Worker side: settings fetched from a kernel, cached until a change is announced. */
export class RemotePluginSettings implements PluginSettingsSource {
  private cache = new Map<string, PluginSettings | undefined>();

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly timeoutMs = 5000,
  ) {}

  /** Waits (retrying with backoff, logging) until a kernel answers for `ids`. */
  async prefetch(ids: string[], signal?: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const got = await this.bus.request<Record<string, PluginSettings | null>>(PLUGIN_SETTINGS_SUBJECT, { ids }, this.timeoutMs);
        for (const id of ids) this.cache.set(id, got[id] ?? undefined);
        return;
      } catch (e) {
        if (signal?.aborted) throw e;
        const why = e instanceof BusRequestError && e.code === "no_responders" ? "no kernel is running yet" : errorMessage(e);
        const delay = Math.min(500 * 2 ** (attempt - 1), 10_000);
        this.logger.warn({ error: why, retry_in_ms: delay }, `waiting for a kernel to send plugin settings: ${why}`);
        await Bun.sleep(delay);
      }
    }
  }

  async get(id: string): Promise<PluginSettings | undefined> {
    if (!this.cache.has(id)) await this.prefetch([id]);
    return this.cache.get(id);
  }

  invalidate(id: string): void {
    this.cache.delete(id);
  }
}
