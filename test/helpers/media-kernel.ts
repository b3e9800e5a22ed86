/**
 * The compiled kernel with its embedded worker, as the media end-to-end tests (test/e2e/media-*.test.ts) run
 * it: one kernel per scratch directory, real FFmpeg, sources put straight into its local storage. One place for
 * the launcher and the small HTTP/ffprobe steps every such test repeats, so that a change to how a kernel starts
 * (env, health waits) is made once.
 */
import { afterAll } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { TEST_KERNEL_SECURITY_ENV, withAuth } from "./auth.ts";
import { binary, freePort, killAllProcs, type Proc, runProc, spawnProc } from "./proc.ts";
import { waitFor } from "./wait.ts";

/** The system's ffprobe/ffmpeg the tests check outputs with (never the pipeline's own verifier). */
export const FFPROBE = process.env.FFPROBE_PATH ?? "ffprobe";
export const FFMPEG = process.env.FFMPEG_PATH ?? "ffmpeg";

/** The part of GET /v1/jobs/:id every media test reads; a test extends it with what else it checks. */
export interface MediaJobView {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  tasks: Array<{ type: string }>;
}

export interface MediaKernel {
  name: string;
  proc: Proc;
  base: string;
  /** The kernel's local storage root: a storage key is a path under it. */
  storage: string;
}

/** Chunks of 1–2 s from a 2 s source on: a few-second clip is split into several video tasks. */
export const SPLIT_ENV = { CHUNK_MIN_DURATION: "1s", CHUNK_MAX_DURATION: "2s", SPLIT_MIN_DURATION: "2s" };
/** Never split a clip shorter than a minute: the one-piece reference. */
export const ONE_PIECE_ENV = { SPLIT_MIN_DURATION: "60s" };

/**
 * Starts the compiled kernel in a fresh directory under `scratch` and returns once /v1/health answers and
 * the embedded worker reports healthy (before that a submitted job would only wait).
 */
export async function startMediaKernel(scratch: string, name: string, env: Record<string, string>): Promise<MediaKernel> {
  const cwd = mkdtempSync(join(scratch, `${name}-`));
  const port = await freePort();
  const dataDir = join(cwd, "data");
  const proc = spawnProc([binary("webencode-kernel")], {
    env: { DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", PLUGIN_DIR: join(cwd, "plugins"), LOG_LEVEL: "info", WORKER_CONCURRENCY: "2", ...TEST_KERNEL_SECURITY_ENV, ...env },
    cwd,
  });
  const base = `http://127.0.0.1:${port}`;
  // Generous: the first start on a loaded machine migrates a fresh database.
  await proc.waitForHttp200(`${base}/v1/health`, 240_000);
  await waitFor(
    async () => {
      const r = await fetch(`${base}/v1/workers/embedded`, withAuth(undefined));
      return r.status === 200 && ((await r.json()) as { status: string }).status === "healthy";
    },
    60_000,
    `${name}: embedded worker healthy`,
    200,
  );
  return { name, proc, base, storage: join(dataDir, "storage") };
}

/** The usual pair: KS splits into chunks, K1 encodes in one piece (started together). */
export function startSplitAndOnePiece(scratch: string): Promise<[MediaKernel, MediaKernel]> {
  return Promise.all([startMediaKernel(scratch, "ks", SPLIT_ENV), startMediaKernel(scratch, "k1", ONE_PIECE_ENV)]);
}

/** Stops every process the file started and removes its scratch directory once its tests are done. */
export function cleanUpAfterAll(scratch: string): void {
  afterAll(async () => {
    await killAllProcs();
    rmSync(scratch, { recursive: true, force: true });
  }, 60_000);
}

/** An authenticated request; the body parsed as JSON (null when empty). */
export async function call<T>(k: MediaKernel, path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const r = await fetch(`${k.base}${path}`, withAuth(init));
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : null) as T };
}

/** Puts a file into the kernel's storage under uploads/ (what an upload does); returns its key. */
export function upload(k: MediaKernel, path: string, name = basename(path)): string {
  const key = `uploads/${name}`;
  mkdirSync(dirname(join(k.storage, key)), { recursive: true });
  copyFileSync(path, join(k.storage, key));
  return key;
}

/** Polls the job until it is completed, failed or cancelled; its last view. */
export async function waitJobEnded<J extends { status: string }>(k: MediaKernel, id: string): Promise<J> {
  let job: J | undefined;
  await waitFor(
    async () => {
      job = (await call<J>(k, `/v1/jobs/${id}`)).body;
      return ["completed", "failed", "cancelled"].includes(job.status);
    },
    300_000,
    `${k.name}: job to end`,
    200,
  );
  return job!;
}

/** A job's outputs by kind, as file paths in the kernel's storage (undefined for a kind it did not make). */
export async function outputFiles(k: MediaKernel, jobId: string): Promise<{ mp4?: string; master?: string; all: Array<{ kind: string; storage_key: string }> }> {
  const all = (await call<{ items: Array<{ kind: string; storage_key: string }> }>(k, `/v1/jobs/${jobId}/outputs`)).body.items;
  const path = (kind: string) => {
    const o = all.find((x) => x.kind === kind);
    return o ? join(k.storage, o.storage_key) : undefined;
  };
  return { mp4: path("mp4"), master: path("hls"), all };
}

/** Each subtitle stream of a file as "codec:language" (the system's ffprobe). */
export async function subtitleLanguages(path: string): Promise<string[]> {
  const r = await runProc([FFPROBE, "-v", "error", "-of", "json", "-show_streams", "-select_streams", "s", path], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`ffprobe ${path}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { streams: Array<{ codec_name: string; tags?: { language?: string } }> }).streams.map((s) => `${s.codec_name}:${s.tags?.language}`);
}
