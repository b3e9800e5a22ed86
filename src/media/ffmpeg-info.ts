/**
 * What an FFmpeg build can do, read from its own output. Pure: the worker runs the binaries
 * (src/worker/capabilities.ts) and hands the text here, so every parser is unit-tested on captured output.
 */
import { HW_FAMILIES, type HwFamily } from "../core/pools.ts";
import { acceleratorOfFamily, DEFAULT_VAAPI_DEVICE, encoderPool, testEncodeArgv } from "./hardware/index.ts";

export type CodecKind = "video" | "audio" | "subtitle";

export interface CodecEntry {
  name: string;
  kind: CodecKind;
  description: string;
}

export { HW_FAMILIES, type HwFamily };

/**
 * Hardware encoders worth probing, per family and in preference order (the accelerators' lists,
 * media/hardware/). A build lists many of them whether or not the hardware is there (Debian lists NVENC on
 * every machine), so each one must still prove itself with a test encode. Names absent from a build
 * (av1_nvenc in FFmpeg 5.1) are simply skipped.
 */
export const HW_ENCODER_CANDIDATES: Readonly<Record<HwFamily, readonly string[]>> = Object.freeze(
  Object.fromEntries(HW_FAMILIES.map((family) => [family, Object.freeze([...acceleratorOfFamily(family).probeEncoders])])) as Record<HwFamily, readonly string[]>,
);

/**
 * The version token of `ffmpeg -version` / `ffprobe -version`: "5.1.9-0+deb12u1", or for git
 * builds "N-113000-g1234abcd". Undefined when the text is not from FFmpeg at all.
 */
export function parseFfmpegVersion(text: string): string | undefined {
  const firstLine = text.split(/\r?\n/).find((line) => line.trim() !== "");
  return firstLine?.match(/^\s*ff\w*\s+version\s+(\S+)/)?.[1];
}

const KINDS: Readonly<Record<string, CodecKind>> = { V: "video", A: "audio", S: "subtitle" };

/**
 * One entry per codec line of `ffmpeg -encoders` or `-decoders`: " V....D libx264   description".
 * The legend above the " ------" separator has the same shape (" V..... = Video"), so it is skipped by
 * position and, should the separator ever be missing, by its "=" name. The flag column's width has
 * changed between FFmpeg releases, so only its first letter (the media kind) is relied on.
 */
export function parseCodecList(text: string): CodecEntry[] {
  const lines = text.split(/\r?\n/);
  const separator = lines.findIndex((line) => /^\s*-{3,}\s*$/.test(line));
  const body = separator >= 0 ? lines.slice(separator + 1) : lines;
  const entries: CodecEntry[] = [];
  for (const line of body) {
    const m = line.match(/^\s*([A-Z.])[A-Z.]{2,9}\s+(\S+)(?:\s+(.*))?$/);
    if (!m || m[2] === "=") continue;
    const kind = KINDS[m[1] ?? ""];
    // Data/attachment "codecs" (a D or T kind in some builds) are nothing a worker encodes.
    if (!kind || !m[2]) continue;
    entries.push({ name: m[2], kind, description: (m[3] ?? "").trim() });
  }
  return entries;
}

/** The method names under "Hardware acceleration methods:" of `ffmpeg -hwaccels`. */
export function parseHwaccels(text: string): string[] {
  const lines = text.split(/\r?\n/);
  const header = lines.findIndex((line) => /hardware acceleration methods/i.test(line));
  return lines
    .slice(header + 1) // header === -1 parses the whole text
    .map((line) => line.trim())
    .filter((line) => /^[\w-]+$/.test(line));
}

export interface TestEncodeOptions {
  /** VAAPI render node, e.g. /dev/dri/renderD128 (also the QSV device's node when given). */
  vaapiDevice?: string;
  /** NVIDIA GPU index to prove the encoder on. */
  gpuIndex?: number;
}

export { DEFAULT_VAAPI_DEVICE };

/**
 * argv (without the binary) of a one-frame encode to the null muxer: the only reliable proof that an
 * encoder works, because listing says nothing about the driver, the device or the GPU model
 * (some NVIDIA datacenter GPUs have no encoder at all). The same device, upload and encoder options as the
 * real pipeline (media/hardware/probe.ts): proving one path and running another proves nothing.
 */
export function testEncodeArgs(encoder: string, family: HwFamily, opts: TestEncodeOptions = {}): string[] {
  const a = acceleratorOfFamily(family);
  const device = a.id === "vaapi" ? { path: opts.vaapiDevice ?? DEFAULT_VAAPI_DEVICE } : a.id === "nvenc" && opts.gpuIndex !== undefined ? { index: opts.gpuIndex } : {};
  return testEncodeArgv(encoder, a, device);
}

/**
 * Why a test encode failed, in one line. FFmpeg's last line is often generic ("Error initializing output
 * stream 0:0 -- … maybe incorrect parameters"), while the encoder's own line says what is wrong
 * ("Cannot load libcuda.so.1"), so that one wins when present. The "[h264_nvenc @ 0x55…]" prefix is
 * dropped: the address changes on every run and the encoder is recorded next to the reason anyway.
 */
export function testFailureReason(stderr: string, encoder: string): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const tag = `[${encoder} @ `;
  const own = lines.filter((line) => line.startsWith(tag)).at(-1);
  const chosen = own ?? lines.at(-1);
  if (chosen === undefined) return "test encode failed with no error output";
  return chosen.replace(/^\[[^\]]* @ 0x[0-9a-f]+\]\s*/i, "");
}

/** The parts of a worker's capabilities that decide which pools it can serve. */
export interface PoolInputs {
  encoders: readonly string[];
  hardware: readonly { family: HwFamily; encoders: readonly string[] }[];
}

/**
 * The bus pools (one JetStream consumer each) this worker may pull from: "cpu" needs the software
 * pair the default ladder uses (libx264 + aac); a hardware pool is one encoder proven by a test encode,
 * `<accelerator>:<codec>` (nvenc:h264), so routing never sends a task to a worker that cannot run it.
 * Ordered cpu first, then HW_FAMILIES order, each family's encoders in preference order. `excluded`:
 * pools withheld (a degraded device's, until it passes its test encode again).
 */
export function poolsFrom(caps: PoolInputs, excluded: ReadonlySet<string> = new Set()): string[] {
  const pools: string[] = [];
  if (caps.encoders.includes("libx264") && caps.encoders.includes("aac")) pools.push("cpu");
  for (const family of HW_FAMILIES) {
    const proven = caps.hardware.filter((hw) => hw.family === family).flatMap((hw) => hw.encoders);
    for (const encoder of HW_ENCODER_CANDIDATES[family]) {
      const pool = encoderPool(encoder);
      if (proven.includes(encoder) && pool !== "cpu" && !pools.includes(pool) && !excluded.has(pool)) pools.push(pool);
    }
  }
  return pools;
}
