/**
 * On-disk cache of the encoder plugin's capability discovery (issue 20). Discovery runs a dozen FFmpeg
 * processes (~3 s on a loaded 2-core host) although its answer only changes with the FFmpeg/FFprobe binaries,
 * so a restart with the same binaries registers from the cache instead.
 *
 * The key (stored as a SHA-256, never in clear: it includes the encoder's settings) covers what the answer
 * depends on: the worker's version, the encoder plugin's settings and FFMPEG_PATH/FFPROBE_PATH, each binary's
 * resolved path, size and mtime, and the names of the GPU device nodes (/dev/nvidia*, /dev/dri/*).
 *
 * Hardware is never taken from the cache: a result that proved a hardware encoder is not reused, so a GPU
 * host re-runs discovery, test encodes included, on every start. A cached "proven" encoder on a GPU that has
 * since gone (driver crash, card removed, container started without the device) would route GPU work to a
 * worker that fails it; re-proving costs one test encode per listed encoder, which the start-up target
 * excludes anyway. A CPU-only result is reused only while the device nodes are unchanged, so a GPU that
 * appears later is found on the next start.
 *
 * A missing, unreadable, corrupt or mismatching cache file is ignored (discovery runs and rewrites it);
 * failing to write it is logged and otherwise harmless. Deleting the file forces re-discovery.
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import * as v from "valibot";
import { HW_FAMILIES } from "../core/pools.ts";
import type { WorkerCapabilities } from "../media/capabilities.ts";

const FORMAT = 1;

/** Where a worker keeps its cache: beside WORK_DIR, since the worker empties WORK_DIR at every start. */
export function capabilityCachePath(workDir: string): string {
  return `${workDir.replace(/\/+$/, "")}.capabilities.json`;
}

export interface CacheKeyInputs {
  workerVersion: string;
  /** FFmpeg and FFprobe as the encoder plugin will run them (a bare name is looked up in PATH). */
  ffmpegPath: string;
  ffprobePath: string;
  /** Anything else the encoder's discovery depends on (its settings); only its hash is stored. */
  extra?: unknown;
  /** Directory listings for GPU device nodes; tests point these elsewhere. */
  deviceDirs?: readonly { dir: string; prefix: string }[];
}

const DEFAULT_DEVICE_DIRS = [
  { dir: "/dev", prefix: "nvidia" },
  { dir: "/dev/dri", prefix: "" },
] as const;

/** Path, size and mtime of a binary after PATH lookup; "missing" when it cannot be found or stat'ed. */
async function fingerprint(path: string): Promise<string> {
  const resolved = Bun.which(path);
  if (resolved === null) return `missing:${path}`;
  try {
    const s = await stat(resolved);
    return `${resolved}:${s.size}:${s.mtimeMs}`;
  } catch {
    return `missing:${resolved}`;
  }
}

async function deviceNodes(dirs: readonly { dir: string; prefix: string }[]): Promise<string[]> {
  const lists = await Promise.all(
    dirs.map(async ({ dir, prefix }) => {
      const names = await readdir(dir).catch(() => [] as string[]);
      return names.filter((n) => n.startsWith(prefix)).map((n) => `${dir}/${n}`);
    }),
  );
  return lists.flat().sort();
}

export async function capabilityCacheKey(inputs: CacheKeyInputs): Promise<string> {
  const [ffmpeg, ffprobe, devices] = await Promise.all([
    fingerprint(inputs.ffmpegPath),
    fingerprint(inputs.ffprobePath),
    deviceNodes(inputs.deviceDirs ?? DEFAULT_DEVICE_DIRS),
  ]);
  const material = JSON.stringify({ format: FORMAT, version: inputs.workerVersion, ffmpeg, ffprobe, devices, extra: inputs.extra ?? null });
  return createHash("sha256").update(material).digest("hex");
}

const PathVersion = v.object({ path: v.string(), version: v.string() });
const CapabilitiesSchema = v.object({
  ffmpeg: PathVersion,
  ffprobe: PathVersion,
  encoders: v.array(v.string()),
  decoders: v.array(v.string()),
  hwaccels: v.array(v.string()),
  hardware: v.array(
    v.object({
      family: v.picklist(HW_FAMILIES),
      encoders: v.array(v.string()),
      failed: v.array(v.object({ encoder: v.string(), reason: v.string() })),
    }),
  ),
  pools: v.array(v.string()),
  detectedAt: v.string(),
});
const CacheFileSchema = v.object({ format: v.literal(FORMAT), key: v.string(), capabilities: CapabilitiesSchema });

/** True when the result proved a hardware encoder: such a result is re-proven at every start, never cached. */
export function provesHardware(capabilities: WorkerCapabilities): boolean {
  return capabilities.hardware.some((h) => h.encoders.length > 0);
}

export type CacheLookup = { hit: true; capabilities: WorkerCapabilities } | { hit: false; reason: string };

export async function readCapabilityCache(file: string, key: string): Promise<CacheLookup> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return { hit: false, reason: "no cache file" };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { hit: false, reason: "cache file is not JSON" };
  }
  const parsed = v.safeParse(CacheFileSchema, json);
  if (!parsed.success) return { hit: false, reason: "cache file has an unexpected shape" };
  if (parsed.output.key !== key) return { hit: false, reason: "FFmpeg, FFprobe, their settings, the GPU devices or the worker version changed" };
  if (provesHardware(parsed.output.capabilities)) return { hit: false, reason: "hardware encoders are re-proven at every start" };
  return { hit: true, capabilities: parsed.output.capabilities };
}

/** Writes atomically (temp file + rename) so a crash mid-write leaves no half file; hardware results are not stored. */
export async function writeCapabilityCache(file: string, key: string, capabilities: WorkerCapabilities): Promise<boolean> {
  if (provesHardware(capabilities)) return false;
  await mkdir(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify({ format: FORMAT, key, capabilities }));
  await rename(temp, file);
  return true;
}
