/**
 * The kernel's side of the settings workers fetch over the bus (src/plugin-runtime/remote-settings.ts): what it knows
 * about each plugin a worker asks for, and whether the bus authenticates who asks.
 */
import type { Bus } from "../../bus/types.ts";
import { BUILTIN_PLUGINS } from "../../plugin-runtime/builtin.ts";
import type { PluginHost } from "../../plugin-runtime/host/host.ts";
import type { Pillar } from "../../plugin-runtime/protocol.ts";
import type { WorkerPluginInfo } from "../../plugin-runtime/remote-settings.ts";
import type { KernelConfig } from "../config.ts";
import type { PluginSettingsStore } from "./settings-store.ts";

/** Pillar and secret fields from the plugin's manifest (hosted or cataloged), else the stored row. */
export function workerPluginInfo(plugins: PluginHost, store: PluginSettingsStore): (id: string) => Promise<WorkerPluginInfo | undefined> {
  return async (id) => {
    const manifest = (plugins.get(id) ?? plugins.getCataloged(id))?.manifest;
    const row = await store.row(id);
    const pillar = manifest?.pillar ?? BUILTIN_PLUGINS[id]?.pillar ?? (row?.pillar as Pillar | undefined);
    // Stored secrets count too: a plugin whose manifest is not known here still keeps them off an open bus.
    return { pillar, secretFields: [...new Set([...(manifest?.secret_fields ?? []), ...Object.keys(row?.secrets ?? {})])] };
  };
}

/**
 * True when whoever can send a request on this bus had to authenticate: the in-process bus (nothing outside
 * the process reaches it), or a NATS connection made with credentials (the server then admits only its
 * users, whose permissions say who may ask — docs/security.md). A kernel connecting without credentials
 * means a server that lets anyone in. Pure.
 */
export function busAuthenticatesClients(config: Pick<KernelConfig, "NATS_CREDS" | "NATS_USER" | "NATS_TOKEN" | "NATS_CERT_FILE">, bus: Pick<Bus, "kind">): boolean {
  return bus.kind === "memory" || Boolean(config.NATS_CREDS || config.NATS_USER || config.NATS_TOKEN || config.NATS_CERT_FILE);
}
