/**
 * What the online workers report about a plugin they run (encoder-ffmpeg, their storage plugins), from the
 * capabilities in their heartbeats, for `GET /v1/plugins` (src/kernel/api/plugins.ts).
 */
import { ne } from "drizzle-orm";
import { workers } from "../../db/schema.ts";
import type { KernelContext } from "../context.ts";

export interface WorkerPluginState {
  worker_id: string;
  state: string;
  version: string | null;
  last_error: string | null;
}

export async function workerPluginStates(ctx: KernelContext, id: string): Promise<WorkerPluginState[]> {
  const rows = await ctx.db.select({ id: workers.id, capabilities: workers.capabilities }).from(workers).where(ne(workers.status, "offline"));
  const out: WorkerPluginState[] = [];
  for (const w of rows) {
    const p = ((w.capabilities as { plugins?: Array<Record<string, unknown>> }).plugins ?? []).find((x) => x.id === id);
    if (p) out.push({ worker_id: w.id, state: String(p.state), version: (p.version as string) ?? null, last_error: (p.last_error as string) ?? null });
  }
  return out;
}

/** A plugin run by workers: healthy when every reporting worker has it healthy. Pure. */
export function summarizeWorkerStates(states: WorkerPluginState[], enabled: boolean): string {
  if (!enabled) return "disabled";
  if (!states.length) return "starting";
  for (const s of ["failed", "degraded", "starting"]) if (states.some((x) => x.state === s)) return s;
  return states[0]!.state;
}
