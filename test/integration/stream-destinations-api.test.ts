/**
 * /v1/streams/:id/destinations on a real kernel (PostgreSQL, in-process bus): create / list / get / patch /
 * delete with their codes, bodies and rows; the restream request's rules and messages (422 WE-STR-005 naming
 * the field, never quoting the key); the key write-only (sealed in the row, never in any response); another
 * stream's destination is a 404; viewers read, operators change; changes are audited; the stream's delete
 * takes its destinations along.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import * as v from "valibot";
import { rowsOf } from "../../src/db/exec.ts";
import { destinationCreateSchema, MAX_STREAM_DESTINATIONS } from "../../src/kernel/live/destinations-rules.ts";
import { STREAM_DESTINATION_REQUEST_EXAMPLE } from "../../src/kernel/api/openapi-schemas.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

let k: TestKernel;
let operatorKey = "";
let viewerKey = "";
let streamA = "";
let streamB = "";

const KEY = "secret-key-Zq81xT";
const json = (method: string, body?: unknown, key = operatorKey): RequestInit => ({
  method,
  headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

/** Every response body is collected: none may ever contain a key. */
const bodies: string[] = [];
async function call<T = Record<string, any>>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const response = await k.fetch(path, init);
  const text = await response.text();
  bodies.push(text);
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

const query = async <T>(text: ReturnType<typeof sql>) => rowsOf<T>(await k.handle.ctx.db.execute(text));
const base = (stream: string) => `/v1/streams/${stream}/destinations`;

