/**
 * Live segments and playlists in the deployment's storage (the default storage plugin), so that every kernel
 * behind a load balancer serves the same bytes. Layout, per session:
 *
 *   live/<session>/master.m3u8              written once every rung has enough segments (segmentsReady)
 *   live/<session>/<rung>/index.m3u8        the kernel-built media playlist (playlist.ts)
 *   live/<session>/<rung>/window.json       its state: what the next playlist PUT continues from
 *   live/<session>/<rung>/e<epoch>_<n>.ts   the segments, as the worker named them
 *
 * Bodies are streamed to one temporary file and handed to the plugin with `move` (a rename for storage-fs on
 * the same filesystem): never held whole in memory, and readers never see a partial object.
 */
import { createWriteStream, mkdirSync } from "node:fs";
import { readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AppError, errorMessage } from "../../../core/errors.ts";

/** What this module needs of a storage plugin (a PluginSupervisor routed for the "storage" pillar). */
export interface StorageCalls {
  call<T = unknown>(method: string, params?: unknown, options?: { timeoutMs?: number }): Promise<T>;
}

export const sessionPrefix = (sessionId: string) => `live/${sessionId}/`;
export const objectKey = (sessionId: string, rung: string, file: string) => `live/${sessionId}/${rung}/${file}`;
export const masterKey = (sessionId: string) => `live/${sessionId}/master.m3u8`;

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown })?.code === "WE-STO-001";
}

function temporaryPath(tmpDir: string): string {
  mkdirSync(tmpDir, { recursive: true });
  return join(tmpDir, crypto.randomUUID());
}

/** Streams `body` into storage at `key`; WE-REQ-003 as soon as it passes `limit` bytes (nothing is stored then). */
export async function storeStream(storage: StorageCalls, tmpDir: string, key: string, body: ReadableStream<Uint8Array>, limit: number): Promise<number> {
  const path = temporaryPath(tmpDir);
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      if (bytes > limit) done(new AppError("WE-REQ-003", `live segment too large: more than ${limit} bytes (LIVE_SEGMENT_MAX_SIZE)`, { limit }));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(body as never), counter, createWriteStream(path, { flags: "wx" }));
    await storage.call("put_file", { key, path, move: true }, { timeoutMs: 60_000 });
  } catch (error) {
    throw error instanceof AppError ? error : new AppError("WE-REQ-004", `live upload interrupted: ${errorMessage(error)}`);
  } finally {
    await unlink(path).catch(() => {});
  }
  return bytes;
}

export async function storeText(storage: StorageCalls, tmpDir: string, key: string, text: string): Promise<void> {
  const path = temporaryPath(tmpDir);
  try {
    await writeFile(path, text, { flag: "wx" });
    await storage.call("put_file", { key, path, move: true }, { timeoutMs: 30_000 });
  } finally {
    await unlink(path).catch(() => {});
  }
}

/**
 * An object's bytes, or null when it does not exist. From the plugin's local path when it has one
 * (storage-fs: no copy), else through a temporary file (S3).
 */
export async function readObject(storage: StorageCalls, tmpDir: string, key: string): Promise<Uint8Array | null> {
  try {
    const { path } = await storage.call<{ path: string | null }>("local_path", { key });
    if (path) return new Uint8Array(await readFile(path));
    const temporary = temporaryPath(tmpDir);
    try {
      await storage.call("get_file", { key, path: temporary }, { timeoutMs: 60_000 });
      return new Uint8Array(await readFile(temporary));
    } finally {
      await unlink(temporary).catch(() => {});
    }
  } catch (error) {
    if (isNotFound(error) || (error as { code?: unknown })?.code === "ENOENT") return null;
    throw error;
  }
}

export async function readText(storage: StorageCalls, tmpDir: string, key: string): Promise<string | null> {
  const bytes = await readObject(storage, tmpDir, key);
  return bytes === null ? null : new TextDecoder().decode(bytes);
}

export async function objectExists(storage: StorageCalls, key: string): Promise<boolean> {
  try {
    await storage.call("stat", { key });
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

export async function deleteObjects(storage: StorageCalls, keys: readonly string[]): Promise<void> {
  await Promise.all(keys.map((key) => storage.call("delete", { key }).catch(() => {})));
}
