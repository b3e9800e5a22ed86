/**
 * What a running orchestrator offers the rest of the kernel (KernelContext.orchestrator). Its own module, so
 * the context can name it without importing the code that starts the orchestrator (which needs the context).
 */
import type { Reconciler } from "./reconciler.ts";
import type { OrchestratorDeps } from "./results.ts";

export interface Orchestrator {
  deps: OrchestratorDeps;
  reconciler: Reconciler;
  stop(): Promise<void>;
}
