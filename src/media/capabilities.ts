/**
 * Capability detection: what this worker's FFmpeg can really do. Listed hardware encoders only count
 * after a one-frame test encode succeeds, because distribution builds list NVENC, QSV and VAAPI on every
 * machine, GPU or not. Parsing lives in src/media/ffmpeg-info.ts; this module only runs processes. In media
 * rather than the worker because the encoder plugin runs it (a plugin imports only core, media and the SDK).
 */
import { access } from "node:fs/promises";
import { runProcess } from "./run.ts";
import {
  DEFAULT_VAAPI_DEVICE,
  HW_ENCODER_CANDIDATES,
  HW_FAMILIES,
  type HwFamily,
  parseCodecList,
  parseFfmpegVersion,
  parseHwaccels,
  poolsFrom,
  testEncodeArgs,
  testFailureReason,
} from "./ffmpeg-info.ts";

export interface HardwareFamilyCapabilities {
  family: HwFamily;
  /** Proven by a successful test encode. */
  encoders: string[];
  /** Listed by `ffmpeg -encoders` but the test encode failed (or could not run). */
  failed: { encoder: string; reason: string }[];
}

export interface WorkerCapabilities {
  ffmpeg: { path: string; version: string };
  ffprobe: { path: string; version: string };
  encoders: string[];
  decoders: string[];
  hwaccels: string[];
  hardware: HardwareFamilyCapabilities[];
  pools: string[];
  detectedAt: string;
}

export interface DetectOptions {
  ffmpegPath: string;
  ffprobePath: string;
  /** VAAPI render node; default /dev/dri/renderD128. */
  vaapiDevice?: string;
  /**
   * Limit for each FFmpeg invocation, in ms (default 10 s). A healthy run of the whole detection takes
   * well under a second; the limit only bounds a driver that hangs while opening a device.
   */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export async function detectCapabilities(opts: DetectOptions): Promise<WorkerCapabilities> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const vaapiDevice = opts.vaapiDevice ?? DEFAULT_VAAPI_DEVICE;

  // Both binaries first and together: a missing one is the common setup mistake and must fail fast.
  const [ffmpeg, ffprobe] = await Promise.all([
    identify("FFmpeg", "FFMPEG_PATH", opts.ffmpegPath, timeoutMs),
    identify("FFprobe", "FFPROBE_PATH", opts.ffprobePath, timeoutMs),
  ]);

  const [encoderText, decoderText, hwaccelText] = await Promise.all([
    listing(ffmpeg.path, "-encoders", timeoutMs),
    listing(ffmpeg.path, "-decoders", timeoutMs),
    listing(ffmpeg.path, "-hwaccels", timeoutMs),
  ]);
  const encoders = parseCodecList(encoderText).map((c) => c.name);
  const decoders = parseCodecList(decoderText).map((c) => c.name);
  const hwaccels = parseHwaccels(hwaccelText);

  const hasVaapiDevice = await exists(vaapiDevice);
  // All test encodes at once: each is ~0.1 s when it fails fast, and the timeout bounds the rest.
  const hardware = await Promise.all(
    HW_FAMILIES.map((family) => probeFamily(ffmpeg.path, family, encoders, { vaapiDevice, hasVaapiDevice, timeoutMs })),
  );

  return {
    ffmpeg,
    ffprobe,
    encoders,
    decoders,
    hwaccels,
    hardware,
    pools: poolsFrom({ encoders, hardware }),
    detectedAt: new Date().toISOString(),
  };
}

interface ProbeContext {
  vaapiDevice: string;
  hasVaapiDevice: boolean;
  timeoutMs: number;
}

async function probeFamily(ffmpegPath: string, family: HwFamily, listed: readonly string[], ctx: ProbeContext): Promise<HardwareFamilyCapabilities> {
  const candidates = HW_ENCODER_CANDIDATES[family].filter((name) => listed.includes(name));
  const results = await Promise.all(
    candidates.map(async (encoder) => ({ encoder, reason: await testEncode(ffmpegPath, family, encoder, ctx) })),
  );
  return {
    family,
    encoders: results.filter((r) => r.reason === undefined).map((r) => r.encoder),
    failed: results.flatMap((r) => (r.reason === undefined ? [] : [{ encoder: r.encoder, reason: r.reason }])),
  };
}

