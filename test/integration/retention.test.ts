/**
 * The kernel's retention loop (src/kernel/retention.ts) against a real kernel and PostgreSQL: it runs a round
 * as soon as it starts, its stop waits for that round, and a failing step leaves the others to run.
 * What each step removes is tested with its feature (events-sse, files-api, retry-after-failure, security).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { runRetention, startRetention } from "../../src/kernel/retention.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

let k: TestKernel;
let sql: postgres.Sql;
const logs: string[] = [];

beforeAll(async () => {
  k = await startTestKernel({ env: { AUDIT_RETENTION: "1h" }, logSink: logs, logLevel: "warn" });
  sql = postgres(k.db.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await k?.stop();
});

const auditActors = async () => (await sql<{ actor: string }[]>`select actor from audit_log where actor like 'retention-%' order by actor`).map((r) => r.actor);

describe("retention loop", () => {
  test("a round runs at once when the loop starts, and stop resolves after it", async () => {
    await sql`insert into audit_log (at, actor, method, route, action, status) values (now() - interval '2 hours', 'retention-old', 'POST', '/v1/jobs', 'jobs.create', 201), (now(), 'retention-new', 'POST', '/v1/jobs', 'jobs.create', 201)`;
    const stop = startRetention(k.handle.ctx, 3_600_000); // the next round is an hour away: only the first counts
    await stop();
    expect(await auditActors()).toEqual(["retention-new"]);
  });

  test("a failing step is logged and the later steps still run", async () => {
    await sql`insert into audit_log (at, actor, method, route, action, status) values (now() - interval '2 hours', 'retention-kept', 'POST', '/v1/jobs', 'jobs.create', 201)`;
    const ids = (await sql<{ id: string }[]>`update events set created_at = now() - interval '30 days' where id in (select id from events order by id limit 2) returning id`).map((r) => Number(r.id));
    expect(ids.length).toBe(2);
    // An AUDIT_RETENTION PostgreSQL cannot turn into an interval makes the audit step fail.
    const broken = { ...k.handle.ctx, config: { ...k.handle.ctx.config, AUDIT_RETENTION: Number.POSITIVE_INFINITY } };
    expect(await runRetention(broken)).toBe(2);
    expect(await auditActors()).toEqual(["retention-kept", "retention-new"]);
    expect(logs.some((line) => line.includes("audit retention failed"))).toBe(true);
  });
});
