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
import { type JobOutput, runFirstJob, type StartedKernel, startStandaloneKernel } from "../helpers/first-job.ts";
import { checkHls, checkMp4, makeClip, type SourceFacts, sourceFacts } from "../helpers/media.ts";
import { binary, DIST, freePort, killAllProcs, ROOT } from "../helpers/proc.ts";

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

/** Starts the compiled kernel with exactly `env` (plus PATH and HOME) in `cwd`; reads the admin key it saved. */
const startKernel = (cwd: string, env: Record<string, string>, dataDir: string): Promise<StartedKernel> =>
  startStandaloneKernel(binary("webencode-kernel"), cwd, env, dataDir);

/** Upload → submit → wait → the outputs; everything through the HTTP API with the saved admin key. */
async function firstJob(k: StartedKernel): Promise<{ job: { id: string; status: string; error: unknown }; outputs: JobOutput[] }> {
  const r = await runFirstJob(k, clip);
  expect({ upload: r.uploadStatus, submit: r.submitStatus }).toEqual({ upload: 201, submit: 201 });
  return r;
}

async function expectPlayableOutputs(outputs: JobOutput[]): Promise<void> {
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
