/**
 * /v1/streams on a real kernel (PostgreSQL, in-process bus): codes, bodies and rows of create / list / get /
 * update / delete, the key shown on create and rotate and never again (only its SHA-256 in the row), roles
 * (operator manages, viewer reads), audit entries for the key reveal and rotation, stop (kick) of a session
 * open on another kernel (the row is closed), the sessions history and stats.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { createHash } from "node:crypto";
import { rowsOf } from "../../src/db/exec.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

let k: TestKernel;
let operatorKey = "";
let viewerKey = "";

const json = (method: string, body?: unknown, key?: string): RequestInit => ({
  method,
  headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

async function call<T = Record<string, unknown>>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const response = await k.fetch(path, init);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

async function apiKey(role: string): Promise<string> {
  const created = await call<{ key: string }>("/v1/api-keys", json("POST", { name: `streams ${role}`, role }));
  return created.body.key;
}

const query = async <T>(text: ReturnType<typeof sql>) => rowsOf<T>(await k.handle.ctx.db.execute(text));

beforeAll(async () => {
  k = await startTestKernel({ env: { LIVE_RTMP_PORT: "0" } });
  operatorKey = await apiKey("operator");
  viewerKey = await apiKey("viewer");
});

afterAll(async () => {
  await k?.stop();
});

describe("/v1/streams", () => {
  let id = "";
  let key = "";

  test("an operator creates a stream: 201 with the key once; the row holds only its SHA-256", async () => {
    const created = await call<Record<string, unknown> & { id: string; key: string }>("/v1/streams", json("POST", { name: "Studio A", archive: true, archive_profiles: ["360p_h264"], segment_seconds: 1 }, operatorKey));
    expect(created.status).toBe(201);
    ({ id, key } = created.body);
    expect(key).toMatch(/^wsk_[A-Za-z0-9]{40}$/);
    expect(created.body).toMatchObject({ name: "Studio A", key_prefix: key.slice(0, 10), is_live: false, archive: true, archive_profiles: ["360p_h264"], ladder: "default", segment_seconds: 1, playback: "public", ingest_url: null });
    // The public base is PUBLIC_URL (test kernels listen on PORT=0 and set none): only the path is checked.
    expect(created.body.playback_url as string).toEndWith(`/live/${id}/master.m3u8`);
    const [row] = await query<Record<string, unknown>>(sql`select * from streams where id = ${id}`);
    expect(row!.key_hash).toBe(createHash("sha256").update(key).digest("hex"));
    expect(JSON.stringify(row)).not.toContain(key);
  });

  test("the key is never shown again: get and list carry only its prefix", async () => {
    const one = await call(`/v1/streams/${id}`, json("GET", undefined, viewerKey));
    expect(one.status).toBe(200);
    expect(one.body.key).toBeUndefined();
    expect(JSON.stringify(one.body)).not.toContain(key);
    const list = await call<{ items: Array<Record<string, unknown>> }>("/v1/streams", json("GET", undefined, viewerKey));
    expect(list.status).toBe(200);
    expect(list.body.items.map((item) => item.id)).toContain(id);
    expect(JSON.stringify(list.body)).not.toContain(key);
  });

  test("a viewer can read but not create, change, rotate, stop or delete", async () => {
    for (const [path, method, body] of [["/v1/streams", "POST", { name: "x" }], [`/v1/streams/${id}`, "PUT", { name: "y" }], [`/v1/streams/${id}/key/rotate`, "POST", undefined], [`/v1/streams/${id}/stop`, "POST", undefined], [`/v1/streams/${id}`, "DELETE", undefined]] as const) {
      const refused = await call<{ error: { code: string } }>(path, json(method, body, viewerKey));
      expect([refused.status, refused.body.error.code]).toEqual([403, "WE-AUTH-004"]);
    }
    expect((await call(`/v1/streams/${id}/stats`, json("GET", undefined, viewerKey))).status).toBe(200);
    expect((await call(`/v1/streams/${id}/sessions`, json("GET", undefined, viewerKey))).status).toBe(200);
  });

  test("PUT changes the named fields; bad values are 400 with the field named, nothing written", async () => {
    const changed = await call(`/v1/streams/${id}`, json("PUT", { name: "Studio B", playback: "signed", ladder: "light" }, operatorKey));
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ name: "Studio B", playback: "signed", ladder: "light", segment_seconds: 1, archive: true });
    const badSegments = await call<{ error: { code: string; message: string } }>(`/v1/streams/${id}`, json("PUT", { segment_seconds: 3 }, operatorKey));
    expect(badSegments.status).toBe(400);
    expect(badSegments.body.error.code).toBe("WE-STR-001");
    expect(badSegments.body.error.message).toContain("segment_seconds");
    const badProfile = await call<{ error: { code: string; message: string } }>(`/v1/streams/${id}`, json("PUT", { archive_profiles: ["nope_h264"] }, operatorKey));
    expect([badProfile.status, badProfile.body.error.code]).toEqual([400, "WE-JOB-003"]);
    expect(badProfile.body.error.message).toContain("nope_h264");
    const unknownField = await call<{ error: { code: string } }>("/v1/streams", json("POST", { name: "z", key: "wsk_mine" }, operatorKey));
    expect([unknownField.status, unknownField.body.error.code]).toEqual([400, "WE-STR-001"]);
    const [row] = await query<{ name: string; segment_seconds: number; archive_profiles: string[] }>(sql`select name, segment_seconds, archive_profiles from streams where id = ${id}`);
    expect(row).toEqual({ name: "Studio B", segment_seconds: 1, archive_profiles: ["360p_h264"] });
    expect((await query(sql`select id from streams where name = 'z'`)).length).toBe(0);
  });

  test("rotate returns a new key once; the old hash is gone; create and rotate are audited", async () => {
    const rotated = await call<{ key: string; key_prefix: string }>(`/v1/streams/${id}/key/rotate`, json("POST", undefined, operatorKey));
    expect(rotated.status).toBe(200);
    expect(rotated.body.key).toMatch(/^wsk_/);
    expect(rotated.body.key).not.toBe(key);
    expect(rotated.body.key_prefix).toBe(rotated.body.key.slice(0, 10));
    const [row] = await query<{ key_hash: string }>(sql`select key_hash from streams where id = ${id}`);
    expect(row!.key_hash).toBe(createHash("sha256").update(rotated.body.key).digest("hex"));
    key = rotated.body.key;
    // Audit entries are written after the answer: waited for.
    const audit = () => query<{ action: string; status: number; target: string | null }>(sql`select action, status, target from audit_log where action like 'streams.%' order by id`);
    // (a viewer's refused rotation earlier in this file left a 403 entry: wait for this one, the 200)
    await waitFor(async () => (await audit()).some((entry) => entry.action === "streams.key_rotate" && entry.status === 200), 10_000, "the rotation's audit entry");
    expect(await audit()).toContainEqual({ action: "streams.create", status: 201, target: id });
    expect(await audit()).toContainEqual({ action: "streams.key_rotate", status: 200, target: id });
  });

  test("stop: 409 when not live; a session open on another kernel is closed as kicked and shows in the history", async () => {
    const notLive = await call<{ error: { code: string } }>(`/v1/streams/${id}/stop`, json("POST", undefined, operatorKey));
    expect([notLive.status, notLive.body.error.code]).toEqual([409, "WE-STR-007"]);
    const [open] = await query<{ id: string }>(sql`insert into stream_sessions (stream_id, kernel_id, remote_address, bytes_in, started_at) values (${id}, 'other-kernel', '203.0.113.9', 123456, now() - interval '90 seconds') returning id`);
    await k.handle.ctx.db.execute(sql`update streams set is_live = true where id = ${id}`);
    const stats = await call<{ is_live: boolean; session: { id: string } }>(`/v1/streams/${id}/stats`, json("GET", undefined, viewerKey));
    expect(stats.body).toMatchObject({ stream_id: id, is_live: true, session: { id: open!.id, bytes_in: 123456 }, ingest: null });
    const liveDelete = await call<{ error: { code: string } }>(`/v1/streams/${id}`, json("DELETE", undefined, operatorKey));
    expect([liveDelete.status, liveDelete.body.error.code]).toEqual([409, "WE-STR-003"]);
    const stopped = await call(`/v1/streams/${id}/stop`, json("POST", undefined, operatorKey));
    expect(stopped.status).toBe(200);
    expect(stopped.body.is_live).toBe(false);
    const history = await call<{ items: Array<Record<string, unknown>> }>(`/v1/streams/${id}/sessions`, json("GET", undefined, viewerKey));
    expect(history.body.items).toHaveLength(1);
    expect(history.body.items[0]).toMatchObject({ id: open!.id, end_reason: "kicked", bytes_in: 123456, remote_address: "203.0.113.9", kernel_id: "other-kernel" });
    expect(history.body.items[0]!.duration_seconds as number).toBeGreaterThanOrEqual(89);
  });

  test("delete: 204, then 404 WE-STR-002 everywhere; the history goes with it", async () => {
    expect((await call(`/v1/streams/${id}`, json("DELETE", undefined, operatorKey))).status).toBe(204);
    for (const path of [`/v1/streams/${id}`, `/v1/streams/${id}/stats`, `/v1/streams/${id}/sessions`]) {
      const missing = await call<{ error: { code: string } }>(path, json("GET", undefined, viewerKey));
      expect([missing.status, missing.body.error.code]).toEqual([404, "WE-STR-002"]);
    }
    expect((await query(sql`select id from stream_sessions where stream_id = ${id}`)).length).toBe(0);
  });
});