/** Undefined when the encoder produced a frame; otherwise why not, in one line. */
async function testEncode(ffmpegPath: string, family: HwFamily, encoder: string, ctx: ProbeContext): Promise<string | undefined> {
  if (family === "vaapi" && !ctx.hasVaapiDevice) return "no /dev/dri render device";
  let result: RunResult;
  try {
    result = await run([ffmpegPath, ...testEncodeArgs(encoder, family, { vaapiDevice: ctx.vaapiDevice })], ctx.timeoutMs);
  } catch (err) {
    // One encoder that cannot even be started must not sink the whole detection.
    return `test encode could not start: ${(err as Error).message}`;
  }
  if (result.timedOut) return `test encode timed out after ${ctx.timeoutMs} ms`;
  if (result.exitCode === 0) return undefined;
  return testFailureReason(result.stderr, encoder);
}

/** Resolves the binary and reads its version, or throws the message an operator can act on. */
async function identify(label: string, envVar: string, path: string, timeoutMs: number): Promise<{ path: string; version: string }> {
  const hint = `install it (Debian: apt-get install ffmpeg) or set ${envVar}`;
  // Bun.which resolves bare names through PATH and checks the execute bit for explicit paths.
  const resolved = Bun.which(path);
  if (resolved === null) {
    // A bare name is looked up in PATH; an explicit path that exists failed the execute-bit check.
    const notExecutable = path.includes("/") && (await exists(path));
    throw new Error(notExecutable ? `${label} at "${path}" is not an executable file: ${hint}` : `${label} not found at "${path}": ${hint}`);
  }

  let result: RunResult;
  try {
    result = await run([resolved, "-hide_banner", "-version"], timeoutMs);
  } catch (err) {
    // Lost a race with the file system, or not executable after all (EACCES, ENOEXEC).
    throw new Error(`${label} at "${path}" could not be started (${(err as Error).message}): ${hint}`);
  }
  if (result.timedOut) throw new Error(`${label} at "${path}" did not answer "-version" within ${timeoutMs} ms`);
  const version = result.exitCode === 0 ? parseFfmpegVersion(result.stdout) : undefined;
  if (version === undefined) {
    const detail =
      result.exitCode === 0 ? "no version line in its output" : `exit code ${result.exitCode}${suffix(lastLine(result.stderr))}`;
    throw new Error(`${label} at "${path}" does not look like ${label} ("-version": ${detail}): ${hint}`);
  }
  return { path: resolved, version };
}

async function listing(ffmpegPath: string, flag: string, timeoutMs: number): Promise<string> {
  const result = await run([ffmpegPath, "-hide_banner", flag], timeoutMs);
  if (result.timedOut) throw new Error(`"ffmpeg ${flag}" did not finish within ${timeoutMs} ms`);
  if (result.exitCode !== 0) throw new Error(`"ffmpeg ${flag}" failed (exit ${result.exitCode}): ${lastLine(result.stderr) ?? "no output"}`);
  return result.stdout;
}

interface RunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs argv (no shell) with media/run.ts's runner, the one every FFmpeg run uses: it always settles, reads
 * both pipes concurrently and stops waiting for pipes a wrapper script's child keeps open. A probe that
 * overruns is killed at once (no grace to finalize: there is no output worth keeping).
 */
async function run(argv: string[], timeoutMs: number): Promise<RunResult> {
  const r = await runProcess(argv, { timeoutMs, killGraceMs: 0, stderrLines: 200 });
  return { exitCode: r.exitCode, stdout: r.stdout ?? "", stderr: r.stderrTail, timedOut: r.timedOut };
}

function suffix(text: string | undefined): string {
  return text === undefined ? "" : `, ${text}`;
}

function lastLine(text: string): string | undefined {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .at(-1);
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
