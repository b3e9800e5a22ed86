/** Everything the kernel's parts share, built once at start (src/kernel/start.ts) and passed down. */
import type { Bus } from "../bus/types.ts";
import type { Logger } from "../core/logger.ts";
import type { SecretBox } from "../core/secret-box.ts";
import type { Database, Db } from "../db/client.ts";
import type { PluginHost } from "../plugin-runtime/host/host.ts";
import type { KernelConfig } from "./config.ts";
import type { Orchestrator } from "./orchestrator/handle.ts";
import type { PluginSettingsStore } from "./plugin-registry/settings-store.ts";
import type { KernelMetrics } from "./metrics.ts";

export interface KernelState {
  /** Set on SIGTERM: readiness answers 503 so load balancers stop sending traffic while we drain. */
  stopping: boolean;
  startedAt: Date;
}

export interface KernelContext {
  config: KernelConfig;
  logger: Logger;
  database: Database;
  db: Db;
  bus: Bus;
  metrics: KernelMetrics;
  state: KernelState;
  plugins: PluginHost;
  /** Unique per process: lets a kernel recognise its own announcements on the bus. */
  instanceId: string;
  /** Set right after start (the orchestrator needs the rest of the context). */
  orchestrator: Orchestrator;
  pluginSettings: PluginSettingsStore;
  /** Encrypts/decrypts secrets at rest with SECRET_KEY (or DATA_DIR/secret.key in standalone mode). */
  secrets: SecretBox;
}
