/**
 * GPU hosts without a GPU (issue 19): a real kernel (PostgreSQL, in-process bus) and real workers whose FFmpeg
 * is the fake driver in test/fixtures/fake-ffmpeg (given to the encoder plugin as FFMPEG_PATH). It proves
 * h264_nvenc, fails the way NVIDIA's driver does when told to, and otherwise runs the real FFmpeg with the
 * hardware parts mapped to software, so every output is a real file checked with ffprobe.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../src/core/logger.ts";
import { type BootedWorker, bootWorker } from "../../src/worker/bootstrap.ts";
import { loadWorkerConfig } from "../../src/worker/config.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { makeClip, probe } from "../helpers/media.ts";
import { waitFor } from "../helpers/wait.ts";

const FAKE = join(import.meta.dir, "../fixtures/fake-ffmpeg/ffmpeg");
const scratch = mkdtempSync(join(tmpdir(), "webencode-gpu-"));
let clip = "";
let k: TestKernel;
let source = "";

interface Attempt {
  attempt: number;
  outcome: string | null;
  error_code?: string | null;
  argv?: string[] | null;
}
interface Task {
  id: string;
  type: string;
  status: string;
  pool?: string;
  attempts: Attempt[];
}
interface Job {
  id: string;
  status: string;
  status_reason: string | null;
  error: { code: string; message: string } | null;
  tasks: Task[];
  timeline: Array<{ status: string; detail?: Record<string, unknown> }>;
}

/** A directory with its own copy of the fake driver and its state files. */
function fakeDriver(name: string, state: Record<string, string>): string {
  const dir = join(scratch, name);
  rmSync(dir, { recursive: true, force: true });
  Bun.spawnSync(["mkdir", "-p", dir]);
  copyFileSync(FAKE, join(dir, "ffmpeg"));
  Bun.spawnSync(["chmod", "+x", join(dir, "ffmpeg")]);
  for (const [file, text] of Object.entries(state)) writeFileSync(join(dir, file), text);
  return dir;
}

const workers: BootedWorker[] = [];
async function startWorker(id: string, driverDir: string, env: Record<string, string> = {}): Promise<BootedWorker> {
  const ffmpeg = join(driverDir, "ffmpeg");
  const config = loadWorkerConfig({
    WORKER_ID: id,
    WORKER_CONCURRENCY: "2",
    WORK_DIR: join(scratch, `work-${id}`),
    PLUGIN_DIR: join(scratch, "no-plugins"),
    FFMPEG_PATH: ffmpeg,
    WORKER_METRICS_PORT: "0",
    ...env,
  });
  const worker = await bootWorker({ config, logger: createLogger("worker", "silent"), bus: k.handle.ctx.bus, hostEnv: { ...process.env, FFMPEG_PATH: ffmpeg } });
  workers.push(worker);
  await waitFor(async () => (await workerView(id))?.status === "healthy", 30_000, `worker ${id} healthy`, 100);
  return worker;
}

async function stopWorker(worker: BootedWorker): Promise<void> {
  const id = worker.runtime.id;
  await worker.stop();
  workers.splice(workers.indexOf(worker), 1);
  await waitFor(async () => (await workerView(id))?.status === "offline", 30_000, `worker ${id} offline`, 100);
}

interface WorkerView {
  id: string;
  status: string;
  pools: string[];
  capabilities: { gpu?: { devices: Array<{ device: string; degraded: null | { reason: string } }> } };
}
async function workerView(id: string): Promise<WorkerView | undefined> {
  const r = await k.fetch(`/v1/workers/${id}`);
  return r.status === 200 ? ((await r.json()) as WorkerView) : undefined;
}

async function profile(id: string, codec: string, fallback: "cpu" | "fail"): Promise<void> {
  const r = await k.fetch("/v1/profiles", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id, name: id, container: "mp4", video: { codec, encoder: "nvenc", hardware_fallback: fallback, height: 240, rate_control: { mode: "crf", crf: 28 }, keyframe_interval_s: 1 }, audio: null }),
  });
  expect([200, 201, 409]).toContain(r.status);
}

async function submit(profileId: string): Promise<string> {
  const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: source, profiles: [profileId], outputs: ["mp4"] }) });
  expect(r.status).toBe(201);
  return ((await r.json()) as { id: string }).id;
}

const getJob = async (id: string) => (await (await k.fetch(`/v1/jobs/${id}`)).json()) as Job;
async function waitJob(id: string, done: (job: Job) => boolean, what: string): Promise<Job> {
  let job: Job | undefined;
  await waitFor(async () => done((job = await getJob(id))), 120_000, `${what} (last: ${job?.status} ${job?.status_reason ?? ""})`, 200);
  return job!;
}
const ended = (job: Job) => ["completed", "failed", "cancelled"].includes(job.status);

/** The argv each video task's last attempt ran (what produced the parts the job keeps). */
async function lastVideoArgv(id: string): Promise<string[][]> {
  const job = await getJob(id);
  return job.tasks.filter((t) => t.type === "video").map((t) => [...t.attempts].sort((a, b) => a.attempt - b.attempt).at(-1)?.argv ?? []);
}
const encoderOf = (argv: string[]) => argv[argv.indexOf("-c:v") + 1];

