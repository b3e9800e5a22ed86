/**
 * First-run settings that used to look accepted and then fail, against a real kernel (PostgreSQL, storage-fs):
 * - ADMIN_API_KEY at both ends of its documented range authenticates (a key without the we_ prefix is refused
 *   at start: test/unit/config.test.ts, test/e2e/first-run-errors.test.ts);
 * - signed media links answer cross-origin requests (MEDIA_CORS_ORIGINS, default `*`), preflights with Range
 *   included, while the API keeps following CORS_ORIGINS.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

const APP = "https://app.example.com";
const CUSTOMER = "https://customer.example.net";

describe("ADMIN_API_KEY: the key given is the key that authenticates", () => {
  const shortest = `we_${"a1".repeat(14)}b`;
  const longest = `we_${"Z9_-".repeat(31)}x`;

  test.each([
    ["shortest (32 characters)", shortest],
    ["longest (128 characters)", longest],
  ])("%s", async (_, key) => {
    expect(key.length === 32 || key.length === 128).toBe(true);
    const k = await startTestKernel({ env: { ADMIN_API_KEY: key } });
    try {
      const ok = await fetch(`${k.url}/v1/api-keys`, { headers: { authorization: `Bearer ${key}` } });
      expect(ok.status).toBe(200);
      const keys = ((await ok.json()) as { items: { role: string; prefix: string }[] }).items;
      expect(keys.map((r) => [r.role, r.prefix])).toContainEqual(["admin", key.slice(0, 11)]);
      // Not any token passes: one character off is 401.
      expect((await fetch(`${k.url}/v1/api-keys`, { headers: { authorization: `Bearer ${key.slice(0, -1)}q` } })).status).toBe(401);
    } finally {
      await k.stop();
    }
  }, 60_000);
});

/** Stores a small file through storage-fs and returns a signed, expiring link to it. */
async function signedLink(k: TestKernel, key: string): Promise<string> {
  const src = join(k.dataDir, "media-src.bin");
  writeFileSync(src, "0123456789abcdefghij");
  const storage = await k.handle.ctx.plugins.route("storage", { id: "storage-fs" });
  await storage.call("put_file", { key, path: src });
  const url = new URL((await storage.call<{ url: string }>("read_url", { key, expires_in: 300 })).url);
  // The test kernel listens on PORT=0, so the link's base (PUBLIC_URL's default) names port 0: use the real one.
  return `${k.url}${url.pathname}`;
}

describe("CORS for signed media links (MEDIA_CORS_ORIGINS) and for the API (CORS_ORIGINS)", () => {
  let k: TestKernel;
  let link = "";
  beforeAll(async () => {
    k = await startTestKernel({ env: { CORS_ORIGINS: APP } });
    link = await signedLink(k, "hls/v0/seg1.ts");
  }, 60_000);
  afterAll(async () => {
    await k?.stop();
  });

  test("default `*`: any site's player can read a signed link, ranges included", async () => {
    const r = await fetch(link, { headers: { origin: CUSTOMER, range: "bytes=2-5" } });
    expect(r.status).toBe(206);
    expect(await r.text()).toBe("2345");
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.headers.get("access-control-expose-headers")).toContain("Content-Range");
  });

  test("default `*`: the preflight of a Range request is answered 204 allowing Range", async () => {
    const r = await fetch(link, { method: "OPTIONS", headers: { origin: CUSTOMER, "access-control-request-method": "GET", "access-control-request-headers": "range" } });
    expect(r.status).toBe(204);
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.headers.get("access-control-allow-headers")).toBe("Range");
    expect(r.headers.get("access-control-allow-methods")).toContain("GET");
  });

  test("an invalid link gets no media content, whatever the origin", async () => {
    const r = await fetch(link.replace(/\/t\/[^/]+\//, "/t/forged/"), { headers: { origin: CUSTOMER } });
    expect(r.status).toBe(403);
  });

  test("API routes still follow CORS_ORIGINS: the customer's site gets no header and a refused preflight", async () => {
    const other = await k.fetch("/v1/jobs", { headers: { origin: CUSTOMER } });
    expect(other.status).toBe(200);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await fetch(`${k.url}/v1/jobs`, { method: "OPTIONS", headers: { origin: CUSTOMER, "access-control-request-method": "GET" } });
    expect(pre.status).toBe(403);
    const allowed = await k.fetch("/v1/jobs", { headers: { origin: APP } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe(APP);
  });
});

describe("MEDIA_CORS_ORIGINS as a list", () => {
  let k: TestKernel;
  let link = "";
  beforeAll(async () => {
    k = await startTestKernel({ env: { MEDIA_CORS_ORIGINS: "https://player.example.org" } });
    link = await signedLink(k, "out/video.mp4");
  }, 60_000);
  afterAll(async () => {
    await k?.stop();
  });

  test("a listed origin is reflected; another gets no header and its preflight is refused", async () => {
    const listed = await fetch(link, { headers: { origin: "https://player.example.org" } });
    expect(listed.status).toBe(200);
    expect(listed.headers.get("access-control-allow-origin")).toBe("https://player.example.org");
    expect(listed.headers.get("vary")).toContain("Origin");
    const other = await fetch(link, { headers: { origin: CUSTOMER } });
    expect(other.status).toBe(200);
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await fetch(link, { method: "OPTIONS", headers: { origin: CUSTOMER, "access-control-request-method": "GET" } });
    expect(pre.status).toBe(403);
  });
});
