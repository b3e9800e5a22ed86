/**
 * The storage contract (src/plugin-runtime/pillars.ts StoragePlugin): every storage plugin runs this suite, so a job
 * can move between backends without surprises. `setup` gives a fresh, empty storage per test.
 *
 * Byte-for-byte comparisons throughout; the large object (64 MiB of random bytes) crosses the multipart
 * threshold of storage-s3 and is compared by SHA-256. URLs are fetched for real (storage-fs's through a
 * tiny server standing in for the kernel route, test/helpers/fs-url-server.ts).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CallContext, StoragePlugin } from "../../src/plugin-runtime/pillars.ts";
import { waitFor } from "../helpers/wait.ts";

type StorageMethod = "put_file" | "get_file" | "stat" | "list" | "delete" | "delete_prefix" | "read_url" | "write_url" | "local_path";

/** The StoragePlugin's methods as the host calls them: without the per-call context. */
export type StorageClient = { [K in StorageMethod]: (p: Parameters<StoragePlugin[K]>[0]) => ReturnType<StoragePlugin[K]> };

/** Binds a plugin implementation (from its `create`) to a fresh call context. */
export function storageClient(impl: StoragePlugin, signal: AbortSignal = new AbortController().signal): StorageClient {
  const ctx: CallContext = { signal, progress() {} };
  return {
    put_file: (p) => impl.put_file(p, ctx),
    get_file: (p) => impl.get_file(p, ctx),
    stat: (p) => impl.stat(p),
    list: (p) => impl.list(p),
    delete: (p) => impl.delete(p),
    delete_prefix: (p) => impl.delete_prefix(p),
    read_url: (p) => impl.read_url(p),
    write_url: (p) => impl.write_url(p),
    local_path: (p) => impl.local_path(p),
  };
}

export type StorageSetup = () => Promise<{ storage: StorageClient; cleanup: () => Promise<void> }>;

export const LARGE_SIZE = 64 * 1024 * 1024 + 12_345;
/** Per-test limit: bunfig's `[test] timeout` is not applied by bun 1.4.4 (the default stays 5 s). */
export const CONTRACT_TIMEOUT_MS = 60_000;

/** Writes `size` random bytes to `path` in 1 MiB chunks (bounded memory); returns the SHA-256. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash("sha256");
  const sink = Bun.file(path).writer();
  for (let left = size; left > 0; ) {
    const chunk = randomBytes(Math.min(left, 1 << 20));
    hash.update(chunk);
    sink.write(chunk);
    await sink.flush();
    left -= chunk.length;
  }
  await sink.end();
  return hash.digest("hex");
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of Bun.file(path).stream()) hash.update(chunk);
  return hash.digest("hex");
}

/** Resolves with the rejection's code (fails the test when the promise resolves). */
export async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string })?.code;
  }
  throw new Error("expected a rejection, but the call succeeded");
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0;

