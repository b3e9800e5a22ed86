/**
 * Hot reload end to end (issue 21): the compiled standalone kernel runs storage-fs from PLUGIN_DIR; while a
 * split job runs, the binary is replaced by a new version. The kernel's and the embedded worker's plugin
 * hosts both switch to it without a restart, and the job completes with correct outputs.
 */
import { expect, test } from "bun:test";
import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { useCompiledBinaries } from "../helpers/e2e-setup.ts";
import { startStandaloneKernel } from "../helpers/first-job.ts";
import { makeClip, probe } from "../helpers/media.ts";
import { freePort } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const e2e = useCompiledBinaries("webencode-hot-reload");
const FIXTURE = resolve(import.meta.dir, "../fixtures/plugins/storage-fs-version.ts");

/** Installs (or replaces, by rename: a new inode, never half-written) the storage-fs "binary" of `version`. */
function installStorageFs(pluginDir: string, version: string): void {
  const temporary = join(pluginDir, ".storage-fs.new");
  writeFileSync(temporary, `#!/bin/sh\nexec "${process.execPath}" "${FIXTURE}" "${version}"\n`);
  chmodSync(temporary, 0o755);
  renameSync(temporary, join(pluginDir, "storage-fs"));
}

test("a plugin binary replaced during a job: kernel and worker switch to the new version, the job completes", async () => {
  const dir = e2e.dir("kernel");
  const dataDir = join(dir, "data");
  const pluginDir = join(dir, "plugins");
  mkdirSync(pluginDir, { recursive: true });
  installStorageFs(pluginDir, "1.0.0-old");
  const clip = await makeClip(dir, "source", { width: 640, height: 360, rate: "25", duration_s: 8, audio: true, gop: 25 });
  const port = await freePort();
  const kernel = await startStandaloneKernel(
    e2e.kernel,
    dir,
    {
      PORT: String(port),
      DATA_DIR: dataDir,
      PLUGIN_DIR: pluginDir,
      PLUGIN_WATCH_INTERVAL: "300ms",
      LOG_LEVEL: "info",
      SPLIT_MIN_DURATION: "2s",
      CHUNK_MIN_DURATION: "2s",
      CHUNK_MAX_DURATION: "2s",
    },
    dataDir,
  );
  const headers = { authorization: `Bearer ${kernel.key}` };
  const storageVersion = async () => ((await (await fetch(`${kernel.base}/v1/plugins/storage-fs`, { headers })).json()) as { version: string; source: string }).version;
  const workerStorageVersion = async () => {
    const worker = (await (await fetch(`${kernel.base}/v1/workers/embedded`, { headers })).json()) as { capabilities: { plugins?: Array<{ id: string; version: string }> } };
    return worker.capabilities.plugins?.find((p) => p.id === "storage-fs")?.version;
  };
  expect(await storageVersion()).toBe("1.0.0-old");

  const form = new FormData();
  form.append("file", Bun.file(clip), "source.mp4");
  const upload = (await (await fetch(`${kernel.base}/v1/files`, { method: "POST", headers, body: form })).json()) as { source_url: string };
  const submitted = await fetch(`${kernel.base}/v1/jobs`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify({ source_url: upload.source_url, profiles: ["360p_h264"], outputs: ["mp4", "hls"] }),
  });
  expect(submitted.status).toBe(201);
  const jobId = ((await submitted.json()) as { id: string }).id;
  type Job = { status: string; progress?: number; error?: unknown };
  const job = async () => (await (await fetch(`${kernel.base}/v1/jobs/${jobId}`, { headers })).json()) as Job;
  // Swap once the job is under way (its analyze task has gone through storage-fs already).
  await waitFor(async () => ["processing", "packaging"].includes((await job()).status), 120_000, "the job to be past its analysis", 100);
  installStorageFs(pluginDir, "1.1.0-new");
  await waitFor(async () => (await storageVersion()) === "1.1.0-new", 60_000, "the kernel to hot-reload storage-fs", 200);
  const statusAtSwap = (await job()).status;
  await waitFor(async () => (await workerStorageVersion()) === "1.1.0-new", 60_000, "the embedded worker to hot-reload storage-fs", 200);

  let final: Job = { status: "" };
  await waitFor(async () => ["completed", "failed", "cancelled"].includes((final = await job()).status), 300_000, "the job to end", 250);
  expect(statusAtSwap).not.toBe("completed");
  expect(final).toMatchObject({ status: "completed" });
  // Outputs are read back through the new version.
  const outputs = ((await (await fetch(`${kernel.base}/v1/jobs/${jobId}/outputs`, { headers })).json()) as { items: Array<{ kind: string; url: string | null }> }).items;
  const mp4 = outputs.find((o) => o.kind === "mp4" && o.url);
  expect(mp4).toBeDefined();
  const info = await probe(mp4!.url!);
  expect(info.video?.frames).toBe(200);
  expect(await storageVersion()).toBe("1.1.0-new");
  await kernel.proc.stop("SIGTERM", 15_000);
}, 420_000);
