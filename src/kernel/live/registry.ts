/** The live session manager of a kernel context (set by start.ts when live ingest is on; absent otherwise). */
import type { LiveSessionManager } from "./sessions.ts";

const managers = new WeakMap<object, LiveSessionManager>();

export function setLiveManager(ctx: object, manager: LiveSessionManager): void {
  managers.set(ctx, manager);
}

export function liveManagerOf(ctx: object): LiveSessionManager | undefined {
  return managers.get(ctx);
}
