/**
 * Used by scripts/test.sh: does the PostgreSQL at $1 answer, and does the NATS at $2 answer with JetStream?
 * Prints two words, e.g. "pg=ok nats=missing", and never hangs (short timeouts).
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import postgres from "postgres";

async function pgOk(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

async function natsOk(url: string): Promise<boolean> {
  try {
    const nc = await connect({ servers: url, timeout: 3000, maxReconnectAttempts: 0 });
    try {
      await (await jetstreamManager(nc)).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  } catch {
    return false;
  }
}

const [pg, nats] = await Promise.all([pgOk(process.argv[2]!), natsOk(process.argv[3]!)]);
process.stdout.write(`pg=${pg ? "ok" : "missing"} nats=${nats ? "ok" : "missing"}\n`);
process.exit(0);
