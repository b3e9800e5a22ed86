/** What a worker publishes in the presence registry (and the kernel stores in `workers`). */
export interface WorkerPresence {
  id: string;
  hostname: string;
  version: string;
  slots: number;
  running: number;
  /** Pools (required capabilities) this worker pulls from: cpu, nvidia, qsv, vaapi. */
  pools: string[];
  draining: boolean;
  capabilities: Record<string, unknown>;
  startedAt: string;
}
