/** Paths from configuration are absolute after loading (issue 11: `DATA_DIR=./data` reached FFmpeg relative). */
import { describe, expect, test } from "bun:test";
import { isAbsolute, resolve } from "node:path";
import { absolutePaths } from "../../src/core/config-paths.ts";
import { loadKernelConfig } from "../../src/kernel/config.ts";
import { loadWorkerConfig } from "../../src/worker/config.ts";

describe("configuration paths", () => {
  test("absolutePaths resolves relative values against the given directory and leaves the rest alone", () => {
    const out = absolutePaths({ A: "./data", B: "/abs/x", C: "plugins", D: undefined, N: 3 }, ["A", "B", "C", "D"], "/srv/clone");
    expect(out).toEqual({ A: "/srv/clone/data", B: "/abs/x", C: "/srv/clone/plugins", D: undefined, N: 3 });
  });

  test("the kernel's defaults (./data, ./plugins) and file paths come out absolute, from the working directory", () => {
    const c = loadKernelConfig({ TLS_CERT_FILE: "tls/cert.pem", TLS_KEY_FILE: "tls/key.pem", NATS_CA_FILE: "ca.pem" });
    expect(c.DATA_DIR).toBe(resolve(process.cwd(), "data"));
    expect(c.PLUGIN_DIR).toBe(resolve(process.cwd(), "plugins"));
    expect(c.TLS_CERT_FILE).toBe(resolve("tls/cert.pem"));
    expect(c.TLS_KEY_FILE).toBe(resolve("tls/key.pem"));
    expect(c.NATS_CA_FILE).toBe(resolve("ca.pem"));
    expect(loadKernelConfig({ DATA_DIR: "/var/lib/webencode" }).DATA_DIR).toBe("/var/lib/webencode");
  });

  test("the worker's WORK_DIR, PLUGIN_DIR and a FFMPEG_PATH with a slash come out absolute; a bare tool name stays a PATH lookup", () => {
    const c = loadWorkerConfig({ WORK_DIR: "./work", FFMPEG_PATH: "bin/ffmpeg" });
    expect(c.WORK_DIR).toBe(resolve("work"));
    expect(c.PLUGIN_DIR).toBe(resolve("plugins"));
    expect(c.FFMPEG_PATH).toBe(resolve("bin/ffmpeg"));
    expect(c.FFPROBE_PATH).toBe("ffprobe");
    expect(isAbsolute(loadWorkerConfig({ WORKER_ID: "w1" }).WORK_DIR)).toBe(true);
  });
});
