/** storage-fs: the storage contract, plus confinement (path escapes, symlinks), atomicity and signed URLs. */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, open, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import plugin from "../../plugins/storage-fs/plugin.ts";
import { signToken, verifyToken } from "../../src/plugin-runtime/shared/url-signing.ts";
import type { FsStorage } from "../../plugins/storage-fs/store.ts";
import { manifestOf, type PluginLog } from "../../src/plugin-runtime/sdk.ts";
import { type StorageClient, codeOf, runStorageContract, storageClient } from "../contract/storage.contract.ts";
import { type FsUrlServer, startFsUrlServer } from "../helpers/fs-url-server.ts";
import { waitFor } from "../helpers/wait.ts";

const SECRET = "contract-test-signing-key";
const quiet: PluginLog = { debug() {}, info() {}, warn() {}, error() {} };

interface FsFixture {
  dir: string;
  root: string;
  impl: FsStorage;
  storage: StorageClient;
  server: FsUrlServer;
  cleanup(): Promise<void>;
}

/** A storage-fs on a fresh temp root (`<dir>/root`), with a URL server standing in for the kernel route. */
async function makeFs(signingKey: string | null = SECRET): Promise<FsFixture> {
  const dir = await mkdtemp(join(tmpdir(), "we-storage-fs-"));
  const root = join(dir, "root");
  let storage: StorageClient | undefined;
  const server = startFsUrlServer({ secret: SECRET, backend: () => storage!, spoolDir: dir });
  const config = v.parse(plugin.config, { root, public_base_url: server.url, ...(signingKey ? { url_signing_key: signingKey } : {}) });
  const created = await plugin.create({ config, env: {}, log: quiet });
  storage = storageClient(created);
  return {
    dir,
    root,
    impl: created,
    storage,
    server,
    async cleanup() {
      await server.stop();
      await created.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

runStorageContract("storage-fs", async () => {
  const f = await makeFs();
  return { storage: f.storage, cleanup: f.cleanup };
});

describe("storage-fs", () => {
  let f: FsFixture;
  let s: StorageClient;
  let src: string;
  beforeEach(async () => {
    f = await makeFs();
    s = f.storage;
    src = join(f.dir, "src.bin");
    await writeFile(src, "hello");
  });
  afterEach(async () => {
    await f.cleanup();
  });

  const errorOf = async (p: Promise<unknown>): Promise<{ code?: string; message: string }> => {
    try {
      await p;
    } catch (e) {
      return e as { code?: string; message: string };
    }
    throw new Error("expected a rejection, but the call succeeded");
  };

  test("manifest and config schema", () => {
    const m = manifestOf(plugin);
    expect(m).toMatchObject({ id: "storage-fs", pillar: "storage", schemes: ["file", "fs"], priority: 100, secret_fields: ["url_signing_key"], env: [] });
    expect(v.safeParse(plugin.config, { root: "" }).success).toBe(false);
    expect(v.safeParse(plugin.config, { root: "/x", public_base_url: "not a url" }).success).toBe(false);
    expect(v.parse(plugin.config, { root: "/x" }).public_base_url).toBe("http://127.0.0.1:8080");
  });

  const escapes: Array<[string, string]> = [
    ["../x", '".." segment'],
    ["a/../../x", '".." segment'],
    ["/etc/passwd", "absolute"],
    ["a\\b", "backslash"],
    ["a\u0000b", "NUL byte"],
    ["k".repeat(2000), "longer than 1024 bytes"],
    [`a/${"s".repeat(300)}`, "segment longer than 255 bytes"],
  ];
  for (const [key, rule] of escapes) {
    test(`key ${JSON.stringify(key.length > 40 ? `${key.slice(0, 12)}…(${key.length})` : key)} is refused by every method (${rule})`, async () => {
      const calls: Array<[string, Promise<unknown>]> = [
        ["put_file", s.put_file({ key, path: src })],
        ["get_file", s.get_file({ key, path: join(f.dir, "out.bin") })],
        ["stat", s.stat({ key })],
        ["delete", s.delete({ key })],
        ["local_path", s.local_path({ key })],
        ["read_url", s.read_url({ key, expires_in: 60 })],
        ["write_url", s.write_url({ key, expires_in: 60 })],
      ];
      for (const [method, call] of calls) {
        const e = await errorOf(call);
        expect({ method, code: e.code }).toEqual({ method, code: "WE-STO-002" });
        expect(e.message).toContain(rule);
        expect(e.message).toContain(JSON.stringify(key.slice(0, 20)).slice(0, -1));
      }
      expect((await readdir(f.dir)).sort()).toEqual(["root", "src.bin"]);
    });
  }

  test("prefixes that escape are refused too", async () => {
    for (const prefix of ["../", "a/../../", "/etc/", "a\\b/"]) {
      expect(await codeOf(s.list({ prefix }))).toBe("WE-STO-002");
      expect(await codeOf(s.delete_prefix({ prefix }))).toBe("WE-STO-002");
    }
  });

  describe("symlinks", () => {
    let outside: string;
    beforeEach(async () => {
      outside = join(f.dir, "outside");
      await mkdir(outside);
      await writeFile(join(outside, "secret.txt"), "top secret");
      await symlink(outside, join(f.root, "link"));
      await symlink(join(outside, "secret.txt"), join(f.root, "evil.txt"));
      await symlink("/nonexistent-we-test/dir", join(f.root, "dangling"));
    });

    test("writing through a symlink that leaves the root is refused and writes nothing outside", async () => {
      for (const key of ["link/new.bin", "link/sub/new.bin", "evil.txt", "dangling/x.bin"]) {
        const e = await errorOf(s.put_file({ key, path: src }));
        expect({ key, code: e.code }).toEqual({ key, code: "WE-STO-002" });
        expect(e.message).toContain("symbolic link");
      }
      expect((await readdir(outside)).sort()).toEqual(["secret.txt"]);
      expect(await Bun.file(join(outside, "secret.txt")).text()).toBe("top secret");
      expect(existsSync("/nonexistent-we-test")).toBe(false);
    });

    test("reading through a symlink that leaves the root is refused", async () => {
      for (const key of ["link/secret.txt", "evil.txt"]) {
        expect(await codeOf(s.stat({ key }))).toBe("WE-STO-002");
        expect(await codeOf(s.get_file({ key, path: join(f.dir, "stolen.txt") }))).toBe("WE-STO-002");
        expect(await codeOf(s.local_path({ key }))).toBe("WE-STO-002");
        expect(await codeOf(s.delete({ key }))).toBe("WE-STO-002");
      }
      expect(await Bun.file(join(f.dir, "stolen.txt")).exists()).toBe(false);
      expect(await codeOf(s.list({ prefix: "link/" }))).toBe("WE-STO-002");
      expect(await codeOf(s.delete_prefix({ prefix: "link/" }))).toBe("WE-STO-002");
      expect((await s.list({ prefix: "" })).items).toEqual([]);
      expect(await Bun.file(join(outside, "secret.txt")).text()).toBe("top secret");
      // A valid token does not help either: the server's local_path refuses.
      const token = signToken(SECRET, "link/secret.txt", Math.ceil(Date.now() / 1000) + 60, "t");
      expect((await fetch(`${f.server.url}/v1/storage/storage-fs/t/${token}/link/secret.txt`)).status).toBe(403);
    });

    test("a symlink to a file inside the root is an ordinary object", async () => {
      await s.put_file({ key: "real/a.txt", path: src });
      await symlink(join(f.root, "real", "a.txt"), join(f.root, "alias.txt"));
      expect((await s.stat({ key: "alias.txt" })).size).toBe(5);
      expect((await s.list({ prefix: "" })).items.map((i) => i.key)).toEqual(["alias.txt", "real/a.txt"]);
    });
  });

  test("a put is atomic: the key appears only complete, and temp files are never listed", async () => {
    const fifo = join(f.dir, "fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    await s.put_file({ key: "atomic/other.bin", path: src });
    const putting = s.put_file({ key: "atomic/big.bin", path: fifo });
    const writer = await open(fifo, "w");
    const chunk = Buffer.alloc(1 << 20, 7);
    await writer.write(chunk);
    // The write is in progress: its temp file holds data…
    const dir = join(f.root, "atomic");
    await waitFor(async () => (await readdir(dir)).some((n) => n.startsWith(".we-tmp-") && Bun.file(join(dir, n)).size > 0), 5000, "the temp file to receive data");
    // …yet the key is not visible, and listings show neither it nor the temp file.
    expect(await codeOf(s.stat({ key: "atomic/big.bin" }))).toBe("WE-STO-001");
    expect((await s.list({ prefix: "atomic/" })).items.map((i) => i.key)).toEqual(["atomic/other.bin"]);
    expect((await s.list({ prefix: "" })).items.map((i) => i.key)).toEqual(["atomic/other.bin"]);
    for (let i = 0; i < 3; i++) await writer.write(chunk);
    await writer.close();
    expect((await putting).size).toBe(4 << 20);
    expect((await s.stat({ key: "atomic/big.bin" })).size).toBe(4 << 20);
    expect((await readdir(dir)).sort()).toEqual(["big.bin", "other.bin"]);
  });

  test("keys sort by UTF-8 bytes, with directories in their place", async () => {
    const keys = ["ord/a-b", "ord/a/c", "ord/a.d", "ord/a0", "ord/é", "ord/\u{1F600}", "ord/\uFFFD", "ord/Z"];
    for (const key of keys) await s.put_file({ key, path: src });
    const expected = ["ord/Z", "ord/a-b", "ord/a.d", "ord/a/c", "ord/a0", "ord/é", "ord/\uFFFD", "ord/\u{1F600}"];
    expect((await s.list({ prefix: "ord/" })).items.map((i) => i.key)).toEqual(expected);
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await s.list({ prefix: "ord/", limit: 1, ...(cursor ? { cursor } : {}) });
      paged.push(...page.items.map((i) => i.key));
      cursor = page.next_cursor;
    } while (cursor);
    expect(paged).toEqual(expected);
  });

  test("delete and delete_prefix remove directories left empty, and only those", async () => {
    for (const key of ["tree/a/b/c.bin", "tree/a/d.bin", "tree/keep.bin", "solo/x/y/z.bin"]) await s.put_file({ key, path: src });
    expect(await s.delete_prefix({ prefix: "tree/a/" })).toEqual({ deleted: 2 });
    expect(await readdir(join(f.root, "tree"))).toEqual(["keep.bin"]);
    expect(await s.delete({ key: "solo/x/y/z.bin" })).toEqual({ deleted: true });
    expect((await readdir(f.root)).sort()).toEqual(["tree"]);
    expect(await s.delete_prefix({ prefix: "tree/" })).toEqual({ deleted: 1 });
    expect(await readdir(f.root)).toEqual([]);
  });

  test("a key cannot be both an object and a directory", async () => {
    await s.put_file({ key: "c", path: src });
    expect(await codeOf(s.put_file({ key: "c/d", path: src }))).toBe("WE-STO-002");
    await s.put_file({ key: "e/f", path: src });
    expect(await codeOf(s.put_file({ key: "e", path: src }))).toBe("WE-STO-002");
    expect(await s.delete({ key: "e" })).toEqual({ deleted: false });
    expect((await s.list({ prefix: "" })).items.map((i) => i.key)).toEqual(["c", "e/f"]);
  });

  test("stray temp files are not listed and not deleted as objects", async () => {
    await s.put_file({ key: "t/a.bin", path: src });
    await writeFile(join(f.root, "t", ".we-tmp-stray"), "partial");
    expect((await s.list({ prefix: "t/" })).items.map((i) => i.key)).toEqual(["t/a.bin"]);
    expect(await s.delete_prefix({ prefix: "t/" })).toEqual({ deleted: 1 });
  });

  test("local_path is the absolute path inside the root; missing → WE-STO-001", async () => {
    await s.put_file({ key: "lp/a.txt", path: src });
    expect(await s.local_path({ key: "lp/a.txt" })).toEqual({ path: join(f.root, "lp", "a.txt") });
    expect(await codeOf(s.local_path({ key: "lp/b.txt" }))).toBe("WE-STO-001");
  });

  test("a scoped read URL covers every key under its scope (relative HLS URLs resolve) and nothing else", async () => {
    for (const key of ["hls/master.m3u8", "hls/v0/seg1.ts", "hls-other/x.ts"]) await s.put_file({ key, path: src });
    const scoped = await s.read_url({ key: "hls/master.m3u8", expires_in: 60, scope_prefix: "hls/" });
    expect(scoped.url.startsWith(`${f.server.url}/v1/storage/storage-fs/t/`)).toBe(true);
    expect(await (await fetch(scoped.url)).text()).toBe("hello");
    expect(await (await fetch(new URL("v0/seg1.ts", scoped.url))).text()).toBe("hello");
    expect((await fetch(new URL("../hls-other/x.ts", scoped.url))).status).toBe(403);
    const single = await s.read_url({ key: "hls/master.m3u8", expires_in: 60 });
    expect((await fetch(new URL("v0/seg1.ts", single.url))).status).toBe(403);
    expect(await codeOf(s.read_url({ key: "hls/master.m3u8", expires_in: 60, scope_prefix: "hls" }))).toBe("WE-STO-002");
    expect(await codeOf(s.read_url({ key: "hls/master.m3u8", expires_in: 0 }))).toBe("WE-REQ-001");
  });

  test("read tokens cannot write and write tokens cannot read", async () => {
    await s.put_file({ key: "tok/a.txt", path: src });
    const r = await s.read_url({ key: "tok/a.txt", expires_in: 60 });
    const asWrite = r.url.replace("/storage-fs/t/", "/storage-fs/w/");
    expect((await fetch(asWrite, { method: "PUT", body: "overwritten" })).status).toBe(403);
    const w = await s.write_url({ key: "tok/a.txt", expires_in: 60 });
    expect(w.url).toContain("/v1/storage/storage-fs/w/");
    expect((await fetch(w.url.replace("/storage-fs/w/", "/storage-fs/t/"))).status).toBe(403);
    expect(await Bun.file(join(f.root, "tok", "a.txt")).text()).toBe("hello");
  });

  test("signToken/verifyToken: key, scope, type, expiry and tampering", () => {
    const exp = 2_000_000_000;
    const t = signToken(SECRET, "a/b/", exp, "t");
    expect(t).toMatch(/^2000000000\.[A-Za-z0-9_-]{43}$/);
    expect(verifyToken(SECRET, t, "a/b/c.ts", "t", exp - 1)).toBe(true);
    expect(verifyToken(SECRET, t, "a/b/d/e.ts", "t", exp - 1)).toBe(true);
    expect(verifyToken(SECRET, t, "a/bc.ts", "t", exp - 1)).toBe(false);
    expect(verifyToken(SECRET, t, "a/b/c.ts", "t", exp)).toBe(false);
    expect(verifyToken(SECRET, t, "a/b/c.ts", "w", exp - 1)).toBe(false);
    expect(verifyToken("other-key", t, "a/b/c.ts", "t", exp - 1)).toBe(false);
    expect(verifyToken(SECRET, t, "a/b/../../etc/passwd", "t", exp - 1)).toBe(false);
    expect(verifyToken(SECRET, `${exp + 1000}${t.slice(10)}`, "a/b/c.ts", "t", exp - 1)).toBe(false);
    const flipped = t.slice(0, -1) + (t.endsWith("A") ? "B" : "A");
    expect(verifyToken(SECRET, flipped, "a/b/c.ts", "t", exp - 1)).toBe(false);
    const w = signToken(SECRET, "a/b/c.ts", exp, "w");
    expect(verifyToken(SECRET, w, "a/b/c.ts", "w", exp - 1)).toBe(true);
    expect(verifyToken(SECRET, w, "a/b/c.ts", "t", exp - 1)).toBe(false);
    // Write tokens are exact: one signed for a directory does not cover keys under it.
    expect(verifyToken(SECRET, signToken(SECRET, "a/b/", exp, "w"), "a/b/c.ts", "w", exp - 1)).toBe(false);
  });

  test("health: ok while the root is writable, degraded (and not recreated) once it is gone", async () => {
    expect(await f.impl.health()).toEqual({ status: "ok" });
    await rm(f.root, { recursive: true });
    const h = await f.impl.health();
    expect(h.status).toBe("degraded");
    expect(h.detail).toContain(f.root);
    expect(existsSync(f.root)).toBe(false);
    expect(await codeOf(s.stat({ key: "a" }))).toBe("WE-STO-004");
  });
});

describe("storage-fs without url_signing_key", () => {
  test("read_url and write_url fail with WE-STO-004, everything else works", async () => {
    const f = await makeFs(null);
    try {
      const e = (await f.storage.read_url({ key: "a.txt", expires_in: 60 }).catch((x) => x)) as { code: string; message: string };
      expect(e.code).toBe("WE-STO-004");
      expect(e.message).toBe("storage-fs: url_signing_key is not configured");
      expect(await codeOf(f.storage.write_url({ key: "a.txt", expires_in: 60 }))).toBe("WE-STO-004");
      await writeFile(join(f.dir, "s"), "x");
      expect((await f.storage.put_file({ key: "a.txt", path: join(f.dir, "s") })).size).toBe(1);
    } finally {
      await f.cleanup();
    }
  });
});
