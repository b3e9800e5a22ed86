/**
 * Driver failures read from FFmpeg's stderr (media/hardware: each accelerator's signatures) and what the worker
 * makes of them (worker/failures.ts): never the input's fault, a session limit apart from a device fault.
 */
import { describe, expect, test } from "bun:test";
import { acceleratorsOfArgv, deviceOfArgv, driverFailure, isDeviceFault } from "../../src/media/hardware/index.ts";
import { TaskFailure } from "../../src/worker/failures.ts";

const GENERIC = "Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0 - maybe incorrect parameters such as bit_rate, rate, width or height";
const nvencArgv = ["-hwaccel", "cuda", "-hwaccel_output_format", "cuda", "-hwaccel_device", "1", "-seek_timestamp", "1", "-ss", "0", "-i", "/src/in.mp4", "-c:v", "h264_nvenc", "-gpu", "1", "/w/r0.mp4"];
const run = (stderr: string, argv = nvencArgv) => ({ ok: false, exit_code: 1, signal: null, argv, stderr_tail: stderr, elapsed_ms: 10, cancelled: false, timed_out: false });

describe("driver signatures", () => {
  test.each([
    ["[h264_nvenc @ 0x55d0] OpenEncodeSessionEx failed: incompatible client key (21): (no details)", "nvenc", "session-limit"],
    ["[hevc_nvenc @ 0x55d0] OpenEncodeSessionEx failed: out of memory (10): (no details)", "nvenc", "session-limit"],
    ["[h264_nvenc @ 0x55d0] cuMemAlloc failed -> CUDA_ERROR_OUT_OF_MEMORY: out of memory", "nvenc", "out-of-memory"],
    ["[h264_nvenc @ 0x55d0] No NVENC capable devices found", "nvenc", "no-device"],
    ["[h264_nvenc @ 0x55d0] cuCtxSynchronize failed -> CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure", "nvenc", "device-lost"],
    ["[h264_nvenc @ 0x55d0] Provided device doesn't support required NVENC features", "nvenc", "unsupported-input"],
    ["[h264_qsv @ 0x55d0] Error initializing an internal MFX session: unsupported (-3)", "qsv", "no-device"],
    ["[AVHWDeviceContext @ 0x55d0] Failed to initialise VAAPI connection: -1 (unknown libva error).", "vaapi", "no-device"],
    ["[hevc_vaapi @ 0x55d0] No usable encoding profile found.", "vaapi", "unsupported-input"],
  ])("%s", (line, accelerator, kind) => {
    const found = driverFailure(`${line}\n${GENERIC}`);
    expect(found).toEqual({ accelerator: accelerator as never, kind: kind as never, message: line.replace(/^\[[^\]]*\] /, "") });
  });

  test("a device fault counts against the device; a session limit or an input it cannot take does not", () => {
    expect(["session-limit", "out-of-memory", "device-lost", "no-device", "unsupported-input"].map((k) => isDeviceFault(k as never))).toEqual([false, true, true, true, false]);
  });

  test("the accelerators and the device of an argv", () => {
    expect(acceleratorsOfArgv(nvencArgv).map((a) => a.id)).toEqual(["nvenc"]);
    expect(acceleratorsOfArgv(["-i", "x", "-c:v", "libx264", "y"])).toEqual([]);
    expect([deviceOfArgv(nvencArgv), deviceOfArgv(["-init_hw_device", "vaapi=va:/dev/dri/renderD129", "-c:v", "h264_vaapi"]), deviceOfArgv(["-c:v", "libx264"])]).toEqual(["GPU 1", "/dev/dri/renderD129", undefined]);
  });
});

describe("worker classification of a failed hardware run", () => {
  test("out of memory: WE-ENC-001, retryable, never the source's fault", () => {
    const e = TaskFailure.fromTranscode("chunk 3", run(`[h264_nvenc @ 0x55d0] cuMemAlloc failed -> CUDA_ERROR_OUT_OF_MEMORY: out of memory\n${GENERIC}`)).error;
    expect([e.class, e.code, e.message]).toEqual(["retryable", "WE-ENC-001", "chunk 3: nvenc out-of-memory: cuMemAlloc failed -> CUDA_ERROR_OUT_OF_MEMORY: out of memory"]);
  });

  test("session limit: WE-ENC-002", () => {
    expect(TaskFailure.fromTranscode("chunk 0", run("[h264_nvenc @ 0x55d0] OpenEncodeSessionEx failed: incompatible client key (21): (no details)")).error.code).toBe("WE-ENC-002");
  });

  test("'Invalid argument' about the source in a GPU run is the driver's (unsupported-input), not a bad source", () => {
    const e = TaskFailure.fromTranscode("chunk 0", run("[AVHWDeviceContext @ 0x55d0] cu->cuInit(0) failed\n/src/in.mp4: Invalid argument")).error;
    expect([e.class, e.code]).toEqual(["retryable", "WE-ENC-001"]);
    // The same line in a CPU run still blames the source.
    const cpu = TaskFailure.fromTranscode("chunk 0", run("/src/in.mp4: Invalid argument", ["-i", "/src/in.mp4", "-c:v", "libx264", "/w/r0.mp4"])).error;
    expect([cpu.class, cpu.code]).toEqual(["permanent", "WE-JOB-007"]);
  });

  test("a corrupt source in a GPU run is still the source's fault", () => {
    const e = TaskFailure.fromTranscode("chunk 0", run("/src/in.mp4: Invalid data found when processing input")).error;
    expect([e.class, e.code]).toEqual(["permanent", "WE-JOB-007"]);
  });
});
