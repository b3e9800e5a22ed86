/**
 * A PostgreSQL primary with one streaming replica on loopback (initdb + pg_basebackup), for the failover
 * tests and scripts/ha-drill.ts. Replication is synchronous (synchronous_standby_names = '*'), so a commit
 * the API acknowledged is on both servers: promoting the replica loses nothing (RPO 0). The replica's own
 * configuration drops the synchronous requirement, so once promoted it does not wait for a standby it does
 * not have. `url` lists both hosts with target_session_attrs=read-write, as docs/ha.md tells operators to.
 */
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runPg } from "./cluster.ts";
import { freePort } from "./proc.ts";

/** The newest installed PostgreSQL's server binaries (Debian: /usr/lib/postgresql/<major>/bin), or PG_BIN. */
const PG_BIN =
  process.env.PG_BIN ??
  (existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql")
        .filter((major) => existsSync(join("/usr/lib/postgresql", major, "bin", "pg_basebackup")))
        .sort((a, b) => Number(b) - Number(a))
        .map((major) => join("/usr/lib/postgresql", major, "bin"))[0]
    : undefined) ??
  "/usr/lib/postgresql/15/bin";

export interface ReplicatedPostgres {
  /** postgres://postgres@127.0.0.1:<primary>,127.0.0.1:<replica>/postgres?target_session_attrs=read-write */
  url: string;
  primaryUrl: string;
  replicaUrl: string;
  /** Kills the primary as a crashed machine would (pg_ctl stop -m immediate). */
  crashPrimary(): Promise<void>;
  /** Promotes the replica to a read-write primary (pg_ctl promote -w). */
  promoteReplica(): Promise<void>;
  dispose(): Promise<void>;
}

export async function startReplicatedPostgres(): Promise<ReplicatedPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "webencode-pg-ha-"));
  if (process.getuid?.() === 0) {
    const uid = Number(Bun.spawnSync(["id", "-u", "postgres"], { stdout: "pipe" }).stdout.toString().trim());
    chownSync(dir, uid, uid);
  }
  const primary = join(dir, "primary");
  const replica = join(dir, "replica");
  const [primaryPort, replicaPort] = [await freePort(), await freePort()];
  const ctl = (data: string, ...args: string[]) => runPg([join(PG_BIN, "pg_ctl"), "-D", data, ...args]);
  const start = (data: string, port: number) =>
    ctl(data, "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, "-w", "-t", "60", "-l", join(dir, `${port}.log`), "start");
  const running = new Set<string>();
  const dispose = async () => {
    for (const data of running) await ctl(data, "-m", "immediate", "-w", "stop").catch(() => {});
    running.clear();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await runPg([join(PG_BIN, "initdb"), "-D", primary, "-A", "trust", "-U", "postgres"]);
    appendFileSync(
      join(primary, "postgresql.conf"),
      ["wal_level = replica", "max_wal_senders = 5", "hot_standby = on", "synchronous_commit = on", "synchronous_standby_names = '*'", "fsync = off", ""].join("\n"),
    );
    appendFileSync(join(primary, "pg_hba.conf"), "host replication postgres 127.0.0.1/32 trust\n");
    await start(primary, primaryPort);
    running.add(primary);
    await runPg([join(PG_BIN, "pg_basebackup"), "-h", "127.0.0.1", "-p", String(primaryPort), "-U", "postgres", "-D", replica, "-R", "-X", "stream", "-c", "fast"]);
    // The replica inherits postgresql.conf: without this it would wait, once promoted, for a standby it lacks.
    appendFileSync(join(replica, "postgresql.auto.conf"), "synchronous_standby_names = ''\n");
    await start(replica, replicaPort);
    running.add(replica);
  } catch (e) {
    await dispose();
    throw e;
  }
  const primaryUrl = `postgres://postgres@127.0.0.1:${primaryPort}/postgres`;
  const replicaUrl = `postgres://postgres@127.0.0.1:${replicaPort}/postgres`;
  return {
    url: `postgres://postgres@127.0.0.1:${primaryPort},127.0.0.1:${replicaPort}/postgres?target_session_attrs=read-write`,
    primaryUrl,
    replicaUrl,
    async crashPrimary() {
      await ctl(primary, "-m", "immediate", "-w", "stop");
      running.delete(primary);
    },
    async promoteReplica() {
      await ctl(replica, "-w", "-t", "60", "promote");
    },
    dispose,
  };
}
