/**
 * Plugin settings live in the kernel's database; workers never see DATABASE_URL. A worker asks a kernel for
 * its plugins' settings over the bus (`plugins.settings`, answered by any kernel) and reloads a plugin when
 * a kernel announces a change (`plugin.changed`). What a worker gets, and how the reply is protected:
 * docs/security.md "Plugin settings on the bus".
 */
import type { Bus, Unsubscribe } from "../bus/types.ts";
import { BusRequestError } from "../bus/types.ts";
import { errorMessage } from "../core/errors.ts";
import { PLUGIN_CHANGED, PLUGIN_SETTINGS_SUBJECT } from "../core/messages.ts";
import type { Logger } from "../core/logger.ts";
import type { PluginSettings, PluginSettingsSource } from "./host/host.ts";
import { type Pillar, WORKER_PILLARS } from "./protocol.ts";
import { replyKeyPair, replyKeyProblem, sealReply } from "./sealed-reply.ts";

// The subject names live with the other bus messages, where the NATS permission lists read them too.
export { PLUGIN_CHANGED, PLUGIN_SETTINGS_SUBJECT };

export interface PluginChanged {
  id: string;
  /** The process that made the change (it has already applied it). */
  origin: string;
  /** "reload": hot-reload the plugin from its binary (PluginHost.hotReload) instead of restarting it with new settings. */
  action?: "reload";
}

/**
 * Fields of worker-pillar plugins that only kernels use, never sent to workers. storage-fs's URL signing key:
 * the kernel hands out and checks signed download/upload URLs; a worker reads and writes storage-fs by path
 * (`local_path`, `put_file`) and never signs. With the key, anyone could forge a URL to any object.
 */
export const KERNEL_ONLY_FIELDS: Readonly<Record<string, readonly string[]>> = { "storage-fs": ["url_signing_key"] };

/** What the kernel knows about a plugin a worker asks for. */
export interface WorkerPluginInfo {
  pillar: Pillar | undefined;
  /** Its secret fields (manifest `secret_fields`, plus whatever is stored as a secret). */
  secretFields: readonly string[];
}

/**
 * The settings a worker gets for one plugin: none for kernel-hosted pillars (auth, live, publisher secrets
 * must never leave the kernel), never the kernel-only fields, and no secret fields at all when `sendSecrets`
 * is false (a bus without authentication, where anyone may ask). Pure.
 */
export function settingsForWorker(id: string, settings: PluginSettings | undefined, info: WorkerPluginInfo | undefined, sendSecrets: boolean): { settings: PluginSettings | null; withheld: string[] } {
  if (!settings || !info?.pillar || !WORKER_PILLARS.includes(info.pillar)) return { settings: null, withheld: [] };
  const drop = new Set([...(KERNEL_ONLY_FIELDS[id] ?? []), ...(sendSecrets ? [] : info.secretFields)]);
  const config: Record<string, unknown> = {};
  const withheld: string[] = [];
  for (const [k, v] of Object.entries(settings.config)) {
    if (drop.has(k)) {
      if (!KERNEL_ONLY_FIELDS[id]?.includes(k)) withheld.push(k);
    } else config[k] = v;
  }
  return { settings: { ...settings, config }, withheld };
}

export interface ServeSettingsOptions {
  /** False when the bus does not authenticate its clients: secret fields are then withheld (and logged). */
  sendSecrets: boolean;
  logger: Logger;
}

/**
 * Kernel side: answer workers' settings requests from the store. A request is `{ids, reply_key}`: the reply
 * `{sealed}` is encrypted to `reply_key` (sealed-reply.ts), so other bus clients that can see the reply
 * subject read nothing. Who may ask at all is the bus's business: on NATS only the kernel and worker users
 * may publish to this subject (nats-permissions.ts) — NATS credentials are the workers' identity.
 */
export function servePluginSettings(bus: Bus, store: PluginSettingsSource, describe: (id: string) => Promise<WorkerPluginInfo | undefined>, opts: ServeSettingsOptions): Unsubscribe {
  const warned = new Set<string>();
  return bus.respond(PLUGIN_SETTINGS_SUBJECT, async (data) => {
    const { ids, reply_key: replyKey } = (data ?? {}) as { ids?: unknown; reply_key?: unknown };
    if (!Array.isArray(ids) || ids.length > 100) throw new Error("ids must be an array of at most 100 plugin ids");
    const problem = replyKeyProblem(replyKey);
    if (problem) throw new Error(`${problem}: settings replies are sealed to the requesting worker (a worker older than this kernel cannot ask; upgrade it)`);
    const out: Record<string, PluginSettings | null> = {};
    for (const id of ids.map(String)) {
      const r = settingsForWorker(id, await store.get(id), await describe(id), opts.sendSecrets);
      out[id] = r.settings;
      if (r.withheld.length && !warned.has(id)) {
        warned.add(id);
        opts.logger.warn(
          { plugin: id, fields: r.withheld },
          `plugin settings for ${id} sent to workers WITHOUT its secret fields: this kernel connects to NATS without credentials, so anyone reaching NATS could ask for them; give kernels and workers NATS users (docs/security.md "Plugin settings on the bus")`,
        );
      }
    }
    return { sealed: await sealReply(replyKey as string, out) };
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
        // A fresh key pair per request: the kernel seals its reply to it (sealed-reply.ts).
        const keys = await replyKeyPair();
        const reply = await this.bus.request<{ sealed?: unknown }>(PLUGIN_SETTINGS_SUBJECT, { ids, reply_key: keys.publicKey }, this.timeoutMs);
        const got = await keys.open<Record<string, PluginSettings | null>>(reply?.sealed);
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
