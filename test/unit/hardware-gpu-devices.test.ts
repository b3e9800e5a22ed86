/**
 * A GPU worker's devices (worker/gpu-health.ts): sessions per device, several GPUs, the memory check from
 * nvidia-smi, degradation after driver faults and recovery by a passing test encode; and the nvidia-smi parser.
 */
import { describe, expect, test } from "bun:test";
import { createLogger } from "../../src/core/logger.ts";
import type { WorkerCapabilities } from "../../src/media/capabilities.ts";
import { parseNvidiaSmi } from "../../src/media/hardware/index.ts";
import { GpuDevices } from "../../src/worker/gpu-health.ts";

const caps: WorkerCapabilities = {
  ffmpeg: { path: "/usr/bin/ffmpeg", version: "5.1" },
  ffprobe: { path: "/usr/bin/ffprobe", version: "5.1" },
  encoders: ["libx264", "aac", "h264_nvenc", "hevc_nvenc"],
  decoders: [],
  hwaccels: ["cuda"],
  hardware: [
    { family: "nvidia", encoders: ["h264_nvenc"], failed: [{ encoder: "hevc_nvenc", reason: "x" }] },
    { family: "qsv", encoders: [], failed: [] },
    { family: "vaapi", encoders: [], failed: [] },
  ],
  pools: ["cpu", "nvenc:h264"],
  detectedAt: "2026-01-01T00:00:00.000Z",
};
const logger = createLogger("test", "silent");
const settings = { gpuDevices: [0, 1], sessionsPerDevice: 2, degradeAfter: 2, retestIntervalMs: 60_000, minFreeMemoryBytes: 1024 * 1024 * 1024 };

describe("nvidia-smi", () => {
  test("one sample per GPU; unsupported fields read as 0", () => {
    expect(parseNvidiaSmi("0, 37, 1200, 24576, 2\n1, [N/A], 100, 16384, [Not Supported]\n")).toEqual([
      { index: 0, utilization: 0.37, memoryUsedBytes: 1200 * 1048576, memoryTotalBytes: 24576 * 1048576, encoderSessions: 2 },
      { index: 1, utilization: 0, memoryUsedBytes: 100 * 1048576, memoryTotalBytes: 16384 * 1048576, encoderSessions: 0 },
    ]);
  });
});

describe("GPU devices", () => {
  test("sessions per device across several GPUs, least busy first; none left: no session", () => {
    const gpu = new GpuDevices(caps, settings, async () => undefined, logger);
    expect(gpu.sessionCapacity).toBe(4);
    const taken = [1, 2, 3, 4].map(() => gpu.acquire("nvenc:h264")?.name);
    expect(taken).toEqual(["GPU 0", "GPU 1", "GPU 0", "GPU 1"]);
    expect(gpu.acquire("nvenc:h264")).toBeUndefined();
    expect(gpu.acquire("nvenc:hevc")).toBeUndefined();
  });

  test("a GPU short of free memory (nvidia-smi) takes no task", () => {
    const gpu = new GpuDevices(caps, settings, async () => undefined, logger);
    gpu.sampled(parseNvidiaSmi("0, 90, 24000, 24576, 3\n1, 10, 1000, 24576, 0\n"));
    expect([gpu.acquire("nvenc:h264")?.name, gpu.acquire("nvenc:h264")?.name, gpu.acquire("nvenc:h264")]).toEqual(["GPU 1", "GPU 1", undefined]);
  });

  test("degraded after consecutive device faults, pools withheld when every GPU is degraded, recovered by a passing test encode", async () => {
    let passes = false;
    const argvs: string[][] = [];
    const gpu = new GpuDevices(caps, settings, async (argv) => (argvs.push(argv), passes ? undefined : "No NVENC capable devices found"), logger);
    let changes = 0;
    gpu.onChange(() => changes++);
    gpu.failed("GPU 0", "device-lost: CUDA_ERROR_LAUNCH_FAILED");
    gpu.succeeded("GPU 0"); // a success ends the streak
    gpu.failed("GPU 0", "device-lost: CUDA_ERROR_LAUNCH_FAILED");
    expect(gpu.report()[0]?.degraded).toBeNull();
    gpu.failed("GPU 0", "device-lost: CUDA_ERROR_LAUNCH_FAILED");
    expect(gpu.report()[0]?.degraded?.reason).toBe("device-lost: CUDA_ERROR_LAUNCH_FAILED");
    expect(gpu.pools()).toEqual(["cpu", "nvenc:h264"]); // GPU 1 still serves
    expect(gpu.acquire("nvenc:h264")?.name).toBe("GPU 1");
    gpu.failed("GPU 1", "out-of-memory: CUDA_ERROR_OUT_OF_MEMORY");
    gpu.failed("GPU 1", "out-of-memory: CUDA_ERROR_OUT_OF_MEMORY");
    expect(gpu.pools()).toEqual(["cpu"]);
    expect(changes).toBe(2);
    await gpu.retest();
    expect(gpu.pools()).toEqual(["cpu"]);
    passes = true;
    await gpu.retest();
    expect(gpu.pools()).toEqual(["cpu", "nvenc:h264"]);
    expect(gpu.report().map((d) => d.degraded)).toEqual([null, null]);
    // The retest is the pipeline's test encode on that very GPU.
    expect(argvs.at(-1)).toEqual(expect.arrayContaining(["-c:v", "h264_nvenc", "-gpu", "1"]));
    gpu.stop();
  });

  test("pools the worker adds beside its encoders (live) stay while the GPUs are degraded", () => {
    const gpu = new GpuDevices({ ...caps, pools: ["cpu", "nvenc:h264", "live"] }, { ...settings, gpuDevices: [], degradeAfter: 1 }, async () => undefined, logger);
    gpu.failed("GPU 0", "no-device: No NVENC capable devices found");
    expect(gpu.pools()).toEqual(["cpu", "live"]);
    gpu.stop();
  });
});