beforeAll(async () => {
  k = await startTestKernel({ env: { LIVE_RTMP_PORT: "0" } });
  const key = async (role: string) => (await call<{ key: string }>("/v1/api-keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: `dest ${role}`, role }) })).body.key;
  operatorKey = await key("operator");
  viewerKey = await key("viewer");
  streamA = (await call<{ id: string }>("/v1/streams", json("POST", { name: "Dest A" }))).body.id;
  streamB = (await call<{ id: string }>("/v1/streams", json("POST", { name: "Dest B" }))).body.id;
});

afterAll(async () => {
  await k?.stop();
});

describe("/v1/streams/:id/destinations", () => {
  let id = "";

  test("create: 201 with the view (key_set, no key), stopped while the stream is not live; the row holds the key sealed", async () => {
    const created = await call(base(streamA), json("POST", { name: "Own server", url: "rtmp://127.0.0.1:1935/app", key: KEY, transcode: { height: 720, video_kbps: 3000 } }));
    expect(created.status).toBe(201);
    id = created.body.id;
    expect(created.body).toMatchObject({ stream_id: streamA, publisher: "publisher-rtmp", name: "Own server", url: "rtmp://127.0.0.1:1935/app", key_set: true, enabled: true, transcode: { height: 720, video_kbps: 3000 }, status: "stopped", bitrate_kbps: 0, uptime_s: 0, reconnects: 0, last_error: null });
    expect(created.body.key).toBeUndefined();
    const [row] = await query<{ key_sealed: string; publisher: string; enabled: boolean }>(sql`select key_sealed, publisher, enabled from stream_destinations where id = ${id}`);
    expect(row!.key_sealed).not.toContain(KEY);
    expect(k.handle.ctx.secrets.decrypt(row!.key_sealed)).toBe(KEY);
    expect([row!.publisher, row!.enabled]).toEqual(["publisher-rtmp", true]);
  });

  test("the OpenAPI request example passes the rules", () => {
    expect(v.safeParse(destinationCreateSchema, STREAM_DESTINATION_REQUEST_EXAMPLE).success).toBe(true);
  });

  test("bad destinations: 422 WE-STR-005 with the field named and the key never quoted", async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: "x", url: "http://example.com/app", key: KEY }, "url: must be an rtmp:// or rtmps:// server URL"],
      [{ name: "x", url: "rtmp://user:pw@example.com/app", key: KEY }, "url: must be an rtmp:// or rtmps:// server URL"],
      [{ name: "x", url: "rtmp://example.com/app" }, "key: required for publisher-rtmp"],
      [{ name: "x", key: KEY }, "url: required for publisher-rtmp"],
      [{ name: "x", url: "rtmp://example.com/app", key: `${KEY} with/slash` }, "key: must not contain spaces, '/', '?' or '#'"],
      [{ name: "x", url: "rtmp://example.com/app", key: KEY, transcode: { height: 721, video_kbps: 3000 } }, "transcode.height: must be even"],
      [{ name: "x", url: "rtmp://example.com/app", key: KEY, transcode: { height: 720, video_kbps: 10 } }, "transcode.video_kbps: must be at least 100"],
      [{ name: "", url: "rtmp://example.com/app", key: KEY }, "name: must not be empty"],
      [{ url: "rtmp://example.com/app", key: KEY }, "name: is required"],
      [{ name: "x", publisher: "publisher-ftp", url: "rtmp://example.com/app", key: KEY }, "publisher: must be one of publisher-rtmp, publisher-youtube, publisher-twitch"],
      [{ name: "x", publisher: "publisher-youtube", url: "rtmp://a.rtmp.youtube.com/live2" }, "key: give both url and key, or neither"],
      [{ name: "x", url: "rtmp://example.com/app", key: KEY, password: KEY }, "password: unknown field"],
    ];
    for (const [body, message] of cases) {
      const refused = await call<{ error: { code: string; message: string } }>(base(streamA), json("POST", body));
      expect([refused.status, refused.body.error.code]).toEqual([422, "WE-STR-005"]);
      expect(refused.body.error.message).toContain(message);
      expect(refused.body.error.message).not.toContain(KEY);
    }
    const notObject = await call<{ error: { code: string; message: string } }>(base(streamA), json("POST", ["x"]));
    expect([notObject.status, notObject.body.error.code, notObject.body.error.message]).toEqual([422, "WE-STR-005", "body: must be a JSON object"]);
    const [n] = await query<{ n: number }>(sql`select count(*)::int as n from stream_destinations where stream_id = ${streamA}`);
    expect(n!.n).toBe(1);
  });

  test("an OAuth publisher without url and key is accepted: its plugin hands out the ingest when the stream goes live", async () => {
    const created = await call(base(streamA), json("POST", { name: "YouTube", publisher: "publisher-youtube", enabled: false }));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ publisher: "publisher-youtube", url: null, key_set: false, enabled: false, transcode: null, status: "stopped" });
  });

  test("list and get: viewers read them, with their state, never a key", async () => {
    const list = await call<{ items: Array<Record<string, unknown>> }>(base(streamA), json("GET", undefined, viewerKey));
    expect(list.status).toBe(200);
    expect(list.body.items.map((item) => item.name)).toEqual(["Own server", "YouTube"]);
    expect(list.body.items.every((item) => item.status === "stopped" && item.key === undefined)).toBe(true);
    const one = await call(`${base(streamA)}/${id}`, json("GET", undefined, viewerKey));
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id, key_set: true, status: "stopped" });
  });

  test("a viewer may not create, change or delete", async () => {
    for (const [path, method, body] of [[base(streamA), "POST", { name: "v", url: "rtmp://example.com/app", key: "k" }], [`${base(streamA)}/${id}`, "PATCH", { enabled: false }], [`${base(streamA)}/${id}`, "DELETE", undefined]] as const) {
      const refused = await call<{ error: { code: string } }>(path, json(method, body, viewerKey));
      expect([refused.status, refused.body.error.code]).toEqual([403, "WE-AUTH-004"]);
    }
  });

  test("patch: fields not sent keep their values; transcode null is stream copy; a new key replaces the sealed one", async () => {
    const disabled = await call(`${base(streamA)}/${id}`, json("PATCH", { enabled: false, transcode: null }));
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({ id, name: "Own server", url: "rtmp://127.0.0.1:1935/app", key_set: true, enabled: false, transcode: null });
    const rekeyed = await call(`${base(streamA)}/${id}`, json("PATCH", { key: `${KEY}-2`, name: "Own server 2" }));
    expect(rekeyed.status).toBe(200);
    expect(rekeyed.body).toMatchObject({ name: "Own server 2", enabled: false });
    const [row] = await query<{ key_sealed: string; enabled: boolean; transcode: unknown }>(sql`select key_sealed, enabled, transcode from stream_destinations where id = ${id}`);
    expect(k.handle.ctx.secrets.decrypt(row!.key_sealed)).toBe(`${KEY}-2`);
    expect([row!.enabled, row!.transcode]).toEqual([false, null]);
    const bad = await call<{ error: { code: string; message: string } }>(`${base(streamA)}/${id}`, json("PATCH", { url: "file:///etc/passwd" }));
    expect([bad.status, bad.body.error.code]).toEqual([422, "WE-STR-005"]);
    expect(bad.body.error.message).toStartWith("url: ");
  });

  test("another stream's destination, an unknown one and an unknown stream are 404", async () => {
    for (const [path, method, body] of [[`${base(streamB)}/${id}`, "GET", undefined], [`${base(streamB)}/${id}`, "PATCH", { enabled: true }], [`${base(streamB)}/${id}`, "DELETE", undefined], [`${base(streamA)}/${crypto.randomUUID()}`, "GET", undefined], [base(crypto.randomUUID()), "GET", undefined], [base(crypto.randomUUID()), "POST", { name: "x", url: "rtmp://example.com/app", key: "k" }]] as const) {
      const missing = await call<{ error: { code: string } }>(path, json(method, body));
      expect([missing.status, missing.body.error.code]).toEqual([404, "WE-STR-002"]);
    }
    const [row] = await query<{ enabled: boolean }>(sql`select enabled from stream_destinations where id = ${id}`);
    expect(row!.enabled).toBe(false);
  });

  test("changes are audited", async () => {
    const audit = () => query<{ action: string; status: number }>(sql`select action, status from audit_log where action like 'stream_destinations.%' order by id`);
    // Audit entries are written after the response: waited for, not assumed.
    const actions = async () => (await audit()).map((entry) => `${entry.action} ${entry.status}`);
    const wanted = ["stream_destinations.create 201", "stream_destinations.update 200"];
    await waitFor(async () => {
      const list = await actions();
      return wanted.every((want) => list.includes(want));
    }, 10_000, "the create and update audit entries").catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}: ${JSON.stringify(await actions())}`);
    });
  });

  test(`at most ${MAX_STREAM_DESTINATIONS} per stream`, async () => {
    for (let i = 0; i < MAX_STREAM_DESTINATIONS; i++) expect((await call(base(streamB), json("POST", { name: `b${i}`, url: "rtmp://example.com/app", key: `k${i}` }))).status).toBe(201);
    const refused = await call<{ error: { code: string; message: string } }>(base(streamB), json("POST", { name: "one too many", url: "rtmp://example.com/app", key: "k" }));
    expect([refused.status, refused.body.error.code]).toEqual([422, "WE-STR-005"]);
    expect(refused.body.error.message).toContain(`at most ${MAX_STREAM_DESTINATIONS}`);
  });

  test("delete: 204 and the row is gone; deleting the stream removes its destinations", async () => {
    expect((await call(`${base(streamA)}/${id}`, json("DELETE"))).status).toBe(204);
    expect((await call(`${base(streamA)}/${id}`, json("GET"))).status).toBe(404);
    expect(await query(sql`select id from stream_destinations where id = ${id}`)).toEqual([]);
    expect((await call(`/v1/streams/${streamB}`, json("DELETE"))).status).toBe(204);
    expect(await query(sql`select id from stream_destinations where stream_id = ${streamB}`)).toEqual([]);
  });

  test("no response ever carried a key", () => {
    for (const text of bodies) expect(text).not.toContain(KEY);
  });
});
