/**
 * Uploads as a resource (in-process kernel, real PostgreSQL, real storage-fs plugin): list with the jobs that
 * use each upload, delete (404 when absent, 409 while an unfinished job reads it, only keys under uploads/),
 * roles, a storage-key source_url checked at submit, and UPLOAD_RETENTION through the kernel's retention loop.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { runRetention } from "../../src/kernel/retention.ts";
import { expiredUploads } from "../../src/kernel/uploads/catalog.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

let k: TestKernel;
let viewerKey = "";
let operatorKey = "";

// Short retention so the sweep can be shown with files aged by hand (utimes), never by waiting.
beforeAll(async () => {
  k = await startTestKernel({ env: { UPLOAD_RETENTION: "1h" } });
  for (const role of ["viewer", "operator"] as const) {
    const r = await k.fetch("/v1/api-keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: `files ${role}`, role }) });
    const key = ((await r.json()) as { key: string }).key;
    if (role === "viewer") viewerKey = key;
    else operatorKey = key;
  }
}, 60_000);
afterAll(async () => {
  await k?.stop();
});

const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as Record<string, any> });
const as = (key: string, init: RequestInit = {}) => ({ ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${key}` } });

async function upload(name: string, size = 1000): Promise<string> {
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(size).fill(7)]), name);
  const r = await json(await k.fetch("/v1/files", { method: "POST", body: form }));
  expect(r.status).toBe(201);
  return r.body.key as string;
}

const submit = (source_url: string) =>
  k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url, profiles: ["360p_h264"], outputs: ["mp4"] }) });
const stored = (key: string) => join(k.dataDir, "storage", key);
const listAll = async (key?: string) => json(await k.fetch("/v1/files?limit=200", key ? as(key) : {}));

describe("GET /v1/files", () => {
  test("lists uploads newest first with size, time and the jobs that use them; paginated", async () => {
    const a = await upload("a.mp4", 1234);
    await Bun.sleep(20); // distinct modification times for the order check
    const b = await upload("b.mp4", 99);
    const job = await json(await submit(a));
    expect(job.status).toBe(201);

    const { status, body } = await listAll();
    expect(status).toBe(200);
    const keys = body.items.map((i: { key: string }) => i.key);
    expect(keys.indexOf(b)).toBeLessThan(keys.indexOf(a));
    const ia = body.items.find((i: { key: string }) => i.key === a);
    expect(ia).toMatchObject({ filename: "a.mp4", size_bytes: 1234, referenced: true, jobs: [{ id: job.body.id, status: "queued" }] });
    expect(Date.parse(ia.created_at)).toBeGreaterThan(Date.now() - 5 * 60_000);
    expect(body.items.find((i: { key: string }) => i.key === b)).toMatchObject({ size_bytes: 99, referenced: false, jobs: [] });

    const one = await json(await k.fetch("/v1/files?limit=1&offset=1"));
    expect(one.body).toMatchObject({ limit: 1, offset: 1, total: body.total });
    expect(one.body.items.map((i: { key: string }) => i.key)).toEqual([keys[1]]);
    expect((await json(await k.fetch("/v1/files?limit=0"))).status).toBe(400);
  });

  test("a viewer may list; a viewer may not delete, an operator may", async () => {
    expect((await listAll(viewerKey)).status).toBe(200);
    const key = await upload("roles.mp4");
    const denied = await json(await k.fetch(`/v1/files/${key}`, as(viewerKey, { method: "DELETE" })));
    expect(denied.status).toBe(403);
    expect(existsSync(stored(key))).toBe(true);
    const ok = await k.fetch(`/v1/files/${key}`, as(operatorKey, { method: "DELETE" }));
    expect(ok.status).toBe(204);
    expect(existsSync(stored(key))).toBe(false);
  });
});

describe("DELETE /v1/files/<key>", () => {
  test("204 and gone (from storage and the list); again: 404 WE-STO-001; a %-encoded key works too", async () => {
    const key = await upload("gone.mp4");
    const r = await k.fetch(`/v1/files/${key}`, { method: "DELETE" });
    expect(r.status).toBe(204);
    expect(existsSync(stored(key))).toBe(false);
    expect((await listAll()).body.items.some((i: { key: string }) => i.key === key)).toBe(false);
    const again = await json(await k.fetch(`/v1/files/${key}`, { method: "DELETE" }));
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe("WE-STO-001");

    const enc = await upload("encoded.mp4");
    expect((await k.fetch(`/v1/files/${encodeURIComponent(enc)}`, { method: "DELETE" })).status).toBe(204);
    expect(existsSync(stored(enc))).toBe(false);
  });

  test("refused with 409 WE-JOB-010 naming the job while an unfinished job uses it; allowed once it is cancelled", async () => {
    const key = await upload("busy.mp4");
    const job = await json(await submit(key));
    const r = await json(await k.fetch(`/v1/files/${key}`, { method: "DELETE" }));
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("WE-JOB-010");
    expect(r.body.error.message).toContain(job.body.id);
    expect(existsSync(stored(key))).toBe(true);
    expect((await k.fetch(`/v1/jobs/${job.body.id}/cancel`, { method: "POST" })).status).toBe(200);
    expect((await k.fetch(`/v1/files/${key}`, { method: "DELETE" })).status).toBe(204);
  });

  test("only keys under uploads/: other storage keys are refused with 400 and left alone", async () => {
    for (const path of ["jobs/x/outputs/a.mp4", "uploads/../jobs/x", "uploads%2F..%2Fsecret.key"]) {
      const r = await json(await k.fetch(`/v1/files/${path}`, { method: "DELETE" }));
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe("WE-REQ-001");
    }
  });
});

describe("source_url that is a storage key", () => {
  test("a key that does not exist: 400 WE-JOB-002 saying it was not found and how to upload; no job is created", async () => {
    const before = (await json(await k.fetch("/v1/jobs?limit=200"))).body.items.length;
    const r = await json(await submit("uploads/00000000-0000-4000-8000-000000000000/missing.mp4"));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("WE-JOB-002");
    expect(r.body.error.message).toContain("not found");
    expect(r.body.error.message).toContain("POST /v1/files");
    expect((await json(await k.fetch("/v1/jobs?limit=200"))).body.items.length).toBe(before);
  });

  test("an unknown profile is still reported as such (WE-JOB-003) before the storage is asked", async () => {
    const r = await json(await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: "uploads/x/none.mp4", profiles: ["nope"] }) }));
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("WE-JOB-003");
  });
});

describe("UPLOAD_RETENTION", () => {
  test("expiredUploads keeps what is recent or used (pure)", () => {
    const o = (key: string, modified: string) => ({ key, size: 1, modified });
    const items = [o("uploads/1/old", "2026-01-01T00:00:00Z"), o("uploads/2/used", "2026-01-01T00:00:00Z"), o("uploads/3/new", "2026-01-03T00:00:00Z")];
    expect(expiredUploads(items, new Set(["uploads/2/used"]), new Date("2026-01-02T00:00:00Z")).map((i) => i.key)).toEqual(["uploads/1/old"]);
  });

  test("the retention loop deletes old uploads no job uses and keeps used and recent ones", async () => {
    const oldUnused = await upload("old-unused.mp4");
    const oldUsed = await upload("old-used.mp4");
    const recent = await upload("recent.mp4");
    expect((await submit(oldUsed)).status).toBe(201);
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const key of [oldUnused, oldUsed]) utimesSync(stored(key), twoHoursAgo, twoHoursAgo);

    await runRetention(k.handle.ctx);
    expect(existsSync(stored(oldUnused))).toBe(false);
    expect(existsSync(stored(oldUsed))).toBe(true);
    expect(existsSync(stored(recent))).toBe(true);
  });
});
