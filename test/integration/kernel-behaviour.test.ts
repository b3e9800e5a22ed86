/**
 * Kernel behaviour that needs a running kernel but no media: plugins.toml seeding, plugin metrics, and the
 * runbook's "Job Stuck in Pending" answered on the job itself when no worker can take it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

let k: TestKernel;
const pluginDir = mkdtempSync(join(tmpdir(), "we-plugins-toml-"));

beforeAll(async () => {
  mkdirSync(pluginDir, { recursive: true });
  writeFileSync(
    join(pluginDir, "plugins.toml"),
    ['[storage-s3]', "enabled = false", "priority = 42", "[storage-s3.config]", 'bucket = "seeded-bucket"', 'region = "eu-central-1"', ""].join("\n"),
  );
  k = await startTestKernel({ env: { PLUGIN_DIR: pluginDir, EMBEDDED_WORKER: "false" } });
}, 60_000);
afterAll(async () => {
  await k?.stop();
  rmSync(pluginDir, { recursive: true, force: true });
});

describe("kernel behaviour", () => {
  test("plugins.toml in PLUGIN_DIR seeds plugin_configs", async () => {
    const s3 = (await (await k.fetch("/v1/plugins/storage-s3")).json()) as Record<string, any>;
    expect(s3.config).toMatchObject({ bucket: "seeded-bucket", region: "eu-central-1" });
    expect(s3.priority).toBe(42);
    expect(s3.state).toBe("disabled");
  });

  test("plugin RPC and state metrics are exported", async () => {
    await k.fetch("/v1/files?filename=m.bin", { method: "POST", body: new Uint8Array(10) });
    const text = await (await k.fetch("/metrics")).text();
    expect(text).toMatch(/webencode_plugin_rpc_duration_seconds_count\{[^}]*plugin="storage-fs"[^}]*method="put_file"[^}]*\} 1/);
    expect(text).toMatch(/webencode_plugin_state\{[^}]*plugin="storage-fs"[^}]*state="healthy"[^}]*\} 1/);
  });

  test("a job no healthy worker can serve stays queued and says why", async () => {
    const form = new FormData();
    form.append("file", new Blob(["not a video"]), "none.mp4"); // a source_url key must exist (checked at submit)
    const { key } = (await (await k.fetch("/v1/files", { method: "POST", body: form })).json()) as { key: string };
    const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: key, profiles: ["360p_h264"] }) });
    expect(r.status).toBe(201);
    const { id } = (await r.json()) as { id: string };
    let job: Record<string, any> = {};
    await waitFor(async () => {
      job = (await (await k.fetch(`/v1/jobs/${id}`)).json()) as Record<string, any>;
      return job.status_reason !== null;
    }, 15_000, "status_reason on a job with no workers");
    expect(job.status).toBe("queued");
    expect(job.status_reason).toContain("no healthy workers");
    const health = (await (await k.fetch("/v1/system/health")).json()) as Record<string, any>;
    expect(health.checks.workers.status).toBe("warn");
  });
});
