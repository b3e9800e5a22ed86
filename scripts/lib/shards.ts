/**
 * Splitting the test files over parallel `bun test` processes (scripts/test.sh). Test files share nothing
 * (each makes its own database, bus prefix, ports and directories), so they can run side by side; the split
 * only has to balance the time. Pure.
 */

/** Rough relative cost of a test file: end-to-end files start compiled processes and run real jobs. */
export function costOf(path: string, bytes: number): number {
  const factor = path.includes("/e2e/") ? 4 : path.includes("/integration/") ? 2 : path.includes("/contract/") ? 1 : 0.2;
  return factor * Math.max(bytes, 1000);
}

/** Longest-first greedy assignment of files to `n` shards; each shard's files in path order. */
export function planShards(files: Array<{ path: string; bytes: number }>, count: number): string[][] {
  const shards = Array.from({ length: Math.max(1, count) }, () => ({ cost: 0, files: [] as string[] }));
  const byCost = [...files].sort((a, b) => costOf(b.path, b.bytes) - costOf(a.path, a.bytes) || a.path.localeCompare(b.path));
  for (const f of byCost) {
    const lightest = shards.reduce((min, s) => (s.cost < min.cost ? s : min));
    lightest.cost += costOf(f.path, f.bytes);
    lightest.files.push(f.path);
  }
  return shards.map((s) => s.files.sort()).filter((s) => s.length > 0);
}
