/**
 * The worker's capability cache (issue 20, src/worker/capability-cache.ts): real workers booted against a
 * real kernel, their FFmpeg a wrapper script that records every invocation before running the real FFmpeg,
 * so whether discovery ran is read from what FFmpeg was asked to do.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../src/core/logger.ts";
import type { WorkerCapabilities } from "../../src/media/capabilities.ts";
import { bootWorker } from "../../src/worker/bootstrap.ts";
import { capabilityCacheKey, capabilityCachePath, readCapabilityCache, writeCapabilityCache } from "../../src/worker/capability-cache.ts";
import { loadWorkerConfig } from "../../src/worker/config.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

const REAL_FFMPEG = Bun.which("ffmpeg") ?? "/usr/bin/ffmpeg";
const FAKE_NVIDIA = join(import.meta.dir, "../fixtures/fake-ffmpeg/ffmpeg");
const scratch = mkdtempSync(join(tmpdir(), "webencode-capcache-"));
const calls = join(scratch, "ffmpeg-calls.log");
const wrapper = join(scratch, "bin", "ffmpeg");
let k: TestKernel;

/** An FFMPEG_PATH that appends its arguments to `calls` and runs the real FFmpeg; `revision` changes its size. */
function writeWrapper(revision: number): void {
  mkdirSync(join(scratch, "bin"), { recursive: true });
  writeFileSync(wrapper, ["#!/bin/sh", `# capability-cache test wrapper, revision ${revision}${" ".repeat(revision)}`, `echo "$*" >> ${calls}`, `exec ${REAL_FFMPEG} "$@"`, ""].join("\n"));
  chmodSync(wrapper, 0o755);
}
const encoderListings = () => (existsSync(calls) ? readFileSync(calls, "utf8").split("\n").filter((l) => l.includes("-encoders")).length : 0);

async function bootAndStop(id: string, ffmpeg: string): Promise<string[]> {
  const config = loadWorkerConfig({ WORKER_ID: id, WORK_DIR: join(scratch, "work"), PLUGIN_DIR: join(scratch, "no-plugins"), FFMPEG_PATH: ffmpeg, WORKER_METRICS_PORT: "0" });
  const worker = await bootWorker({ config, logger: createLogger("worker", "silent"), bus: k.handle.ctx.bus, hostEnv: { ...process.env, FFMPEG_PATH: ffmpeg } });
  const pools = worker.runtime.pools;
  await worker.stop();
  return pools;
}

beforeAll(async () => {
  writeWrapper(1);
  k = await startTestKernel({ env: { EMBEDDED_WORKER: "false" } });
}, 120_000);

afterAll(async () => {
  await k?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

describe("worker capability cache", () => {
  test("a restart with the same FFmpeg registers from the cache; a changed binary or a corrupt cache discovers again", async () => {
    const cacheFile = capabilityCachePath(join(scratch, "work"));
    const first = await bootAndStop("cache-w1", wrapper);
    expect(encoderListings()).toBe(1);
    expect(existsSync(cacheFile)).toBe(true);
    expect(first).toContain("cpu");

    // Hit: no FFmpeg discovery at all, the same pools offered.
    const second = await bootAndStop("cache-w1", wrapper);
    expect(encoderListings()).toBe(1);
    expect(second).toEqual(first);

    // Miss: the binary changed (size and mtime), so discovery runs and the cache is rewritten.
    writeWrapper(2);
    await bootAndStop("cache-w1", wrapper);
    expect(encoderListings()).toBe(2);
    await bootAndStop("cache-w1", wrapper);
    expect(encoderListings()).toBe(2);

    // Corrupt: ignored, discovery runs, a valid file replaces it.
    writeFileSync(cacheFile, "{ not json");
    expect(await bootAndStop("cache-w1", wrapper)).toEqual(first);
    expect(encoderListings()).toBe(3);
    expect(() => JSON.parse(readFileSync(cacheFile, "utf8"))).not.toThrow();
  }, 120_000);

  test("a proven hardware encoder is never cached: a GPU worker re-proves it at every start", async () => {
    const dir = join(scratch, "fake-nvidia");
    mkdirSync(dir, { recursive: true });
    copyFileSync(FAKE_NVIDIA, join(dir, "ffmpeg"));
    chmodSync(join(dir, "ffmpeg"), 0o755);
    writeFileSync(join(dir, "proven"), "h264_nvenc\n");
    const config = loadWorkerConfig({ WORKER_ID: "cache-gpu", WORK_DIR: join(scratch, "work-gpu"), PLUGIN_DIR: join(scratch, "no-plugins"), FFMPEG_PATH: join(dir, "ffmpeg"), WORKER_METRICS_PORT: "0" });
    const worker = await bootWorker({ config, logger: createLogger("worker", "silent"), bus: k.handle.ctx.bus, hostEnv: { ...process.env, FFMPEG_PATH: join(dir, "ffmpeg") } });
    expect(worker.runtime.pools.some((p) => p.startsWith("nvenc"))).toBe(true);
    await worker.stop();
    expect(existsSync(capabilityCachePath(config.WORK_DIR))).toBe(false);
  }, 120_000);

  test("the cache module: a hardware result is neither written nor read; a wrong shape or key is a miss", async () => {
    const file = join(scratch, "module", "caps.json");
    const key = await capabilityCacheKey({ workerVersion: "t", ffmpegPath: wrapper, ffprobePath: "ffprobe", deviceDirs: [] });
    const cpu: WorkerCapabilities = {
      ffmpeg: { path: wrapper, version: "7" },
      ffprobe: { path: "/usr/bin/ffprobe", version: "7" },
      encoders: ["libx264"],
      decoders: ["h264"],
      hwaccels: [],
      hardware: [{ family: "nvidia", encoders: [], failed: [{ encoder: "h264_nvenc", reason: "no device" }] }],
      pools: ["cpu"],
      detectedAt: new Date().toISOString(),
    };
    expect(await writeCapabilityCache(file, key, cpu)).toBe(true);
    expect(await readCapabilityCache(file, key)).toEqual({ hit: true, capabilities: cpu });
    expect((await readCapabilityCache(file, "other")).hit).toBe(false);

    const gpu = { ...cpu, hardware: [{ family: "nvidia" as const, encoders: ["h264_nvenc"], failed: [] }] };
    expect(await writeCapabilityCache(file, key, gpu)).toBe(false);
    writeFileSync(file, JSON.stringify({ format: 1, key, capabilities: gpu }));
    expect((await readCapabilityCache(file, key)).hit).toBe(false);
    writeFileSync(file, JSON.stringify({ format: 1, key, capabilities: { pools: "cpu" } }));
    expect((await readCapabilityCache(file, key)).hit).toBe(false);

    // A GPU device node appearing changes the key, so a CPU-only answer is not reused after a GPU is added.
    const devices = join(scratch, "dev");
    mkdirSync(devices, { recursive: true });
    const before = await capabilityCacheKey({ workerVersion: "t", ffmpegPath: wrapper, ffprobePath: "ffprobe", deviceDirs: [{ dir: devices, prefix: "nvidia" }] });
    writeFileSync(join(devices, "nvidia0"), "");
    const after = await capabilityCacheKey({ workerVersion: "t", ffmpegPath: wrapper, ffprobePath: "ffprobe", deviceDirs: [{ dir: devices, prefix: "nvidia" }] });
    expect(after).not.toBe(before);
  });
});
