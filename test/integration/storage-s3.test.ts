/**
 * storage-s3 against a real S3-compatible server: s3rver (npm) started here on a free port, with its data in
 * a temp directory. The storage contract, plus credentials, unreachable endpoints, prefixes and buckets.
 *
 * s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node ≥ 17) only has in
 * its legacy provider: without `--openssl-legacy-provider` every truncated listing is a 500 InternalError.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import * as v from "valibot";
import plugin from "../../plugins/storage-s3/plugin.ts";
import { s3Error } from "../../plugins/storage-s3/errors.ts";
import { PART_SIZE, type S3Storage } from "../../plugins/storage-s3/store.ts";
import { type PluginLog, manifestOf } from "../../src/plugin-runtime/sdk.ts";
import { CONTRACT_TIMEOUT_MS, type StorageClient, codeOf, runStorageContract, sha256File, storageClient, writeRandomFile } from "../contract/storage.contract.ts";

const BUCKET = "webencode-test";
const quiet: PluginLog = { debug() {}, info() {}, warn() {}, error() {} };
const S3RVER_BIN = resolve(import.meta.dir, "../../node_modules/.bin/s3rver");

let s3rver: Subprocess<"ignore", "pipe", "pipe"> | undefined;
let endpoint = "";
let dataDir = "";
let scratch = "";

/** Starts s3rver on port 0 and reads the port it printed. */
async function startS3rver(): Promise<void> {
  dataDir = await mkdtemp(join(tmpdir(), "we-s3rver-"));
  s3rver = Bun.spawn([S3RVER_BIN, "-d", dataDir, "-a", "127.0.0.1", "-p", "0", "-s", "--configure-bucket", BUCKET], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NODE_OPTIONS: "--openssl-legacy-provider" },
  });
  const decoder = new TextDecoder();
  let out = "";
  const deadline = Date.now() + 20_000;
  const reader = s3rver.stdout.getReader();
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += decoder.decode(value, { stream: true });
      const m = /listening on ([\d.]+):(\d+)/.exec(out);
      if (m) {
        endpoint = `http://${m[1]}:${m[2]}`;
        return;
      }
    }
  } finally {
    reader.releaseLock();
  }
  throw new Error(`s3rver did not start: ${out}${await new Response(s3rver.stderr).text()}`);
}

/** A freshly closed local port: connections to it are refused. */
function closedPort(): number {
  const l = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = l.port;
  l.stop(true);
  return port;
}

async function makeS3(overrides: Record<string, unknown> = {}): Promise<{ impl: S3Storage; storage: StorageClient; prefix: string }> {
  const prefix = `run-${randomUUID()}/`;
  const config = v.parse(plugin.config, {
    endpoint,
    bucket: BUCKET,
    prefix,
    force_path_style: true,
    access_key_id: "S3RVER",
    secret_access_key: "S3RVER",
    ...overrides,
  });
  const impl = await plugin.create({ config, env: {}, log: quiet });
  return { impl, storage: storageClient(impl), prefix: config.prefix ?? "" };
}

beforeAll(async () => {
  await startS3rver();
  scratch = await mkdtemp(join(tmpdir(), "we-s3-test-"));
}, 30_000);

