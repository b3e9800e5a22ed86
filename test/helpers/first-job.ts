/**
 * A compiled kernel started the way a new user starts one (standalone: embedded database, bus and worker;
 * no credentials given) and its first job through the public API with the admin key it saved on first
 * start: upload (POST /v1/files), submit, wait, list the outputs. Shared by the first-run tests
 * (test/e2e/quickstart.test.ts) and the release test (test/e2e/release.test.ts, the kernel of an unpacked
 * archive).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Proc, spawnProc } from "./proc.ts";
import { waitFor } from "./wait.ts";

export interface StartedKernel {
  proc: Proc;
  base: string;
  key: string;
}

/**
 * Starts `kernelPath` with exactly `env` (plus PATH and HOME; env.PORT required) in `cwd`, waits for health
 * and a healthy embedded worker, and reads the admin key saved under `dataDir`.
 */
export async function startStandaloneKernel(kernelPath: string, cwd: string, env: Record<string, string>, dataDir: string): Promise<StartedKernel> {
  const proc = spawnProc([kernelPath], { cwd, env });
  const base = `http://127.0.0.1:${env.PORT}`;
  await proc.waitForHttp200(`${base}/v1/health`, 120_000);
  const keyFile = join(dataDir, "admin-api-key");
  await waitFor(() => existsSync(keyFile), 30_000, `${keyFile} to be written`);
  const key = readFileSync(keyFile, "utf8").trim();
  const auth = { headers: { authorization: `Bearer ${key}` } };
  await waitFor(
    async () => {
      const r = await fetch(`${base}/v1/workers/embedded`, auth);
      return r.status === 200 && ((await r.json()) as { status: string }).status === "healthy";
    },
    60_000,
    "the embedded worker to be healthy",
    200,
  );
  return { proc, base, key };
}

export interface JobOutput {
  kind: string;
  url: string | null;
}

export interface FirstJobResult {
  job: { id: string; status: string; error: unknown };
  outputs: JobOutput[];
  /** The HTTP statuses of the upload and the submission (201 each when all went well). */
  uploadStatus: number;
  submitStatus: number;
}

/** Upload `clip` → submit one 360p H.264 rendition as MP4 + HLS → wait for the end → the outputs. */
export async function runFirstJob(k: StartedKernel, clip: string): Promise<FirstJobResult> {
  const auth = { authorization: `Bearer ${k.key}` };
  const form = new FormData();
  form.append("file", Bun.file(clip), "first.mp4");
  const up = await fetch(`${k.base}/v1/files`, { method: "POST", headers: auth, body: form });
  const upBody = (await up.json()) as { source_url: string };
  if (up.status !== 201) return { job: { id: "", status: "not submitted", error: upBody }, outputs: [], uploadStatus: up.status, submitStatus: 0 };
  const sub = await fetch(`${k.base}/v1/jobs`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ source_url: upBody.source_url, profiles: ["360p_h264"], outputs: ["mp4", "hls"] }),
  });
  const created = (await sub.json()) as { id: string };
  if (sub.status !== 201) return { job: { id: "", status: "not submitted", error: created }, outputs: [], uploadStatus: up.status, submitStatus: sub.status };
  let job = { id: created.id, status: "queued", error: null as unknown };
  await waitFor(
    async () => {
      job = (await (await fetch(`${k.base}/v1/jobs/${created.id}`, { headers: auth })).json()) as typeof job;
      return ["completed", "failed", "cancelled"].includes(job.status);
    },
    300_000,
    `job ${created.id} to end`,
    250,
  );
  const outputs = ((await (await fetch(`${k.base}/v1/jobs/${created.id}/outputs`, { headers: auth })).json()) as { items: JobOutput[] }).items;
  return { job, outputs, uploadStatus: up.status, submitStatus: sub.status };
}
