/** The alerting rules are valid for Prometheus and only use metrics the kernel really exports. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRegistry } from "../../src/core/metrics.ts";
import { createKernelMetrics } from "../../src/kernel/metrics.ts";
import { createPluginMetrics } from "../../src/plugins/host/metrics.ts";

const file = join(import.meta.dir, "../../docs/prometheus/alerts.yml");
const hasPromtool = Bun.which("promtool") !== null;

describe("docs/prometheus/alerts.yml", () => {
  test.if(hasPromtool)("promtool check rules accepts it", () => {
    const r = Bun.spawnSync(["promtool", "check", "rules", file], { stdout: "pipe", stderr: "pipe" });
    expect(r.stdout.toString() + r.stderr.toString()).toContain("SUCCESS");
    expect(r.exitCode).toBe(0);
  });

  test("every webencode_* metric it uses is exported by the kernel", async () => {
    const registry = createRegistry("kernel");
    createKernelMetrics(registry);
    createPluginMetrics(registry);
    const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    const used = [...new Set(readFileSync(file, "utf8").match(/webencode_[a-z_]+/g) ?? [])];
    expect(used.length).toBeGreaterThan(4);
    expect(used.filter((m) => !exported.has(m))).toEqual([]);
  });
});
