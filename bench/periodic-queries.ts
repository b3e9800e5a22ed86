/**
 * Do the kernel's periodic queries stay cheap as the tables grow (issue 20)? A throwaway PostgreSQL cluster
 * (initdb), migrated, filled with N finished jobs (each with a completed task and two events) plus a few
 * active ones; then a compiled distributed kernel (no embedded worker) idles on it while `auto_explain` logs
 * the plan and actual time of every statement it runs (EXPLAIN ANALYZE of each, without touching the code).
 * Printed per distinct statement: how often it ran, its slowest run, and the scans it used — a sequential
 * scan of jobs, tasks or job_events at this size is the thing to fix.
 *
 *   node_modules/.bin/bun bench/periodic-queries.ts [--rows 1000000] [--idle 8] [--dist /tmp/bench-dist] [--drop-index NAME] [--job-retention 720h]
 *   (--drop-index: measure "before" an index migration, with the same binary; --job-retention: the kernel's
 *   JOB_RETENTION, whose first round runs at start — 720h by default: the filled jobs finished 29 days ago, so
 *   its candidate query runs through the index and deletes nothing; 0 leaves it out, 1h deletes them in batches)
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { openDatabase } from "../src/db/client.ts";
import { migrate } from "../src/db/migrate.ts";
import { startThrowawayPostgres } from "../test/helpers/cluster.ts";
import { cleanupPrefix, natsUrl, uniquePrefix } from "../test/helpers/nats.ts";
import { Kernel, arg, distDir, fmt, log, main, numArg, onCleanup, printMachine, table, tempDir } from "./lib.ts";

const ROWS = numArg("rows", 1_000_000);
const IDLE_S = numArg("idle", 8);

interface Logged {
  text: string;
  ms: number;
  plan: string;
}

/** auto_explain entries of the server log: "duration: X ms  plan:\n\tQuery Text: …\n\t<plan lines>". Pure. */
export function parseAutoExplain(serverLog: string): Logged[] {
  const out: Logged[] = [];
  const parts = serverLog.split(/\n(?=\S*\s*\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] LOG:)/);
  for (const part of parts) {
    const m = /LOG:\s+duration: ([\d.]+) ms\s+plan:\s*\n\s*Query Text:([\s\S]*)/.exec(part);
    if (!m) continue;
    // The query text may span lines; the plan starts at the first node line (it carries "(cost=…" or "(actual …").
    const lines = m[2]!.split("\n");
    const planStart = lines.findIndex((line) => /\((cost|actual)[ =]/.test(line));
    const textLines = planStart < 0 ? lines : lines.slice(0, planStart);
    out.push({ ms: Number(m[1]), text: textLines.join(" ").replace(/\s+/g, " ").trim(), plan: planStart < 0 ? "" : lines.slice(planStart).join("\n") });
  }
  return out;
}

const BIG_TABLES = ["jobs", "tasks", "job_events"];

