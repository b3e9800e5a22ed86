/**
 * Where workers reach this kernel's internal restream endpoint (the claim) and its live sources: the live
 * internal base (live/internal-url.ts: LIVE_INTERNAL_URL, else the loopback address of the API port), set once
 * the API listens (runtime.ts startRestreams).
 */
import type { KernelContext } from "../context.ts";
import { liveInternalBase } from "../live/internal-url.ts";

const bases = new WeakMap<object, string>();
const kicks = new WeakMap<object, () => void>();

/** The tick's wake-up (runtime.ts): a restream created or started here is looked at on the next tick, not after the idle back-off. */
export function setRestreamKick(ctx: KernelContext, kick: () => void): void {
  kicks.set(ctx, kick);
}

export function kickRestreams(ctx: KernelContext): void {
  kicks.get(ctx)?.();
}

export function setRestreamInternalBase(ctx: KernelContext, base: string): void {
  bases.set(ctx, base);
}

export function restreamInternalBase(ctx: KernelContext): string {
  return bases.get(ctx) ?? liveInternalBase(ctx.config, ctx.config.PORT);
}
