/**
 * The queue gauges the overview shows, read from the kernel's Prometheus text at GET /metrics
 * (webencode_queue_depth and webencode_queue_oldest_age_seconds, per pool; docs/metrics.md). Pure.
 */

export interface PoolQueue {
  pool: string;
  depth: number;
  oldestSeconds: number;
}

const SAMPLE = /^(webencode_queue_depth|webencode_queue_oldest_age_seconds)\{([^}]*)\}\s+(\S+)/;

export function queuesFromMetrics(text: string): PoolQueue[] {
  const pools = new Map<string, PoolQueue>();
  for (const line of text.split("\n")) {
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const pool = /(?:^|,)pool="([^"]*)"/.exec(m[2]!)?.[1];
    const value = Number(m[3]);
    if (pool === undefined || !Number.isFinite(value)) continue;
    const entry = pools.get(pool) ?? { pool, depth: 0, oldestSeconds: 0 };
    if (m[1] === "webencode_queue_depth") entry.depth = value;
    else entry.oldestSeconds = value;
    pools.set(pool, entry);
  }
  return [...pools.values()].sort((a, b) => a.pool.localeCompare(b.pool));
}
