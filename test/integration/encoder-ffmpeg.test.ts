/**
 * encoder-ffmpeg in process: the encoder contract against `create()` on the real Debian FFmpeg, how the
 * plugin finds its binaries, and the process runner's kill and pipe edge cases.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import plugin from "../../plugins/encoder-ffmpeg/plugin.ts";
import { runProcess } from "../../src/media/run.ts";
import type { CallContext, EncoderPlugin, TranscodeProgress } from "../../src/plugin-runtime/pillars.ts";
import type { PluginLog } from "../../src/plugin-runtime/sdk.ts";
import { waitFor } from "../helpers/wait.ts";
import { type CallOptions, type EncoderClient, SLOW_MS, runEncoderContract } from "../contract/encoder.contract.ts";

const quiet: PluginLog = { debug() {}, info() {}, warn() {}, error() {} };

async function createEncoder(config: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<EncoderPlugin> {
  return plugin.create({ config: v.parse(plugin.config, config), env, log: quiet }) as Promise<EncoderPlugin> | EncoderPlugin;
}

/** The CallContext servePlugin would build, driven by the caller's options. */
function ctxOf(opts?: CallOptions): CallContext {
  return {
    signal: opts?.signal ?? new AbortController().signal,
    progress: (data) => opts?.onProgress?.(data as TranscodeProgress),
  };
}

function clientOf(impl: EncoderPlugin): EncoderClient {
  return {
    capabilities: () => impl.capabilities(),
    probe: (p, opts) => impl.probe(p, ctxOf(opts)),
    transcode: (p, opts) => impl.transcode(p, ctxOf(opts)),
    health: async () => (await impl.health?.()) ?? { status: "ok" },
  };
}

runEncoderContract("encoder-ffmpeg (in process)", async () => {
  const impl = await createEncoder();
  return { encoder: clientOf(impl), cleanup: async () => void (await impl.close?.()) };
});

describe("encoder-ffmpeg binary resolution", () => {
  test("FFMPEG_PATH is used when the config names no path", async () => {
    const impl = await createEncoder({}, { FFMPEG_PATH: "/usr/bin/ffmpeg" });
    const r = await impl.transcode({ args: ["-version"] }, ctxOf());
    expect(r.ok).toBe(true);
    expect(r.argv[0]).toBe("/usr/bin/ffmpeg");
    const caps = (await impl.capabilities()) as { ffmpeg: { path: string } };
    expect(caps.ffmpeg.path).toBe("/usr/bin/ffmpeg");
  }, SLOW_MS);

  test("the config wins over the variable; a missing binary is a failed run and a degraded health", async () => {
    const impl = await createEncoder({ ffmpeg_path: "/nonexistent/ffmpeg" }, { FFMPEG_PATH: "/usr/bin/ffmpeg" });
    const r = await impl.transcode({ args: ["-version"] }, ctxOf());
    expect(r).toMatchObject({ ok: false, exit_code: null, cancelled: false, timed_out: false });
    expect(r.argv[0]).toBe("/nonexistent/ffmpeg");
    expect(r.stderr_tail).toContain("cannot start FFmpeg");
    const health = await impl.health?.();
    expect(health?.status).toBe("degraded");
    expect(health?.detail).toContain("/nonexistent/ffmpeg");
  }, SLOW_MS);

  test("FFPROBE_PATH: a missing FFprobe is a retryable failure, not an input error", async () => {
    const impl = await createEncoder({}, { FFPROBE_PATH: "/nonexistent/ffprobe" });
    const err = await impl.probe({ input: "/dev/null" }, ctxOf()).catch((e: unknown) => e as { code: string; message: string });
    expect(err).toMatchObject({ code: "WE-JOB-008" });
    expect((err as { message: string }).message).toContain("/nonexistent/ffprobe");
  }, SLOW_MS);

  test("close() stops a running transcode", async () => {
    const impl = await createEncoder();
    let progressed = false;
    const pending = impl.transcode(
      { args: ["-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "600", "-f", "null", "-"] },
      { signal: new AbortController().signal, progress: () => void (progressed = true) },
    );
    await waitFor(() => progressed, 10_000, "the first progress event");
    await impl.close?.();
    expect(await pending).toMatchObject({ ok: false, cancelled: true });
  }, SLOW_MS);
});

describe("runProcess", () => {
  test("collects stdout without onStdout and keeps the stderr tail", async () => {
    const r = await runProcess(["sh", "-c", "echo out; echo err1 >&2; echo err2 >&2; exit 3"]);
    expect(r).toMatchObject({ exitCode: 3, signal: null, stdout: "out\n", stderrTail: "err1\nerr2", timedOut: false, cancelled: false });
  }, SLOW_MS);

  test("an already aborted signal starts nothing", async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await runProcess(["sh", "-c", "exit 0"], { signal: ac.signal });
    expect(r).toMatchObject({ exitCode: null, cancelled: true });
  }, SLOW_MS);

  test("a process that ignores SIGTERM is SIGKILLed after the grace period", async () => {
    const started = performance.now();
    const r = await runProcess(["sh", "-c", "trap '' TERM; exec sleep 30"], { timeoutMs: 200, killGraceMs: 300 });
    const took = performance.now() - started;
    expect(r).toMatchObject({ exitCode: null, signal: "SIGKILL", timedOut: true, cancelled: false });
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(15_000); // not the 30 s the process would sleep
  }, SLOW_MS);

  test("a grandchild holding the pipes does not hold the result", async () => {
    const started = performance.now();
    const r = await runProcess(["sh", "-c", "sleep 30 & echo started"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("started\n");
    expect(performance.now() - started).toBeLessThan(15_000); // not the 30 s the grandchild holds the pipes
  }, SLOW_MS);

  test("a missing binary rejects", async () => {
    await expect(runProcess(["/nonexistent/binary"])).rejects.toThrow();
  }, SLOW_MS);
});
