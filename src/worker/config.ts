/** The worker's variables. Every one is listed, with its default, in the README's configuration table. */
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { absolutePaths, NATS_FILE_KEYS } from "../core/config-paths.ts";
import { busPrefix, cidrList, defaultWorkerId, duration, int, loadConfig, logLevel, natsAuth, optionalInt, optionalStr, parseDuration, str, url, urlList } from "../core/config.ts";

export const workerConfigEntries = {
  /** One URL, or a cluster's URLs separated by commas. */
  NATS_URL: v.optional(urlList(["nats", "tls", "ws", "wss"]), "nats://localhost:4222"),
  WORKER_ID: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "must be 1-64 letters, digits, '.', '_' or '-'"))),
  WORKER_CONCURRENCY: int(1, 1, 64),
  /**
   * Live transcodes (pool `live`) this worker runs at once, on slots of their own beside WORKER_CONCURRENCY.
   * 0 (default): a dedicated worker opts in, since one live ladder holds about a core for as long as the
   * stream lasts and must keep real time; the standalone kernel's embedded worker gets 1 (src/worker/embedded.ts).
   */
  LIVE_SLOTS: int(0, 0, 16),
  WORK_DIR: optionalStr(),
  PLUGIN_DIR: str("./plugins"),
  /** How often PLUGIN_DIR binaries are checked for replacement (hot reload, docs/plugins.md); 0 turns it off. */
  PLUGIN_WATCH_INTERVAL: duration("2s"),
  LOG_LEVEL: logLevel(),
  BUS_PREFIX: busPrefix(),
  FFMPEG_PATH: str("ffmpeg"),
  FFPROBE_PATH: str("ffprobe"),
  HEARTBEAT_INTERVAL: v.optional(v.pipe(v.string(), v.transform(parseDuration), v.number("must be a duration such as \"2s\""), v.minValue(200, "must be at least 200ms"), v.maxValue(5000, "must be at most 5s (workers expire after 15s without one)")), "5s"),
  WORKER_SHUTDOWN_GRACE: duration("60s"),
  /** Must equal the kernels' BUS_ACK_WAIT. */
  BUS_ACK_WAIT: duration("60s"),
  /** Replicas of the JetStream streams and buckets (a NATS cluster); unset leaves existing ones as they are. */
  BUS_REPLICAS: optionalInt(1, 5),
  ...natsAuth(),
  /** Port of the worker's own GET /metrics (FFmpeg processes, slots, encode fps); 0 disables it. */
  WORKER_METRICS_PORT: int(9464, 0, 65535),
  WORKER_METRICS_HOST: str("0.0.0.0"),
  /** Private networks (CIDRs) that source URLs may reach (must match the kernels' setting). */
  OUTBOUND_ALLOW_CIDRS: cidrList(),
  /** NVIDIA GPUs to use, by index ("0,1"): one slot group per device; empty: the driver's default GPU (docs/gpu.md). */
  WORKER_GPU_DEVICES: v.optional(v.pipe(v.string(), v.regex(/^(\d{1,2}(,\d{1,2})*)?$/, "must be GPU indices separated by commas, e.g. 0,1"), v.transform((s) => (s === "" ? [] : s.split(",").map(Number)))), ""),
  /** Concurrent encode sessions per GPU. Consumer NVIDIA cards refuse more than their driver's limit (3, 5 or 8). */
  WORKER_GPU_SESSIONS: int(3, 1, 64),
  /** Driver failures in a row (out of memory, device lost) that mark a GPU degraded until its test encode passes. */
  WORKER_GPU_DEGRADE_AFTER: int(2, 1, 100),
  /** How often a degraded GPU re-runs its test encode. */
  WORKER_GPU_RETEST_INTERVAL: duration("60s"),
  /** GPU memory (MiB) a GPU must have free, per nvidia-smi, to take a task; 0 disables the check. */
  WORKER_GPU_MIN_FREE_MEMORY_MB: int(512, 0, 1_000_000),
};

export type WorkerConfig = ReturnType<typeof loadWorkerConfig>;

/** FFMPEG_PATH/FFPROBE_PATH: a bare name is looked up in PATH; one with a slash is a path from the start directory. */
const isPathLike = (s: string) => s.includes("/");

export function loadWorkerConfig(env?: Record<string, string | undefined>) {
  const c = loadConfig(workerConfigEntries, env);
  const id = c.WORKER_ID ?? defaultWorkerId();
  const withWorkDir = { ...c, WORKER_ID: id, WORK_DIR: c.WORK_DIR ?? join(tmpdir(), `webencode-worker-${id}`) };
  // Every path FFmpeg or a plugin receives is absolute (src/core/config-paths.ts says why); made so here, once.
  const tools = (["FFMPEG_PATH", "FFPROBE_PATH"] as const).filter((k) => isPathLike(c[k]));
  return Object.freeze(absolutePaths(withWorkDir, ["WORK_DIR", "PLUGIN_DIR", ...tools, ...NATS_FILE_KEYS], process.cwd()));
}
