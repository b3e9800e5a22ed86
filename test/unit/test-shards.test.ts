import { describe, expect, test } from "bun:test";
import { costOf, planShards } from "../../scripts/lib/shards.ts";

describe("planShards", () => {
  const files = [
    { path: "test/e2e/a.test.ts", bytes: 30_000 },
    { path: "test/e2e/b.test.ts", bytes: 28_000 },
    { path: "test/integration/c.test.ts", bytes: 20_000 },
    { path: "test/unit/d.test.ts", bytes: 5_000 },
    { path: "test/unit/e.test.ts", bytes: 4_000 },
  ];

  test("every file runs exactly once, across the shards", () => {
    const shards = planShards(files, 2);
    expect(shards).toHaveLength(2);
    expect(shards.flat().sort()).toEqual(files.map((f) => f.path).sort());
  });

  test("the two heaviest files go to different shards, and the costs stay close", () => {
    const shards = planShards(files, 2);
    const cost = (s: string[]) => s.reduce((n, p) => n + costOf(p, files.find((f) => f.path === p)!.bytes), 0);
    expect(shards.some((s) => s.includes("test/e2e/a.test.ts") && s.includes("test/e2e/b.test.ts"))).toBe(false);
    const [x, y] = shards.map(cost);
    expect(Math.abs(x! - y!) / Math.max(x!, y!)).toBeLessThan(0.3);
  });

  test("more shards than files leaves no empty shard; one shard holds everything", () => {
    expect(planShards(files.slice(0, 2), 4)).toHaveLength(2);
    expect(planShards(files, 1)).toEqual([files.map((f) => f.path).sort()]);
  });
});
