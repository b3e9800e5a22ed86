import { describe, expect, test } from "bun:test";
import { settingsForWorker } from "../../src/plugin-runtime/remote-settings.ts";
import { replyKeyPair, replyKeyProblem, sealReply } from "../../src/plugin-runtime/sealed-reply.ts";

describe("sealed replies", () => {
  test("only the requester's key opens the reply; the ciphertext does not carry the plaintext", async () => {
    const keys = await replyKeyPair();
    const sealed = await sealReply(keys.publicKey, { secret_access_key: "very-secret-value" });
    expect(JSON.stringify(sealed)).not.toContain("very-secret-value");
    expect(await keys.open(sealed)).toEqual({ secret_access_key: "very-secret-value" });
    const other = await replyKeyPair();
    await expect(other.open(sealed)).rejects.toThrow();
  });

  test("a tampered reply is refused (AES-GCM authenticates it)", async () => {
    const keys = await replyKeyPair();
    const sealed = await sealReply(keys.publicKey, { a: 1 });
    const ct = Buffer.from(sealed.ct, "base64url");
    ct[0]! ^= 1;
    await expect(keys.open({ ...sealed, ct: ct.toString("base64url") })).rejects.toThrow();
    await expect(keys.open({ a: 1 })).rejects.toThrow("not a sealed reply");
  });

  test("reply keys must be 32-byte base64url X25519 keys", async () => {
    expect(replyKeyProblem((await replyKeyPair()).publicKey)).toBeUndefined();
    for (const bad of [undefined, "", "abc", "x".repeat(44), 42]) expect(replyKeyProblem(bad)).toContain("reply_key");
    await expect(sealReply("short", {})).rejects.toThrow("reply_key");
  });
});

describe("settingsForWorker", () => {
  const fs = { enabled: true, config: { root: "/srv/media", url_signing_key: "k" } };
  const s3 = { enabled: true, config: { bucket: "b", access_key_id: "AK", secret_access_key: "SK" } };
  const s3Info = { pillar: "storage" as const, secretFields: ["access_key_id", "secret_access_key"] };

  test("the storage-fs signing key never goes to workers, even on an authenticated bus", () => {
    expect(settingsForWorker("storage-fs", fs, { pillar: "storage", secretFields: ["url_signing_key"] }, true)).toEqual({ settings: { enabled: true, config: { root: "/srv/media" } }, withheld: [] });
  });

  test("secrets go on an authenticated bus, are withheld (and named) on an open one", () => {
    expect(settingsForWorker("storage-s3", s3, s3Info, true).settings).toEqual(s3);
    expect(settingsForWorker("storage-s3", s3, s3Info, false)).toEqual({ settings: { enabled: true, config: { bucket: "b" } }, withheld: ["access_key_id", "secret_access_key"] });
  });

  test("kernel-hosted pillars and unknown plugins: nothing", () => {
    expect(settingsForWorker("auth-basic", { enabled: true, config: { session_secret: "x" } }, { pillar: "auth", secretFields: [] }, true).settings).toBeNull();
    expect(settingsForWorker("mystery", s3, undefined, true).settings).toBeNull();
    expect(settingsForWorker("storage-s3", undefined, s3Info, true).settings).toBeNull();
  });
});
