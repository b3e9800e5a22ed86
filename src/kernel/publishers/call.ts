/**
 * How the kernel calls a publisher plugin (the restream engine's `prepare_live`/`end_live`, publishing): by
 * id, and with any refresh token the platform rotated during the call stored encrypted and removed from the
 * result before the caller sees it (credentials.ts).
 */
import { AppError } from "../../core/errors.ts";
import type { KernelContext } from "../context.ts";
import { keepCredentials } from "./credentials.ts";

export async function callPublisher<T>(ctx: Pick<KernelContext, "plugins" | "pluginSettings">, id: string, method: string, params: Record<string, unknown>, options: { signal?: AbortSignal } = {}): Promise<T> {
  const sup = ctx.plugins.get(id);
  if (!sup || sup.manifest?.pillar !== "publisher") throw new AppError("WE-PLG-001", `publisher ${id} not found; GET /v1/plugins lists the installed ones`);
  const result = await sup.call<T>(method, params, options.signal ? { signal: options.signal } : {});
  return keepCredentials(ctx.pluginSettings, id, result);
}
