/**
 * The reconciler's leader lock on PostgreSQL (src/db/client.ts tryLock): one holder at a time, handed over on
 * release, lost — and noticed — when the holder's session dies, and a dead session never crashes the process
 * (postgres.js used to throw from a timer when a reserved connection was used after its socket closed).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import postgres from "postgres";
import { type Database, openDatabase } from "../../src/db/client.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/db.ts";
import { startTcpProxy } from "../helpers/tcp-proxy.ts";
import { waitFor } from "../helpers/wait.ts";

const KEY = 0x7e57;
let t: TestDatabase;
const opened: Database[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
});

afterAll(async () => {
  for (const d of opened) await d.close().catch(() => {});
  await t.drop();
});

async function open(): Promise<Database> {
  const d = await openDatabase({ url: t.url, dataDir: "" });
  opened.push(d);
  return d;
}

test("one holder at a time; release hands the lock over", async () => {
  const a = await open();
  const b = await open();
  const la = await a.tryLock(KEY);
  expect(la).toBeDefined();
  expect(await la!.held()).toBe(true);
  expect(await b.tryLock(KEY)).toBeUndefined();
  expect(await b.tryLock(KEY)).toBeUndefined();
  await la!.release();
  expect(await la!.held()).toBe(false);
  const lb = await b.tryLock(KEY);
  expect(lb).toBeDefined();
  expect(await a.tryLock(KEY)).toBeUndefined();
  await lb!.release();
});

test("a killed holder session: held() turns false, the process survives, another instance takes over, the old one can re-acquire later", async () => {
  const a = await open();
  const b = await open();
  const la = (await a.tryLock(KEY))!;
  expect(la).toBeDefined();
  const admin = postgres(t.url, { max: 1, onnotice: () => {} });
  try {
    const killed = await admin`
      select pg_terminate_backend(pid) as ok from pg_locks
      where locktype = 'advisory' and objid = ${KEY} and granted and database = (select oid from pg_database where datname = current_database())`;
    expect(killed.map((r) => r.ok)).toEqual([true]);
  } finally {
    await admin.end();
  }
  // Twice: the first call may see the closed connection, the second must not crash the process either.
  expect(await la.held()).toBe(false);
  expect(await la.held()).toBe(false);
  await la.release();
  const lb = await b.tryLock(KEY);
  expect(lb).toBeDefined();
  await lb!.release();
  // "Later": the old instance's lock session reconnects first (a try on the dead socket fails and is retried,
  // as the reconciler does on its next tick).
  let again: Awaited<ReturnType<Database["tryLock"]>>;
  await waitFor(async () => (again = await a.tryLock(KEY)) !== undefined, 15_000, "the old instance to re-acquire the lock", 200);
  expect(await again!.held()).toBe(true);
  await again!.release();
});

test("a lock session that stops answering is given up: the next try opens a fresh connection and takes the lock", async () => {
  const target = new URL(t.url);
  const proxy = startTcpProxy({ hostname: target.hostname, port: Number(target.port || 5432) });
  const viaProxy = new URL(t.url);
  viaProxy.port = String(proxy.port);
  const a = await openDatabase({ url: viaProxy.toString(), dataDir: "" });
  opened.push(a);
  try {
    const first = await a.tryLock(KEY);
    expect(first).toBeDefined();
    await first!.release();
    // Its session now swallows every byte without closing (a peer gone quiet): the try gets no answer.
    proxy.stall();
    expect(await a.tryLock(KEY)).toBeUndefined();
    // The stalled client was ended, which also ends its session; a fresh connection takes the lock at once.
    const again = await a.tryLock(KEY);
    expect(again).toBeDefined();
    expect(await again!.held()).toBe(true);
    await again!.release();
  } finally {
    proxy.close();
  }
}, 30_000);
