/**
 * Audit entries under load (src/kernel/auth/audit.ts, issue 20): entries arriving together are written in
 * batches, every one of them lands (database rows; with NATS, the audit stream too), and one entry the
 * database refuses does not take the others of its batch with it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import postgres from "postgres";
import { recordAudit, type AuditInput } from "../../src/kernel/auth/audit.ts";
import { natsUrl } from "../helpers/nats.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";

let k: TestKernel;
let sql: postgres.Sql;

beforeAll(async () => {
  k = await startTestKernel({ nats: true });
  sql = postgres(k.db.url, { max: 1, onnotice: () => {} });
});
afterAll(async () => {
  await sql?.end();
  await k?.stop();
});

const entry = (requestId: string, status = 201): AuditInput => ({ principal: undefined, method: "POST", route: "/v1/jobs", params: {}, status, clientIp: "127.0.0.1", userAgent: "test", requestId });

test("600 entries at once: all written to PostgreSQL and the audit stream; a refused one spares its batch", async () => {
  const tag = `batch-${crypto.randomUUID().slice(0, 8)}`;
  const all = Array.from({ length: 600 }, (_, i) => recordAudit(k.handle.ctx, entry(`${tag}-${i}`)));
  // An int4 status PostgreSQL refuses: the batch it is in falls back to one insert per entry.
  all.push(recordAudit(k.handle.ctx, entry(`${tag}-bad`, 2 ** 40)));
  await Promise.all(all);
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from audit_log where request_id like ${`${tag}-%`}`;
  expect(row!.n).toBe(600);

  const nc = await connect({ servers: natsUrl() });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(`${k.prefix}_AUDIT`);
    expect(info.state.messages).toBeGreaterThanOrEqual(600);
  } finally {
    await nc.close();
  }
});
