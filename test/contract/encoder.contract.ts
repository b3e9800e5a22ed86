/**
 * The encoder contract (src/plugin-runtime/pillars.ts EncoderPlugin): every encoder implementation, and every way
 * of reaching one (in process, over the plugin protocol), runs this suite against the real FFmpeg.
 *
 * Media is generated into a temp dir by the suite (no media files in git). Clips are a few seconds long so
 * the whole suite stays within seconds; the long runs (cancel, timeout) are stopped early by design.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import type { ProbeParams, TranscodeParams, TranscodeProgress, TranscodeResult } from "../../src/plugin-runtime/pillars.ts";
import type { HealthResult } from "../../src/plugin-runtime/protocol.ts";
import { waitFor } from "../helpers/wait.ts";

/** What the caller of an encoder controls per call, instead of the plugin-side CallContext. */
export interface CallOptions {
  signal?: AbortSignal;
  onProgress?: (p: TranscodeProgress) => void;
}

/** The EncoderPlugin methods as a caller sees them. */
export interface EncoderClient {
  capabilities(): Promise<Record<string, unknown>>;
  probe(p: ProbeParams, opts?: CallOptions): Promise<Record<string, unknown>>;
  transcode(p: TranscodeParams, opts?: CallOptions): Promise<TranscodeResult>;
  health?(): Promise<HealthResult> | HealthResult;
}

export type EncoderSetup = () => Promise<{ encoder: EncoderClient; cleanup: () => Promise<void> }>;

/** The harness's own FFmpeg/FFprobe, used to make inputs and to check outputs independently of the encoder. */
const FFMPEG = process.env.FFMPEG_PATH || "ffmpeg";
const FFPROBE = process.env.FFPROBE_PATH || "ffprobe";

/**
 * Per-test limit for tests that run FFmpeg: Bun's default is 5 s (bunfig.toml's [test] timeout is not a
 * setting Bun reads), and a loaded machine must not turn a slow pass into a failure. Each wait inside a
 * test has its own, tighter bound.
 */
export const SLOW_MS = 30_000;
/**
 * How long a cancel or a timeout may take to end a run: the standard plugin's SIGTERM → SIGKILL grace (2 s) plus
 * room for a loaded machine. A run nobody stops lasts far longer (a veryslow flush ~20 s here, or 600 s).
 */
const STOP_WITHIN_MS = 8_000;

/** The preamble every FFmpeg run of the encoder gets before the caller's arguments. */
const PREAMBLE = ["-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats"];

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