await main(async () => {
  printMachine();
  const dist = distDir();
  const pg = await startThrowawayPostgres();
  onCleanup(() => pg.dispose());
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  onCleanup(() => admin.end({ timeout: 2 }));
  await admin`create database bench`;
  const url = pg.url.replace(/\/postgres$/, "/bench");
  const database = await openDatabase({ url, dataDir: "", maxConnections: 2 });
  await migrate(database.db);
  await database.close();

  const sql = postgres(url, { max: 1, onnotice: () => {} });
  onCleanup(() => sql.end({ timeout: 2 }));
  log(`filling: ${ROWS} finished jobs, each with a completed task and 2 events …`);
  const t0 = performance.now();
  await sql.unsafe(`
    insert into jobs (id, source_url, profiles, status, progress, created_at, updated_at, started_at, finished_at)
      select gen_random_uuid(), 'old/' || g || '.mp4', '["360p_h264"]', 'completed', 100,
             now() - interval '30 days' + g * interval '1 ms', now() - interval '29 days', now() - interval '30 days', now() - interval '29 days'
      from generate_series(1, ${ROWS}) g`);
  await sql.unsafe(`
    insert into tasks (job_id, type, seq, status, attempt, progress, created_at, updated_at, started_at, finished_at, published_at)
      select id, 'analyze', 0, 'completed', 1, 100, created_at, updated_at, started_at, finished_at, started_at from jobs`);
  await sql.unsafe(`
    insert into job_events (job_id, to_status, at)
      select id, s, created_at from jobs, (values ('queued'), ('completed')) v(s)`);
  // A little live work: queued jobs with a task each (what the reconciler's queries look for).
  await sql.unsafe(`
    with j as (insert into jobs (source_url, profiles) select 'new/' || g || '.mp4', '["360p_h264"]' from generate_series(1, 20) g returning id)
    insert into tasks (job_id, type, seq) select id, 'analyze', 0 from j`);
  const dropIndex = arg("drop-index", "");
  if (dropIndex) {
    if (!/^[a-z_][a-z0-9_]*$/.test(dropIndex)) throw new Error(`--drop-index takes an index name, got ${dropIndex}`);
    await sql.unsafe(`drop index ${dropIndex}`);
    log(`dropped index ${dropIndex} (the "before" measurement)`);
  }
  await sql.unsafe("analyze");
  log(`filled in ${fmt((performance.now() - t0) / 1000)} s`);

  // Every statement of the kernel's sessions on this database is logged with its EXPLAIN ANALYZE.
  for (const setting of ["session_preload_libraries = 'auto_explain'", "auto_explain.log_min_duration = 0", "auto_explain.log_analyze = on", "auto_explain.log_timing = on"]) {
    await admin.unsafe(`alter database bench set ${setting}`);
  }
  const logPath = join(pgDataParent(pg.port), "pg.log");
  const before = readFileSync(logPath, "utf8").length;

  const prefix = uniquePrefix();
  onCleanup(() => cleanupPrefix(natsUrl(), prefix).catch(() => {}));
  const { kernel } = await Kernel.start({ dist, dataDir: tempDir("pq-data"), env: { DATABASE_URL: url, NATS_URL: natsUrl(), BUS_PREFIX: prefix, EMBEDDED_WORKER: "false", JOB_RETENTION: arg("job-retention", "720h") } });
  log(`kernel up; idling ${IDLE_S} s …`);
  await Bun.sleep(IDLE_S * 1000);
  await kernel.stop();

  const entries = parseAutoExplain(readFileSync(logPath, "utf8").slice(before));
  const byText = new Map<string, Logged[]>();
  for (const e of entries) byText.set(e.text, [...(byText.get(e.text) ?? []), e]);
  const rows: Array<Array<string | number>> = [];
  let seqScans = 0;
  for (const [text, runs] of byText) {
    const scans = [...new Set(runs.flatMap((r) => [...r.plan.matchAll(/(Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan)(?: using \S+)? on (\w+)/g)].map((m) => `${m[1]} ${m[2]}`)))];
    const bad = scans.filter((s) => s.startsWith("Seq Scan") && BIG_TABLES.includes(s.split(" ").pop()!));
    seqScans += bad.length ? 1 : 0;
    rows.push([text.slice(0, 110), runs.length, Math.max(...runs.map((r) => r.ms)), scans.join(", ").slice(0, 120) || "(no table)", bad.length ? "SEQ SCAN" : ""]);
  }
  rows.sort((a, b) => Number(b[2]) - Number(a[2]));
  log(`\n${entries.length} statements in ${IDLE_S} s of an idle kernel over ${ROWS} finished jobs (${ROWS} tasks, ${2 * ROWS} events):`);
  table(["statement", "runs", "slowest ms", "scans", ""], rows);
  log(`\nstatements with a sequential scan of ${BIG_TABLES.join("/")}: ${seqScans} of ${byText.size}`);
});

/** The throwaway cluster's directory (its log is pg.log there): read from the postmaster's command line. */
function pgDataParent(port: number): string {
  const pids = Bun.spawnSync(["pgrep", "-f", "--", `-p ${port} `]).stdout.toString().split("\n").filter(Boolean);
  for (const pid of pids) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      const data = argv[argv.indexOf("-D") + 1];
      if (argv[0]?.endsWith("/postgres") && data) return join(data, "..");
    } catch {
      // gone
    }
  }
  throw new Error(`no postmaster on port ${port}`);
}