async function mp4Frames(id: string): Promise<number | undefined> {
  const items = ((await (await k.fetch(`/v1/jobs/${id}/outputs`)).json()) as { items: Array<{ kind: string; url: string }> }).items;
  const mp4 = items.find((o) => o.kind === "mp4");
  const info = await probe(new URL(new URL(mp4!.url).pathname, k.url).toString());
  expect(info.video?.codec).toBe("h264");
  return info.video?.frames;
}

beforeAll(async () => {
  clip = await makeClip(scratch, "clip", { width: 320, height: 240, rate: "25", duration_s: 2, audio: false, gop: 25 });
  // Chunks of one second: the 2 s clip is a chunked job (two chunks of one rendition).
  k = await startTestKernel({ env: { EMBEDDED_WORKER: "false", TASK_MAX_ATTEMPTS: "3", CHUNK_MIN_DURATION: "1s", CHUNK_MAX_DURATION: "1s", SPLIT_MIN_DURATION: "1s" } });
  const form = new FormData();
  form.append("file", Bun.file(clip), "clip.mp4");
  const r = await k.fetch("/v1/files", { method: "POST", body: form });
  expect(r.status).toBe(201);
  source = ((await r.json()) as { source_url: string }).source_url;
}, 120_000);

afterAll(async () => {
  for (const w of [...workers]) await w.stop().catch(() => {});
  await k?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe("GPU worker with the fake NVIDIA driver", () => {
  test("routing by proven encoder: h264_nvenc proven, hevc_nvenc not; the worker offers nvenc:h264 only", async () => {
    const w = await startWorker("gpu-route", fakeDriver("route", { proven: "h264_nvenc\n" }));
    try {
      expect((await workerView("gpu-route"))?.pools).toEqual(["cpu", "nvenc:h264"]);
      await profile("gpu_h264_cpu", "h264", "cpu");
      await profile("gpu_hevc_cpu", "hevc", "cpu");
      const h264 = await submit("gpu_h264_cpu");
      const hevc = await submit("gpu_hevc_cpu");
      const [a, b] = [await waitJob(h264, ended, "h264 job ends"), await waitJob(hevc, ended, "hevc job ends")];
      expect([a.status, b.status]).toEqual(["completed", "completed"]);
      // H.264 ran on NVENC (the hardware decode path, on GPU 0); HEVC, never proven on this GPU, on the CPU.
      const h264Argv = await lastVideoArgv(h264);
      expect(h264Argv.map(encoderOf)).toEqual(["h264_nvenc", "h264_nvenc"]);
      expect(h264Argv[0]).toEqual(expect.arrayContaining(["-hwaccel", "cuda", "-gpu", "0"]));
      expect((await lastVideoArgv(hevc)).map(encoderOf)).toEqual(["libx265", "libx265"]);
      expect(await mp4Frames(h264)).toBe(50);
    } finally {
      await stopWorker(w);
    }
  }, 120_000);

  test("hardware_fallback cpu: a driver failure re-encodes the whole rendition on the CPU, recorded in the timeline", async () => {
    // The first chunk succeeds on the GPU, the second fails with CUDA out of memory: both must end on the CPU.
    const dir = fakeDriver("fallback", { proven: "h264_nvenc\n", fail: "out-of-memory", "fail-unless": "-ss -0.001" });
    const w = await startWorker("gpu-01", dir, { WORKER_CONCURRENCY: "1", WORKER_GPU_DEGRADE_AFTER: "5" });
    try {
      await profile("gpu_h264_cpu", "h264", "cpu");
      const id = await submit("gpu_h264_cpu");
      const job = await waitJob(id, ended, "fallback job ends");
      expect(job.status).toBe("completed");
      expect((await lastVideoArgv(id)).map(encoderOf)).toEqual(["libx264", "libx264"]);
      const notes = job.timeline.map((e) => String(e.detail?.reason ?? ""));
      expect(notes).toContainEqual(expect.stringMatching(/^nvenc failed on gpu-01 \(GPU 0\): cuMemAlloc failed -> CUDA_ERROR_OUT_OF_MEMORY: out of memory; retried on CPU$/));
      // Never the same failing device twice: after the failure no video attempt ran NVENC again.
      const calls = readFileSync(join(dir, "calls"), "utf8").split("\n").filter((l) => l.includes("-seek_timestamp"));
      const firstFailure = calls.findIndex((l) => l.includes("h264_nvenc") && !l.includes("-ss -0.001"));
      expect(firstFailure).toBeGreaterThanOrEqual(0);
      expect(calls.slice(firstFailure + 1).filter((l) => l.includes("h264_nvenc"))).toEqual([]);
      expect(await mp4Frames(id)).toBe(50);
    } finally {
      await stopWorker(w);
    }
  }, 120_000);

  test("hardware_fallback fail: the job fails with WE-ENC-001 naming the worker, the device and the driver message", async () => {
    const w = await startWorker("gpu-02", fakeDriver("strict", { proven: "h264_nvenc\n", fail: "device-lost" }), { WORKER_GPU_DEGRADE_AFTER: "5" });
    try {
      await profile("gpu_h264_fail", "h264", "fail");
      const job = await waitJob(await submit("gpu_h264_fail"), ended, "strict job ends");
      expect(job.status).toBe("failed");
      expect(job.error?.code).toBe("WE-ENC-001");
      expect(job.error?.message).toMatch(/^nvenc failed on gpu-02 \(GPU 0\): cuCtxSynchronize failed -> CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure \(profile gpu_h264_fail: hardware_fallback is "fail"\)$/);
    } finally {
      await stopWorker(w);
    }
  }, 120_000);

  test("session limit: retried after a delay on the GPU (not failed, not fallen back); the waiting reason names the missing encoder", async () => {
    const dir = fakeDriver("session", { proven: "h264_nvenc\n", fail: "session-limit", "fail-count": "1" });
    const cpuOnly = await startWorker("cpu-only", fakeDriver("cpu-only", { proven: "" }));
    const w = await startWorker("gpu-03", dir, { WORKER_CONCURRENCY: "1" });
    try {
      await profile("gpu_h264_fail", "h264", "fail");
      const id = await submit("gpu_h264_fail");
      // The first attempt hits the session limit; the task waits for its retry.
      await waitJob(id, (j) => j.tasks.some((t) => t.attempts.some((a) => a.error_code === "WE-ENC-002")), "a session-limit failure");
      // With the GPU worker drained, the job says which encoder it waits for.
      expect((await k.fetch("/v1/workers/gpu-03/drain", { method: "POST" })).status).toBe(200);
      const waiting = await waitJob(id, (j) => (j.status_reason ?? "").includes("h264_nvenc"), "a waiting reason naming h264_nvenc");
      expect(waiting.status_reason).toMatch(/^waiting: no healthy worker has proven encoder h264_nvenc \(pool nvenc:h264; .*\(workers offer: cpu\)$/);
      expect((await k.fetch("/v1/workers/gpu-03/undrain", { method: "POST" })).status).toBe(200);
      const job = await waitJob(id, ended, "session-limit job ends");
      expect(job.status).toBe("completed");
      expect((await lastVideoArgv(id)).map(encoderOf)).toEqual(["h264_nvenc", "h264_nvenc"]);
      expect(job.timeline.map((e) => String(e.detail?.reason ?? ""))).toContainEqual(expect.stringContaining("session limit reached; retried after a delay"));
    } finally {
      await stopWorker(w);
      await stopWorker(cpuOnly);
    }
  }, 120_000);

  test("a device failing in the driver is marked degraded in GET /v1/workers, takes no GPU task, and recovers after a passing test encode", async () => {
    const dir = fakeDriver("degrade", { proven: "h264_nvenc\n", fail: "device-lost" });
    const w = await startWorker("gpu-04", dir, { WORKER_CONCURRENCY: "1", WORKER_GPU_DEGRADE_AFTER: "1", WORKER_GPU_RETEST_INTERVAL: "500ms" });
    try {
      await profile("gpu_h264_cpu", "h264", "cpu");
      // From now on the device also fails its test encode, as a lost GPU does.
      writeFileSync(join(dir, "probe-fail"), "");
      const job = await waitJob(await submit("gpu_h264_cpu"), ended, "job on a failing device ends");
      expect(job.status).toBe("completed");
      const degraded = await workerView("gpu-04");
      expect(degraded?.pools).toEqual(["cpu"]);
      expect(degraded?.capabilities.gpu?.devices).toEqual([expect.objectContaining({ device: "GPU 0", degraded: expect.objectContaining({ reason: expect.stringContaining("CUDA_ERROR_LAUNCH_FAILED") }) })]);
      // While degraded, a new job is planned on the CPU: no GPU task reaches the device.
      const second = await waitJob(await submit("gpu_h264_cpu"), ended, "job while degraded ends");
      expect((await lastVideoArgv(second.id)).map(encoderOf)).toEqual(["libx264", "libx264"]);
      // The driver recovers: the next test encode passes and the device takes GPU tasks again.
      unlinkSync(join(dir, "probe-fail"));
      unlinkSync(join(dir, "fail"));
      await waitFor(async () => (await workerView("gpu-04"))?.pools.includes("nvenc:h264") === true, 30_000, "gpu-04 offering nvenc:h264 again", 200);
      expect((await workerView("gpu-04"))?.capabilities.gpu?.devices[0]?.degraded).toBeNull();
      const third = await waitJob(await submit("gpu_h264_cpu"), ended, "job after recovery ends");
      expect((await lastVideoArgv(third.id)).map(encoderOf)).toEqual(["h264_nvenc", "h264_nvenc"]);
      expect(existsSync(join(dir, "calls"))).toBe(true);
    } finally {
      await stopWorker(w);
    }
  }, 120_000);
});
