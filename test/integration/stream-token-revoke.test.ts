/**
 * Stream tokens follow their API key (issue 12, item 11). Before: an `est_…` token kept working for up to an
 * hour after its API key was revoked, and open SSE streams kept receiving. Now a stream token issued for an
 * API key is refused (401) once the key is revoked, and open streams of that key — through a stream token or
 * the key itself — end within EVENTS_AUTH_RECHECK (revoked on another kernel: simulated by a direct database
 * update) or at once (revoked through this kernel's API).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

let k: TestKernel;
let sql: postgres.Sql;
beforeAll(async () => {
  k = await startTestKernel({ env: { EVENTS_AUTH_RECHECK: "1s" } });
  sql = postgres(k.db.url, { max: 1 });
}, 60_000);
afterAll(async () => {
  await sql?.end();
  await k?.stop();
});

async function newKey(): Promise<{ id: string; key: string }> {
  const r = await k.fetch("/v1/api-keys", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: `sse-${crypto.randomUUID().slice(0, 6)}`, role: "viewer" }) });
  expect(r.status).toBe(201);
  return (await r.json()) as { id: string; key: string };
}

async function streamToken(key: string): Promise<string> {
  const r = await fetch(`${k.url}/v1/events/tokens`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: "{}" });
  expect(r.status).toBe(201);
  return ((await r.json()) as { token: string }).token;
}

/** An open SSE response, read until the server ends it. */
async function openStream(init: { token?: string; key?: string }) {
  const abort = new AbortController();
  const url = `${k.url}/v1/events${init.token ? `?access_token=${init.token}` : ""}`;
  const res = await fetch(url, { headers: init.key ? { authorization: `Bearer ${init.key}` } : {}, signal: abort.signal });
  expect(res.status).toBe(200);
  const s = { ended: false, text: "", close: () => abort.abort() };
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body!) s.text += decoder.decode(chunk, { stream: true });
    } catch {
      /* aborted */
    }
    s.ended = true;
  })();
  return s;
}

const getWithToken = (token: string) => fetch(`${k.url}/v1/events?access_token=${token}`);

test("revoked elsewhere (database): the token is refused and open streams end within EVENTS_AUTH_RECHECK", async () => {
  const { id, key } = await newKey();
  const token = await streamToken(key);
  const viaToken = await openStream({ token });
  const viaKey = await openStream({ key });
  const other = await openStream({ key: (await newKey()).key }); // a different key's stream stays open
  await Bun.sleep(1500); // a recheck passes while the key is valid: nothing ends
  expect(viaToken.ended || viaKey.ended).toBe(false);

  await sql`update api_keys set revoked_at = now() where id = ${id}`;
  const t0 = Date.now();
  await waitFor(() => viaToken.ended && viaKey.ended, 5_000, "both streams of the revoked key to end");
  expect(Date.now() - t0).toBeLessThan(5_000);
  expect(viaToken.text).toContain("revoked");
  expect(other.ended).toBe(false);
  other.close();

  const refused = await getWithToken(token);
  expect(refused.status).toBe(401);
  const body = (await refused.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("WE-AUTH-001");
  expect(body.error.message).toContain("revoked");
});

test("revoked through the API: open streams end at once; new tokens cannot be issued with the key", async () => {
  const { id, key } = await newKey();
  const token = await streamToken(key);
  const viaToken = await openStream({ token });
  const r = await k.fetch(`/v1/api-keys/${id}`, { method: "DELETE" });
  expect(r.status).toBe(204);
  await waitFor(() => viaToken.ended, 900, "the stream to end right after the revocation");
  expect((await getWithToken(token)).status).toBe(401);
  const issue = await fetch(`${k.url}/v1/events/tokens`, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: "{}" });
  expect(issue.status).toBe(401);
});
