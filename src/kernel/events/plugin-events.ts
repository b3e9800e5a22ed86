/**
 * `plugin.state_changed` events from the kernel's plugin supervisors (PluginHost's onStateChange). The
 * supervisor reports the new state only, so the previous one is remembered here per plugin. Writes are
 * chained, so a plugin's changes are stored in the order they happened; a failed write is logged and
 * dropped (the state itself is in GET /v1/plugins).
 */
import { hostname } from "node:os";
import { sql } from "drizzle-orm";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Db } from "../../db/client.ts";
import type { PluginState } from "../../plugin-runtime/host/supervisor.ts";
import { recordEvent } from "./record.ts";

interface StateSource {
  id: string;
  state: PluginState;
  lastError?: string;
}

/** `kernelId`: the kernel's instance id (KernelContext.instanceId), to tell kernels' plugin hosts apart. */
export function pluginStateRecorder(db: Db, logger: Logger, kernelId: string): (s: StateSource) => void {
  const known = new Map<string, PluginState>();
  const host = hostname();
  let chain: Promise<unknown> = Promise.resolve();
  return (s) => {
    // Every supervisor starts in "starting" (it does not report that first state).
    const from = known.get(s.id) ?? "starting";
    const to = s.state;
    known.set(s.id, to);
    if (from === to) return;
    const data = { plugin_id: s.id, from, to, kernel: kernelId, host, ...(to === "failed" || to === "degraded" || to === "starting" ? { error: s.lastError ?? null } : {}) };
    chain = chain.then(() =>
      db
        .transaction(async (tx) => {
          // A write before the event takes its id: the hub's ordering rule (events/cursor.ts) needs the xid first.
          await tx.execute(sql`select pg_current_xact_id()`);
          await recordEvent(tx, { type: "plugin.state_changed", data });
        })
        .catch((error) => logger.warn({ error: errorMessage(error), plugin: s.id }, "plugin state event not recorded")),
    );
  };
}