export function runStorageContract(name: string, setup: StorageSetup): void {
  describe(`storage contract: ${name}`, () => {
    let scratch: string;
    let big: { path: string; sha: string };
    let storage: StorageClient;
    let cleanup: () => Promise<void>;

    beforeAll(async () => {
      scratch = await mkdtemp(join(tmpdir(), "we-storage-contract-"));
      const path = join(scratch, "large.bin");
      big = { path, sha: await writeRandomFile(path, LARGE_SIZE) };
    }, CONTRACT_TIMEOUT_MS);
    afterAll(async () => {
      await rm(scratch, { recursive: true, force: true });
    });
    beforeEach(async () => {
      ({ storage, cleanup } = await setup());
    }, CONTRACT_TIMEOUT_MS);
    afterEach(async () => {
      await cleanup();
    }, CONTRACT_TIMEOUT_MS);

    /** A local file with `bytes` (random when a size is given). */
    const localFile = async (bytes: Uint8Array | number): Promise<{ path: string; bytes: Uint8Array }> => {
      const data = typeof bytes === "number" ? new Uint8Array(randomBytes(bytes)) : bytes;
      const path = join(scratch, `src-${randomUUID()}`);
      await writeFile(path, data);
      return { path, bytes: data };
    };
    const outPath = () => join(scratch, `out-${randomUUID()}`, "file.bin");
    const download = async (key: string): Promise<Uint8Array> => {
      const path = outPath();
      await storage.get_file({ key, path });
      return new Uint8Array(await Bun.file(path).arrayBuffer());
    };
    const keysOf = async (prefix: string): Promise<string[]> => (await storage.list({ prefix })).items.map((i) => i.key);

    test("put_file then stat reports the size, and get_file returns the same bytes", async () => {
      const src = await localFile(100_003);
      const put = await storage.put_file({ key: "basic/clip.mp4", path: src.path, content_type: "video/mp4" });
      expect(put.size).toBe(100_003);
      const info = await storage.stat({ key: "basic/clip.mp4" });
      expect(info.key).toBe("basic/clip.mp4");
      expect(info.size).toBe(100_003);
      expect(Math.abs(Date.parse(info.modified) - Date.now())).toBeLessThan(5 * 60_000);
      const out = outPath();
      expect(await storage.get_file({ key: "basic/clip.mp4", path: out })).toEqual({ size: 100_003 });
      expect(sameBytes(new Uint8Array(await Bun.file(out).arrayBuffer()), src.bytes)).toBe(true);
    }, CONTRACT_TIMEOUT_MS);

    test("an empty object round-trips", async () => {
      const src = await localFile(new Uint8Array(0));
      expect((await storage.put_file({ key: "empty/zero.bin", path: src.path })).size).toBe(0);
      expect((await storage.stat({ key: "empty/zero.bin" })).size).toBe(0);
      expect((await download("empty/zero.bin")).length).toBe(0);
    }, CONTRACT_TIMEOUT_MS);

    test(`a large object (${LARGE_SIZE} bytes) streams in and out unchanged`, async () => {
      const put = await storage.put_file({ key: "large/source.bin", path: big.path });
      expect(put.size).toBe(LARGE_SIZE);
      expect((await storage.stat({ key: "large/source.bin" })).size).toBe(LARGE_SIZE);
      const out = outPath();
      expect((await storage.get_file({ key: "large/source.bin", path: out })).size).toBe(LARGE_SIZE);
      expect(await sha256File(out)).toBe(big.sha);
    }, CONTRACT_TIMEOUT_MS);

    test("put_file with move stores the bytes and takes the source file away; without move the source stays", async () => {
      const moved = await localFile(70_001);
      expect((await storage.put_file({ key: "move/a.bin", path: moved.path, move: true })).size).toBe(70_001);
      expect(await Bun.file(moved.path).exists()).toBe(false);
      expect(sameBytes(await download("move/a.bin"), moved.bytes)).toBe(true);
      const kept = await localFile(10);
      await storage.put_file({ key: "move/b.bin", path: kept.path });
      expect(await Bun.file(kept.path).exists()).toBe(true);
    }, CONTRACT_TIMEOUT_MS);

    test("overwriting a key replaces its content", async () => {
      const a = await localFile(5000);
      const b = await localFile(1234);
      await storage.put_file({ key: "over/x.bin", path: a.path });
      await storage.put_file({ key: "over/x.bin", path: b.path });
      expect((await storage.stat({ key: "over/x.bin" })).size).toBe(1234);
      expect(sameBytes(await download("over/x.bin"), b.bytes)).toBe(true);
      expect(await keysOf("over/")).toEqual(["over/x.bin"]);
    }, CONTRACT_TIMEOUT_MS);

    test("a missing object: stat and get_file reject with WE-STO-001 and get_file leaves no file", async () => {
      expect(await codeOf(storage.stat({ key: "missing/nope.bin" }))).toBe("WE-STO-001");
      const out = outPath();
      expect(await codeOf(storage.get_file({ key: "missing/nope.bin", path: out }))).toBe("WE-STO-001");
      expect(await Bun.file(out).exists()).toBe(false);
      const left = await readdir(join(out, "..")).catch(() => [] as string[]);
      expect(left).toEqual([]);
    }, CONTRACT_TIMEOUT_MS);

    test("local_path is null or a local path holding the object's bytes", async () => {
      const src = await localFile(777);
      await storage.put_file({ key: "local/a.bin", path: src.path });
      const { path } = await storage.local_path({ key: "local/a.bin" });
      if (path !== null) expect(sameBytes(new Uint8Array(await Bun.file(path).arrayBuffer()), src.bytes)).toBe(true);
    }, CONTRACT_TIMEOUT_MS);

    test("list returns the keys under a prefix in lexical order, with sizes, and nothing else", async () => {
      const one = await localFile(3);
      const sizes: Record<string, number> = {};
      const keys = ["lst/b", "lst/a", "lst/c/e", "lst/c/d", "lst/ca", "lst/B", "lst2/x", "ls", "other/lst/a"];
      for (const [i, key] of keys.entries()) {
        const f = i % 2 ? one : await localFile(10 + i);
        await storage.put_file({ key, path: f.path });
        sizes[key] = f.bytes.length;
      }
      const { items, next_cursor } = await storage.list({ prefix: "lst/" });
      expect(items.map((i) => i.key)).toEqual(["lst/B", "lst/a", "lst/b", "lst/c/d", "lst/c/e", "lst/ca"]);
      expect(next_cursor).toBeUndefined();
      for (const i of items) {
        expect(i.size).toBe(sizes[i.key]!);
        expect(Number.isNaN(Date.parse(i.modified))).toBe(false);
      }
      expect(await keysOf("lst")).toEqual(["lst/B", "lst/a", "lst/b", "lst/c/d", "lst/c/e", "lst/ca", "lst2/x"]);
      expect(await keysOf("lst/c/")).toEqual(["lst/c/d", "lst/c/e"]);
      expect(await keysOf("lst/c")).toEqual(["lst/c/d", "lst/c/e", "lst/ca"]);
      expect(await keysOf("nothing/")).toEqual([]);
      expect(await keysOf("")).toEqual(["ls", "lst/B", "lst/a", "lst/b", "lst/c/d", "lst/c/e", "lst/ca", "lst2/x", "other/lst/a"]);
    }, CONTRACT_TIMEOUT_MS);

    test("pagination with limit and cursor yields every key exactly once, in order", async () => {
      const one = await localFile(1);
      const keys = Array.from({ length: 21 }, (_, i) => (i % 4 === 3 ? `pg/d${String(i).padStart(2, "0")}/inner` : `pg/k${String(i).padStart(2, "0")}`));
      await Promise.all(keys.map((key) => storage.put_file({ key, path: one.path })));
      const expected = [...keys].sort();
      for (const limit of [7, 5, 1000]) {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await storage.list({ prefix: "pg/", limit, ...(cursor ? { cursor } : {}) });
          pages++;
          expect(page.items.length).toBeLessThanOrEqual(limit);
          seen.push(...page.items.map((i) => i.key));
          if (page.next_cursor !== undefined) expect(page.next_cursor).toBe(page.items[page.items.length - 1]!.key);
          cursor = page.next_cursor;
          expect(pages).toBeLessThan(30);
        } while (cursor);
        expect(seen).toEqual(expected);
        expect(pages).toBe(Math.ceil(21 / limit));
      }
    }, CONTRACT_TIMEOUT_MS);

    test("delete returns deleted: true, then false; the object is gone", async () => {
      const src = await localFile(10);
      await storage.put_file({ key: "del/a.bin", path: src.path });
      await storage.put_file({ key: "del/b.bin", path: src.path });
      expect(await storage.delete({ key: "del/a.bin" })).toEqual({ deleted: true });
      expect(await storage.delete({ key: "del/a.bin" })).toEqual({ deleted: false });
      expect(await storage.delete({ key: "never/was.bin" })).toEqual({ deleted: false });
      expect(await codeOf(storage.stat({ key: "del/a.bin" }))).toBe("WE-STO-001");
      expect(await keysOf("del/")).toEqual(["del/b.bin"]);
    }, CONTRACT_TIMEOUT_MS);

    test("more than 1000 keys: list pages past 1000, delete_prefix removes exactly the keys under the prefix, leaving siblings", async () => {
      const one = await localFile(1);
      const keys = Array.from({ length: 1005 }, (_, i) => `bulk/d${i % 10}/k${String(i).padStart(4, "0")}`);
      const siblings = ["bulkx/a", "bul/a", "other/bulk/a", "bulk-2/a"];
      for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((key) => storage.put_file({ key, path: one.path })));
      for (const key of siblings) await storage.put_file({ key, path: one.path });
      // Listing past 1000: the default limit is 1000, a larger limit spans backend pages.
      const first = await storage.list({ prefix: "bulk/" });
      expect(first.items).toHaveLength(1000);
      expect(first.next_cursor).toBe(first.items[999]!.key);
      const rest = await storage.list({ prefix: "bulk/", cursor: first.next_cursor! });
      expect(rest.items).toHaveLength(5);
      expect(rest.next_cursor).toBeUndefined();
      expect([...first.items, ...rest.items].map((i) => i.key)).toEqual([...keys].sort());
      expect((await storage.list({ prefix: "bulk/", limit: 2000 })).items).toHaveLength(1005);
      expect(await storage.delete_prefix({ prefix: "bulk/" })).toEqual({ deleted: 1005 });
      expect(await keysOf("bulk/")).toEqual([]);
      expect(await keysOf("")).toEqual([...siblings].sort());
      for (const key of siblings) expect((await storage.stat({ key })).size).toBe(1);
      expect(await storage.delete_prefix({ prefix: "bulk/" })).toEqual({ deleted: 0 });
      expect(await codeOf(storage.delete_prefix({ prefix: "" }))).toBe("WE-STO-002");
      expect(await keysOf("")).toHaveLength(siblings.length);
    }, CONTRACT_TIMEOUT_MS);

    test("read_url serves the exact bytes; write_url accepts a PUT that stores the object", async () => {
      const src = await localFile(50_001);
      await storage.put_file({ key: "url/r.bin", path: src.path });
      const r = await storage.read_url({ key: "url/r.bin", expires_in: 60 });
      expect(Math.abs(Date.parse(r.expires_at) - (Date.now() + 60_000))).toBeLessThan(30_000); // seconds, not ms: off by 60 s
      const got = await fetch(r.url);
      expect(got.status).toBe(200);
      expect(sameBytes(new Uint8Array(await got.arrayBuffer()), src.bytes)).toBe(true);

      const body = new Uint8Array(randomBytes(33_333));
      const w = await storage.write_url({ key: "url/w.ts", expires_in: 60, content_type: "video/mp2t" });
      expect(w.method).toBe("PUT");
      const put = await fetch(w.url, { method: w.method, headers: w.headers, body });
      expect(put.ok).toBe(true);
      expect((await storage.stat({ key: "url/w.ts" })).size).toBe(33_333);
      expect(sameBytes(await download("url/w.ts"), body)).toBe(true);
    }, CONTRACT_TIMEOUT_MS);

    test("read and write URLs stop working after they expire", async () => {
      const src = await localFile(100);
      await storage.put_file({ key: "exp/r.bin", path: src.path });
      const r = await storage.read_url({ key: "exp/r.bin", expires_in: 2 });
      const w = await storage.write_url({ key: "exp/w.bin", expires_in: 2 });
      const first = await fetch(r.url);
      expect(first.status).toBe(200);
      await first.arrayBuffer();
      await waitFor(async () => (await fetch(r.url).then((res) => (res.body?.cancel(), res.status))) === 403, 6000, "the read URL to expire (403)", 200);
      const late = await fetch(w.url, { method: w.method, headers: w.headers, body: new Uint8Array(10) });
      expect(late.status).toBe(403);
      expect(await codeOf(storage.stat({ key: "exp/w.bin" }))).toBe("WE-STO-001");
    }, CONTRACT_TIMEOUT_MS);

    test("read_url with a scope_prefix still reads the key; a scope that is not a prefix of the key is refused", async () => {
      const src = await localFile(64);
      await storage.put_file({ key: "hls/v0/seg1.ts", path: src.path });
      const r = await storage.read_url({ key: "hls/v0/seg1.ts", expires_in: 60, scope_prefix: "hls/" });
      const got = await fetch(r.url);
      expect(sameBytes(new Uint8Array(await got.arrayBuffer()), src.bytes)).toBe(true);
      expect(await codeOf(storage.read_url({ key: "hls/v0/seg1.ts", expires_in: 60, scope_prefix: "other/" }))).toBe("WE-STO-002");
    }, CONTRACT_TIMEOUT_MS);

    test("keys with spaces, reserved URL characters and unicode round-trip (put, stat, list, get, URL)", async () => {
      const keys = ["uni/with space/file name.mp4", "uni/ünïcödé/日本語.ts", "uni/emoji-🎬.bin", "uni/p+l%u;s,=&@$!'()~.txt"];
      const files = new Map<string, Uint8Array>();
      for (const key of keys) {
        const f = await localFile(100 + files.size);
        files.set(key, f.bytes);
        await storage.put_file({ key, path: f.path });
      }
      expect(await keysOf("uni/")).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
      for (const key of keys) {
        expect((await storage.stat({ key })).size).toBe(files.get(key)!.length);
        expect(sameBytes(await download(key), files.get(key)!)).toBe(true);
        const res = await fetch((await storage.read_url({ key, expires_in: 60 })).url);
        expect(res.status).toBe(200);
        expect(sameBytes(new Uint8Array(await res.arrayBuffer()), files.get(key)!)).toBe(true);
      }
    }, CONTRACT_TIMEOUT_MS);

    test("keys that break the shared key rules are refused with WE-STO-002 by every backend", async () => {
      const src = await localFile(1);
      for (const key of ["", "/abs", "../x", "a/../../x", "a//b", "a/./b", "dir/", "a\\b", "a\u0000b", "x".repeat(2000), `${"s".repeat(256)}/x`, ".we-tmp-x"]) {
        expect(await codeOf(storage.put_file({ key, path: src.path }))).toBe("WE-STO-002");
        expect(await codeOf(storage.stat({ key }))).toBe("WE-STO-002");
      }
      expect(await keysOf("")).toEqual([]);
    }, CONTRACT_TIMEOUT_MS);

    test("put_file of a missing local file rejects and creates nothing", async () => {
      expect(await codeOf(storage.put_file({ key: "nosrc/a", path: join(scratch, "does-not-exist") }))).toBe("WE-STO-001");
      expect(await keysOf("")).toEqual([]);
    }, CONTRACT_TIMEOUT_MS);
  });
}
