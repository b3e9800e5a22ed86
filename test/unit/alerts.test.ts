/**
 * The alerting rules are valid for Prometheus, only use metrics WebEncode really exports, include the runbook's
 * alerts, and fire (or stay quiet) as intended on synthetic series (`promtool test rules`).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRegistry } from "../../src/core/metrics.ts";
import { createKernelMetrics } from "../../src/kernel/metrics.ts";
import { createPluginMetrics } from "../../src/plugin-runtime/host/metrics.ts";
import { createWorkerMetrics } from "../../src/worker/metrics.ts";

const file = join(import.meta.dir, "../../docs/prometheus/alerts.yml");
const hasPromtool = Bun.which("promtool") !== null;

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rules = () => (Bun.YAML.parse(readFileSync(file, "utf8")) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);

const scratch = mkdtempSync(join(tmpdir(), "webencode-alerts-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("docs/prometheus/alerts.yml", () => {
  test.if(hasPromtool)("promtool check rules accepts it", () => {
    const r = Bun.spawnSync(["promtool", "check", "rules", file], { stdout: "pipe", stderr: "pipe" });
    expect(r.stdout.toString() + r.stderr.toString()).toContain("SUCCESS");
    expect(r.exitCode).toBe(0);
  });

  test("has the runbook's alerts plus lease expiries and webhook muting, each with a summary, a description and a severity", () => {
    const names = rules().map((r) => r.alert);
    for (const name of [
      "WebEncodeNoHealthyWorkers",
      "WebEncodeJobQueueBacklog",
      "WebEncodeHighErrorRate",
      "WebEncodeDatabaseConnectionPool",
      "WebEncodeTaskLeaseExpiries",
      "WebEncodeWebhookMuted",
      "WebEncodeQueueStalled",
      "WebEncodeWebhookFailures",
    ]) {
      expect(names).toContain(name);
    }
    expect(new Set(names).size).toBe(names.length);
    for (const r of rules()) {
      expect({ alert: r.alert, severity: ["critical", "warning"].includes(r.labels?.severity ?? "") }).toEqual({ alert: r.alert, severity: true });
      expect({ alert: r.alert, summary: (r.annotations?.summary ?? "").length > 10, description: (r.annotations?.description ?? "").length > 40 }).toEqual({ alert: r.alert, summary: true, description: true });
    }
    const webhookMuted = rules().find((r) => r.alert === "WebEncodeWebhookMuted")!;
    expect(webhookMuted.expr).toBe("max(webencode_webhooks_muted) > 0");
  });

  test("every webencode_* metric it uses is exported by the kernel or the worker", async () => {
    const registry = createRegistry("kernel");
    createKernelMetrics(registry);
    createPluginMetrics(registry);
    createWorkerMetrics(registry);
    const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    const used = [...new Set(readFileSync(file, "utf8").match(/webencode_[a-z_]+/g) ?? [])];
    expect(used.length).toBeGreaterThan(10);
    expect(used.filter((m) => !exported.has(m))).toEqual([]);
  });

  /**
   * Synthetic series through the real rules. promtool compares annotations exactly, so the rules are tested
   * with their annotations removed (check rules above validates the templates); labels are compared.
   */
  test.if(hasPromtool)("fires on synthetic series as intended, and stays quiet on healthy ones (promtool test rules)", () => {
    const doc = Bun.YAML.parse(readFileSync(file, "utf8")) as { groups: Array<{ rules: Rule[] }> };
    for (const g of doc.groups) for (const r of g.rules) delete r.annotations;
    writeFileSync(join(scratch, "rules.json"), JSON.stringify(doc));
    const alert = (name: string, labels: Record<string, string>, at: string) => ({ eval_time: at, alertname: name, exp_alerts: [{ exp_labels: labels }] });
    const quiet = (name: string, at: string) => ({ eval_time: at, alertname: name, exp_alerts: [] });
    const tests = {
      rule_files: ["rules.json"],
      evaluation_interval: "1m",
      tests: [
        {
          // Trouble everywhere; two kernels report the same database-derived gauges.
          interval: "1m",
          input_series: [
            { series: 'webencode_workers_healthy{instance="k1"}', values: "1 0x30" },
            { series: 'webencode_workers_healthy{instance="k2"}', values: "1 0x30" },
            { series: 'webencode_jobs_total{instance="k1",status="queued"}', values: "150x30" },
            { series: 'webencode_queue_oldest_age_seconds{instance="k1",pool="nvidia"}', values: "1000x30" },
            { series: 'webencode_queue_oldest_age_seconds{instance="k1",pool="cpu"}', values: "10x30" },
            { series: 'webencode_errors_total{instance="k1",source="task",code="WE-JOB-008"}', values: "0+60x30" },
            { series: 'webencode_db_server_connections{instance="k1"}', values: "90x30" },
            { series: 'webencode_db_max_connections{instance="k1"}', values: "100x30" },
            { series: 'webencode_db_probe_duration_seconds{instance="k1"}', values: "2x30" },
            { series: 'webencode_task_lease_expiries_total{instance="k1",pool="cpu"}', values: "0+1x30" },
            { series: 'webencode_task_redeliveries_total{instance="k1",pool="cpu"}', values: "0+5x30" },
            { series: 'webencode_plugin_state{instance="k1",plugin="storage-s3",state="failed"}', values: "1x30" },
            { series: 'webencode_plugin_state{instance="k1",plugin="auth-oidc",state="degraded"}', values: "1x30" },
            { series: 'webencode_webhooks_muted{instance="k1"}', values: "0 1x30" },
            { series: 'webencode_webhook_deliveries_total{instance="k1",result="failure"}', values: "0+60x30" },
            { series: 'webencode_webhook_deliveries_total{instance="k1",result="success"}', values: "0+10x30" },
          ],
          alert_rule_test: [
            quiet("WebEncodeNoHealthyWorkers", "1m"),
            alert("WebEncodeNoHealthyWorkers", { severity: "critical" }, "5m"),
            alert("WebEncodeJobQueueBacklog", { severity: "warning" }, "12m"),
            alert("WebEncodeQueueStalled", { severity: "warning", pool: "nvidia" }, "6m"),
            alert("WebEncodeHighErrorRate", { severity: "warning" }, "7m"),
            alert("WebEncodeDatabaseConnectionPool", { severity: "warning" }, "6m"),
            alert("WebEncodeDatabaseSlow", { severity: "warning" }, "6m"),
            alert("WebEncodeTaskLeaseExpiries", { severity: "warning", pool: "cpu" }, "10m"),
            alert("WebEncodeTaskRetries", { severity: "warning", pool: "cpu" }, "10m"),
            alert("WebEncodePluginFailed", { severity: "critical", plugin: "storage-s3" }, "2m"),
            alert("WebEncodePluginDegraded", { severity: "warning", plugin: "auth-oidc" }, "11m"),
            alert("WebEncodeWebhookMuted", { severity: "warning" }, "3m"),
            alert("WebEncodeWebhookFailures", { severity: "warning" }, "25m"),
          ],
        },
        {
          // A healthy installation: nothing fires.
          interval: "1m",
          input_series: [
            { series: 'webencode_workers_healthy{instance="k1"}', values: "2x30" },
            { series: 'webencode_jobs_total{instance="k1",status="queued"}', values: "3x30" },
            { series: 'webencode_queue_oldest_age_seconds{instance="k1",pool="cpu"}', values: "20x30" },
            { series: 'webencode_errors_total{instance="k1",source="http",code="WE-SYS-001"}', values: "0+1x30" },
            { series: 'webencode_db_server_connections{instance="k1"}', values: "30x30" },
            { series: 'webencode_db_max_connections{instance="k1"}', values: "100x30" },
            { series: 'webencode_db_probe_duration_seconds{instance="k1"}', values: "0.002x30" },
            { series: 'webencode_task_lease_expiries_total{instance="k1",pool="cpu"}', values: "0x30" },
            { series: 'webencode_task_redeliveries_total{instance="k1",pool="cpu"}', values: "0x30" },
            { series: 'webencode_plugin_state{instance="k1",plugin="storage-fs",state="failed"}', values: "0x30" },
            { series: 'webencode_plugin_state{instance="k1",plugin="storage-fs",state="degraded"}', values: "0x30" },
            { series: 'webencode_webhooks_muted{instance="k1"}', values: "0x30" },
            { series: 'webencode_webhook_deliveries_total{instance="k1",result="failure"}', values: "0+1x30" },
            { series: 'webencode_webhook_deliveries_total{instance="k1",result="success"}', values: "0+50x30" },
          ],
          alert_rule_test: rules().map((r) => quiet(r.alert, "30m")),
        },
      ],
    };
    const testFile = join(scratch, "alerts-test.json");
    writeFileSync(testFile, JSON.stringify(tests));
    const r = Bun.spawnSync(["promtool", "test", "rules", testFile], { stdout: "pipe", stderr: "pipe" });
    const out = r.stdout.toString() + r.stderr.toString();
    if (r.exitCode !== 0) throw new Error(`promtool test rules failed:\n${out}`);
    expect(out).toContain("SUCCESS");
  });
});
