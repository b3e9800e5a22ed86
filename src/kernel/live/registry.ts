/** The live session manager and runtime of a kernel context (set by start.ts when live ingest is on; absent otherwise). */
import type { LiveRuntime } from "./runtime.ts";
import type { LiveSessionManager } from "./sessions.ts";

const managers = new WeakMap<object, LiveSessionManager>();
const runtimes = new WeakMap<object, LiveRuntime>();

export function setLiveManager(ctx: object, manager: LiveSessionManager, runtime?: LiveRuntime): void {
  managers.set(ctx, manager);
  if (runtime) runtimes.set(ctx, runtime);
}

export function liveManagerOf(ctx: object): LiveSessionManager | undefined {
  return managers.get(ctx);
}

export function liveRuntimeOf(ctx: object): LiveRuntime | undefined {
  return runtimes.get(ctx);
}