async function mustRun(argv: string[]): Promise<string> {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (${r.code}): ${r.stderr.slice(-500)}`);
  return r.stdout;
}

/** Pids of processes whose command line contains `needle` (a unique output file name). */
async function pidsMatching(needle: string): Promise<number[]> {
  const r = await run(["pgrep", "-f", needle]);
  return r.stdout
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map(Number);
}

/** Video frames in a file, counted from packets (`-count_packets`: no decoding). */
async function videoPackets(path: string): Promise<number> {
  const out = await mustRun([FFPROBE, "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path]);
  return Number(out.trim());
}

async function rejection(p: Promise<unknown>): Promise<{ code?: unknown; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: unknown; message: string };
  }
  throw new Error("expected the call to reject, it resolved");
}

export function runEncoderContract(name: string, setup: EncoderSetup): void {
  describe(`encoder contract: ${name}`, () => {
    let encoder: EncoderClient;
    let cleanup: () => Promise<void>;
    let dir: string;
    let clip: string;
    let server: ReturnType<typeof Bun.serve>;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "we-encoder-contract-"));
      clip = join(dir, "clip.mp4");
      // 4 s at 30 fps, a keyframe every 30 frames and none from scene cuts: keyframes at exactly 0,1,2,3 s.
      await mustRun([
        FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y",
        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-f", "lavfi", "-i", "sine",
        "-t", "4", "-c:v", "libx264", "-g", "30", "-sc_threshold", "0", "-c:a", "aac", clip,
      ]);
      await writeFile(join(dir, "text.mp4"), "this is not a video, just text with an .mp4 name\n");
      await writeFile(join(dir, "zero.mp4"), "");
      // FFmpeg writes the moov atom at the end (no faststart), so the head of the file has no index.
      await writeFile(join(dir, "truncated.mp4"), (await Bun.file(clip).bytes()).subarray(0, 20_000));
      await writeFile(join(dir, "subtitles.vtt"), "WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n");
      server = Bun.serve({
        port: 0,
        hostname: "127.0.0.1",
        fetch: (req) => (new URL(req.url).pathname === "/clip.mp4" ? new Response(Bun.file(clip)) : new Response("not here", { status: 404 })),
      });
      ({ encoder, cleanup } = await setup());
    }, SLOW_MS);

    afterAll(async () => {
      await cleanup?.();
      server?.stop(true);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test("capabilities include the cpu pool and the FFmpeg version", async () => {
      const caps = (await encoder.capabilities()) as { pools?: unknown; ffmpeg?: { version?: unknown } };
      expect(caps.pools).toContain("cpu");
      expect(caps.ffmpeg?.version).toBeString();
    }, SLOW_MS);

    test("health is ok with FFmpeg installed", async () => {
      if (!encoder.health) return;
      expect((await encoder.health()).status).toBe("ok");
    }, SLOW_MS);

    test("probe returns FFprobe's streams and format", async () => {
      const r = (await encoder.probe({ input: clip })) as {
        format: { duration?: string };
        streams: { codec_type?: string; codec_name?: string; width?: number; height?: number }[];
      };
      const video = r.streams.find((s) => s.codec_type === "video");
      expect(video).toMatchObject({ codec_name: "h264", width: 320, height: 240 });
      expect(r.streams.some((s) => s.codec_type === "audio")).toBe(true);
      expect(Number(r.format.duration)).toBeCloseTo(4, 1);
      expect(r).not.toHaveProperty("keyframes");
    }, SLOW_MS);

    test("probe with keyframes: the index of a known GOP, from packet flags", async () => {
      const r = await encoder.probe({ input: clip, keyframes: true });
      expect(r.keyframes).toEqual([0, 1, 2, 3]);
      expect(r.packets).toBe(120);
    }, SLOW_MS);

    test("probe reads an HTTP URL", async () => {
      const r = (await encoder.probe({ input: `http://127.0.0.1:${server.port}/clip.mp4` })) as { streams: unknown[] };
      expect(r.streams.length).toBe(2);
    }, SLOW_MS);

    const unreadable: [string, (dir: string, port: number) => string, string[]][] = [
      ["a text file named .mp4", (d) => join(d, "text.mp4"), ["Invalid data found when processing input", "moov atom not found"]],
      ["a zero-byte file", (d) => join(d, "zero.mp4"), ["Invalid data found when processing input"]],
      ["a truncated MP4", (d) => join(d, "truncated.mp4"), ["Invalid data found when processing input", "moov atom not found"]],
      ["a missing path", (d) => join(d, "missing.mp4"), ["No such file or directory"]],
      ["a URL answering 404", (_d, port) => `http://127.0.0.1:${port}/gone.mp4`, ["Server returned 404 Not Found"]],
      // A subtitle file is no media container: refused by FFprobe's format whitelist (src/media/input-policy.ts).
      ["a subtitle file", (d) => join(d, "subtitles.vtt"), ['container format "webvtt" is not accepted']],
    ];
    for (const [what, input, reasons] of unreadable) {
      test(`probe of ${what} rejects with WE-JOB-007 and FFprobe's reason`, async () => {
        const err = await rejection(encoder.probe({ input: input(dir, server.port ?? 0), keyframes: true }));
        expect(err.code).toBe("WE-JOB-007");
        for (const reason of reasons) expect(err.message).toContain(reason);
      }, SLOW_MS);
    }

    test("transcode succeeds with increasing progress ending at 100, and every frame is there", async () => {
      const events: TranscodeProgress[] = [];
      const args = ["-i", "clip.mp4", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "out.mp4"];
      const r = await encoder.transcode({ args, duration_s: 4, cwd: dir }, { onProgress: (p) => events.push(p) });
      expect(r).toMatchObject({ ok: true, exit_code: 0, signal: null, cancelled: false, timed_out: false });
      expect(r.argv.slice(1)).toEqual([...PREAMBLE, ...args]);
      expect(r.elapsed_ms).toBeGreaterThan(0);
      expect(events.length).toBeGreaterThan(0);
      const percents = events.map((e) => e.percent);
      expect(percents).toEqual([...percents].sort((a, b) => a - b));
      expect(percents.at(-1)).toBe(100);
      expect(await videoPackets(join(dir, "out.mp4"))).toBe(120);
    }, SLOW_MS);

    test("a failing transcode returns ok:false with the exit code, the full argv and FFmpeg's error", async () => {
      const args = ["-i", "clip.mp4", "-c:v", "no_such_encoder", "bad.mp4"];
      const r = await encoder.transcode({ args, cwd: dir });
      expect(r).toMatchObject({ ok: false, cancelled: false, timed_out: false, signal: null });
      expect(r.exit_code).not.toBe(0);
      expect(r.exit_code).not.toBeNull();
      expect(basename(r.argv[0] ?? "")).toStartWith("ffmpeg");
      expect(r.argv.slice(1)).toEqual([...PREAMBLE, ...args]);
      expect(r.stderr_tail).toContain("Unknown encoder 'no_such_encoder'");
    }, SLOW_MS);

    /**
     * veryslow at 720p: once x264's lookahead has filled, a SIGTERM'd FFmpeg flushes it for many seconds
     * (measured: ~20 s on 2 cores, 1.5 s into the run), so only the SIGKILL after the grace period keeps a
     * cancel prompt. Right after the first progress event SIGTERM alone ends it in ~0.2 s.
     */
    async function cancelAfter(progressEvents: number): Promise<void> {
      const output = `cancel-${crypto.randomUUID()}.mp4`;
      const args = ["-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-t", "600", "-c:v", "libx264", "-preset", "veryslow", output];
      const ac = new AbortController();
      const events: TranscodeProgress[] = [];
      const pending = encoder.transcode({ args, duration_s: 600, cwd: dir }, { signal: ac.signal, onProgress: (p) => events.push(p) });
      let settled = false;
      pending.finally(() => void (settled = true)).catch(() => {});

      await waitFor(() => events.length >= progressEvents || settled, 15_000, `${progressEvents} progress event(s)`);
      expect(settled).toBe(false);
      expect((await pidsMatching(output)).length).toBe(1);

      const abortedAt = performance.now();
      ac.abort();
      const r = await pending;
      const took = performance.now() - abortedAt;
      expect(r).toMatchObject({ ok: false, cancelled: true, timed_out: false });
      expect(took).toBeLessThan(STOP_WITHIN_MS);
      expect(await pidsMatching(output)).toEqual([]);
    }

    test("cancel right after the first progress event stops FFmpeg", () => cancelAfter(1), SLOW_MS);

    test("cancel of an encode under way is still prompt (SIGKILL after the grace period)", () => cancelAfter(3), SLOW_MS);

    test("timeout_ms kills a long run and says so", async () => {
      // -re: read the source in real time, so the run cannot finish early whatever the machine.
      const output = `timeout-${crypto.randomUUID()}.mp4`;
      const args = ["-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "600", "-c:v", "libx264", "-preset", "ultrafast", output];
      const started = performance.now();
      const r = await encoder.transcode({ args, duration_s: 600, timeout_ms: 800, cwd: dir });
      const took = performance.now() - started;
      expect(r).toMatchObject({ ok: false, cancelled: false, timed_out: true });
      expect(took).toBeGreaterThanOrEqual(750);
      expect(took).toBeLessThan(800 + STOP_WITHIN_MS);
      expect(await pidsMatching(output)).toEqual([]);
    }, SLOW_MS);
  });
}