afterAll(async () => {
  if (s3rver) {
    s3rver.kill();
    await s3rver.exited;
  }
  await rm(dataDir, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
}, 30_000);

runStorageContract("storage-s3 (s3rver)", async () => {
  // Each test gets its own key prefix inside the bucket: an empty storage, and the `prefix` setting exercised.
  const { impl, storage } = await makeS3();
  return { storage, cleanup: async () => impl.close() };
});

describe("storage-s3", () => {
  const srcFile = async (text = "hello"): Promise<string> => {
    const p = join(scratch, `src-${randomUUID()}`);
    await writeFile(p, text);
    return p;
  };

  test("manifest and config schema", () => {
    expect(manifestOf(plugin)).toMatchObject({ id: "storage-s3", pillar: "storage", schemes: ["s3"], priority: 90, secret_fields: ["access_key_id", "secret_access_key"] });
    expect(v.safeParse(plugin.config, {}).success).toBe(false);
    expect(v.safeParse(plugin.config, { bucket: "b", access_key_id: "only-one" }).success).toBe(false);
    expect(v.parse(plugin.config, { bucket: "b" })).toMatchObject({ region: "us-east-1", force_path_style: false, create_bucket: false, prefix: "" });
  }, CONTRACT_TIMEOUT_MS);

  test("health is ok against s3rver, and objects live under the configured prefix", async () => {
    const { impl, storage } = await makeS3({ prefix: `pfx-${randomUUID()}` }); // no trailing "/": one is added
    const bare = await makeS3({ prefix: "" });
    try {
      expect(await impl.health()).toEqual({ status: "ok" });
      await storage.put_file({ key: "a/b.txt", path: await srcFile() });
      const listed = (await bare.storage.list({ prefix: "pfx-" })).items.map((i) => i.key);
      expect(listed.filter((k) => k.endsWith("/a/b.txt"))).toHaveLength(1);
      expect(listed.find((k) => k.endsWith("/a/b.txt"))).toMatch(/^pfx-[0-9a-f-]{36}\/a\/b\.txt$/);
      expect(await storage.local_path({ key: "a/b.txt" })).toEqual({ path: null });
    } finally {
      await impl.close();
      await bare.impl.close();
    }
  }, CONTRACT_TIMEOUT_MS);

  test("a file larger than the part size goes up as a multipart upload, parts in order", async () => {
    const { impl, storage } = await makeS3();
    const commands: string[] = [];
    impl.client.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push(String((context as { commandName?: string }).commandName));
        return next(args);
      },
      { step: "initialize", name: "recordCommands" },
    );
    try {
      const path = join(scratch, "multi.bin");
      const sha = await writeRandomFile(path, 2 * PART_SIZE + 1000); // 3 parts
      expect((await storage.put_file({ key: "m.bin", path })).size).toBe(2 * PART_SIZE + 1000);
      expect(commands.filter((c) => c === "CreateMultipartUploadCommand")).toHaveLength(1);
      expect(commands.filter((c) => c === "UploadPartCommand")).toHaveLength(3);
      expect(commands.filter((c) => c === "CompleteMultipartUploadCommand")).toHaveLength(1);
      expect(commands).not.toContain("PutObjectCommand");
      const out = join(scratch, "multi.out");
      await storage.get_file({ key: "m.bin", path: out });
      expect(await sha256File(out)).toBe(sha);
    } finally {
      await impl.close();
    }
  }, CONTRACT_TIMEOUT_MS);

  test("wrong access key id → WE-STO-002 (InvalidAccessKeyId; s3rver checks the key id)", async () => {
    const { impl, storage } = await makeS3({ access_key_id: "NOT-S3RVER" });
    try {
      expect(await codeOf(storage.stat({ key: "x" }))).toBe("WE-STO-002");
      expect(await codeOf(storage.put_file({ key: "x", path: await srcFile() }))).toBe("WE-STO-002");
      expect(await codeOf(storage.list({ prefix: "" }))).toBe("WE-STO-002");
      expect((await impl.health()).status).toBe("degraded");
    } finally {
      await impl.close();
    }
  }, CONTRACT_TIMEOUT_MS);

  test("wrong secret access key: s3rver does not verify SigV4 signatures (only the key id), so the call succeeds", async () => {
    // Real S3 answers 403 SignatureDoesNotMatch, mapped to WE-STO-002 (see the error mapping test below).
    const { impl, storage } = await makeS3({ secret_access_key: "wrong-secret" });
    try {
      expect((await storage.put_file({ key: "x", path: await srcFile() })).size).toBe(5);
      expect((await storage.stat({ key: "x" })).size).toBe(5);
    } finally {
      await impl.close();
    }
  }, CONTRACT_TIMEOUT_MS);

  test("error mapping: S3 error names and statuses → catalogue codes", () => {
    const code = (e: unknown) => (s3Error(e, "stat", "k") as { code?: string }).code;
    expect(code({ name: "NoSuchKey", $metadata: { httpStatusCode: 404 } })).toBe("WE-STO-001");
    expect(code({ name: "NotFound", $metadata: { httpStatusCode: 404 } })).toBe("WE-STO-001");
    expect(code({ name: "AccessDenied", $metadata: { httpStatusCode: 403 } })).toBe("WE-STO-002");
    expect(code({ name: "InvalidAccessKeyId", $metadata: { httpStatusCode: 403 } })).toBe("WE-STO-002");
    expect(code({ name: "SignatureDoesNotMatch", $metadata: { httpStatusCode: 403 } })).toBe("WE-STO-002");
    expect(code({ name: "Forbidden", $metadata: { httpStatusCode: 403 } })).toBe("WE-STO-002");
    expect(code({ name: "XMinioStorageFull", $metadata: { httpStatusCode: 507 } })).toBe("WE-STO-003");
    expect(code({ name: "NoSuchBucket", $metadata: { httpStatusCode: 404 } })).toBe("WE-STO-004");
    expect(code({ name: "InternalError", $metadata: { httpStatusCode: 500 } })).toBe("WE-STO-004");
    expect(code(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe("WE-STO-004");
    expect(code({ name: "TimeoutError", message: "socket timed out" })).toBe("WE-STO-004");
  });

  test("an unreachable endpoint → WE-STO-004 promptly, health degraded", async () => {
    const { impl, storage } = await makeS3({ endpoint: `http://127.0.0.1:${closedPort()}` });
    try {
      const t0 = Date.now();
      const e = (await storage.stat({ key: "x" }).catch((x) => x)) as { code: string; message: string };
      expect(e.code).toBe("WE-STO-004");
      expect(e.message).toContain("unreachable");
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(await codeOf(storage.put_file({ key: "x", path: await srcFile() }))).toBe("WE-STO-004");
      const h = await impl.health();
      expect(h.status).toBe("degraded");
      expect(Date.now() - t0).toBeLessThan(15_000);
    } finally {
      await impl.close();
    }
  }, CONTRACT_TIMEOUT_MS);

  test("create_bucket creates a missing bucket (and accepts an existing one); without it health says the bucket is missing", async () => {
    const name = `made-${randomUUID().slice(0, 8)}`;
    const missing = await makeS3({ bucket: name });
    try {
      const h = await missing.impl.health();
      expect(h.status).toBe("degraded");
      expect(h.detail).toContain("does not exist");
    } finally {
      await missing.impl.close();
    }
    const made = await makeS3({ bucket: name, create_bucket: true, prefix: "" });
    const again = await makeS3({ bucket: name, create_bucket: true, prefix: "" });
    try {
      expect(await made.impl.health()).toEqual({ status: "ok" });
      await made.storage.put_file({ key: "k", path: await srcFile("abc") });
      expect((await again.storage.stat({ key: "k" })).size).toBe(3);
    } finally {
      await made.impl.close();
      await again.impl.close();
    }
  }, CONTRACT_TIMEOUT_MS);

  test("write_url with a content type: the PUT stores it; presigned URLs point at the endpoint", async () => {
    const { impl, storage } = await makeS3();
    try {
      const w = await storage.write_url({ key: "ct/a.m3u8", expires_in: 60, content_type: "application/vnd.apple.mpegurl" });
      expect(w.url.startsWith(`${endpoint}/${BUCKET}/`)).toBe(true);
      expect(w.headers).toEqual({ "content-type": "application/vnd.apple.mpegurl" });
      expect((await fetch(w.url, { method: "PUT", headers: w.headers, body: "#EXTM3U\n" })).status).toBe(200);
      const r = await storage.read_url({ key: "ct/a.m3u8", expires_in: 60 });
      const res = await fetch(r.url);
      expect(res.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
      expect(await res.text()).toBe("#EXTM3U\n");
      expect(await codeOf(storage.read_url({ key: "ct/a.m3u8", expires_in: 8 * 24 * 3600 }))).toBe("WE-REQ-001");
    } finally {
      await impl.close();
    }
  }, CONTRACT_TIMEOUT_MS);
});
