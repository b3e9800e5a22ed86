/**
 * The first run, exactly as a new user makes it (issue 11): the COMPILED kernel started the way the README's
 * `npm start` starts it — working directory = the clone, no DATA_DIR (so the default `./data`, relative), no
 * credentials given — and the way the systemd unit starts it — the environment file scripts/install.sh
 * writes (absolute DATA_DIR, as /var/lib/webencode), working directory `/`. Each completes a real MP4 + HLS
 * job through the public API: upload (POST /v1/files with the admin key the kernel saved on first start),
 * submit, wait, download and check the outputs with the system's ffprobe.
 *
 * Before the fix, every quick-start job failed at packaging: the relative work directory ended up in FFmpeg's
 * concat list, which FFmpeg reads relative to the list's own folder.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDotEnv } from "../../src/core/config.ts";
import { checkHls, checkMp4, makeClip, type SourceFacts, sourceFacts } from "../helpers/media.ts";
import { binary, DIST, freePort, killAllProcs, type Proc, ROOT, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-quickstart-"));
let clip = "";
let facts: SourceFacts;

beforeAll(async () => {
  clip = await makeClip(join(scratch, "clips"), "first", { width: 640, height: 360, rate: "25", duration_s: 4, audio: true, gop: 25 });
  facts = await sourceFacts(clip);
});

afterAll(async () => {
  await killAllProcs();
  rmSync(scratch, { recursive: true, force: true });
});

interface Started {
  proc: Proc;
  base: string;
  key: string;
}

/** Starts the compiled kernel with exactly `env` (plus PATH and HOME) in `cwd`; reads the admin key it saved. */
async function startKernel(cwd: string, env: Record<string, string>, dataDir: string): Promise<Started> {
  const proc = spawnProc([binary("webencode-kernel")], { cwd, env });
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

interface Output {
  kind: string;
  url: string | null;
}

/** Upload → submit → wait → the outputs; everything through the HTTP API with the saved admin key. */
async function firstJob(k: Started): Promise<{ job: { id: string; status: string; error: unknown }; outputs: Output[] }> {
  const auth = { authorization: `Bearer ${k.key}` };
  const form = new FormData();
  form.append("file", Bun.file(clip), "first.mp4");
  const up = await fetch(`${k.base}/v1/files`, { method: "POST", headers: auth, body: form });
  const upBody = (await up.json()) as { source_url: string };
  expect(up.status).toBe(201);
  const sub = await fetch(`${k.base}/v1/jobs`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ source_url: upBody.source_url, profiles: ["360p_h264"], outputs: ["mp4", "hls"] }),
  });
  const created = (await sub.json()) as { id: string };
  expect(sub.status).toBe(201);
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
  const outputs = ((await (await fetch(`${k.base}/v1/jobs/${created.id}/outputs`, { headers: auth })).json()) as { items: Output[] }).items;
  return { job, outputs };
}

async function expectPlayableOutputs(outputs: Output[]): Promise<void> {
  const mp4 = outputs.find((o) => o.kind === "mp4");
  const hls = outputs.find((o) => o.kind === "hls");
  expect(mp4?.url).toBeString();
  expect(hls?.url).toBeString();
  expect((await checkMp4(mp4!.url!, facts)).problems).toEqual([]);
  expect((await checkHls(hls!.url!, facts, { expectVariants: 1 })).problems).toEqual([]);
}

describe("first run", () => {
  test("`npm start` layout: cwd = the clone, no DATA_DIR (./data), default settings → an MP4 + HLS job completes", async () => {
    const clone = join(scratch, "clone");
    mkdirSync(clone);
    const port = await freePort();
    // What scripts/start.sh does after building: `exec ./dist/webencode-kernel` from the clone, nothing set.
    const k = await startKernel(clone, { PORT: String(port) }, join(clone, "data"));
    const { job, outputs } = await firstJob(k);
    expect({ status: job.status, error: job.error }).toEqual({ status: "completed", error: null });
    await expectPlayableOutputs(outputs);
    // Everything landed under the clone's ./data, as the README says.
    expect(existsSync(join(clone, "data", "storage", "jobs", job.id))).toBe(true);
    expect(k.proc.stderr).not.toContain("No such file or directory");
    expect((await k.proc.stop()).code).toBe(0);
  }, 600_000);

  test("systemd layout: install.sh's kernel.env (absolute DATA_DIR), cwd `/` → an MP4 + HLS job completes", async () => {
    const dest = join(scratch, "install");
    const r = Bun.spawnSync(["bash", "scripts/install.sh", "--from", DIST, "--destdir", dest, "--kernel"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    // The environment file as systemd's EnvironmentFile= reads it, with /var/lib/webencode moved into the scratch dir.
    const varLib = join(scratch, "var-lib-webencode");
    mkdirSync(varLib);
    const env = parseDotEnv(readFileSync(join(dest, "etc/webencode/kernel.env"), "utf8"));
    for (const [name, value] of Object.entries(env)) env[name] = value.replaceAll("/var/lib/webencode", varLib);
    expect(env.DATA_DIR).toBe(varLib);
    env.PORT = String(await freePort());
    const k = await startKernel("/", env, varLib);
    const { job, outputs } = await firstJob(k);
    expect({ status: job.status, error: job.error }).toEqual({ status: "completed", error: null });
    await expectPlayableOutputs(outputs);
    expect(existsSync(join(varLib, "storage", "jobs", job.id))).toBe(true);
    expect((await k.proc.stop()).code).toBe(0);
  }, 600_000);
});
