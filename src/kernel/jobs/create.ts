/**
 * Job submission: validate everything first (source URL, profiles, outputs), then one statement writes the
 * job, its timeline entry, its job.created event (with the webhook deliveries) and its analyze task, so a job
 * never exists without its first task; concurrent submissions share that statement (JobInserter). An Idempotency-Key returns the
 * original job on a repeat instead of creating a second one.
 */
import { eq, getTableColumns, sql } from "drizzle-orm";
import { rowsOf } from "../../db/exec.ts";
import { AppError } from "../../core/errors.ts";
import { GroupCommit } from "../../core/group-commit.ts";
import type { Db } from "../../db/client.ts";
import { jobs } from "../../db/schema.ts";
import type { ProfileSpec } from "../../media/profiles.ts";
import { resolveProfiles } from "../profiles/catalog.ts";
import type { JobRow } from "../orchestrator/transitions.ts";
import { parseSourceUrl } from "../../core/source-url.ts";
import { checkSourceUrl } from "../../core/outbound-guard.ts";
import { sidecarFormat } from "../../media/subtitles.ts";

export interface JobRequest {
  source_url: string;
  profiles: string[];
  outputs?: Array<"mp4" | "hls">;
  thumbnails?: boolean | { poster?: boolean; sprite?: boolean; interval_s?: number };
  priority?: number;
  metadata?: Record<string, unknown>;
  /** Audio tracks to carry (indexes or languages, media/audio-tracks.ts); absent: all of them. */
  audio_tracks?: Array<number | string>;
  /** Sidecar subtitle files (media/subtitles.ts), each URL checked like the source's. */
  subtitles?: Array<{ source_url: string; language: string; name: string; default?: boolean }>;
  /** One subtitle track burned into the picture (media/subtitles-burn.ts); resolved against the source at planning. */
  burn_subtitles?: { track?: number; sidecar?: number; language?: string; keep_soft?: boolean };
}

/** HLS variants are stream-copied into MPEG-TS/fMP4 segments: only MP4-family codecs qualify. */
function checkOutputs(outputs: string[], specs: ProfileSpec[]): void {
  if (!outputs.includes("hls")) return;
  const unfit = specs.filter((p) => p.container !== "mp4" || !["h264", "hevc"].includes(p.video.codec));
  if (unfit.length) {
    throw new AppError("WE-JOB-003", `HLS output needs H.264 or HEVC profiles in MP4; not suitable: ${unfit.map((p) => p.id).join(", ")}`, {
      profiles: unfit.map((p) => p.id),
    });
  }
}

/**
 * `outbound`: the outbound-request policy for http(s) sources (OUTBOUND_ALLOW_CIDRS); the API always passes
 * it. Without it the address check is skipped (callers that build jobs from trusted input).
 */
export async function createJob(
  db: Db,
  req: JobRequest,
  opts: {
    idempotencyKey?: string;
    storage: string;
    userId?: string;
    maxAttempts?: number;
    outbound?: { allowCidrs: readonly string[] };
    /** Checks that a storage-key source exists (the API passes it; WE-JOB-002 otherwise), after the cheaper checks. */
    keyExists?: (key: string) => Promise<void>;
  },
): Promise<{ job: JobRow; replayed: boolean }> {
  if (opts.idempotencyKey) {
    const [existing] = await db.select().from(jobs).where(eq(jobs.idempotencyKey, opts.idempotencyKey));
    if (existing) return { job: existing, replayed: true };
  }
  const source = parseSourceUrl(req.source_url);
  // Loopback, private, link-local and metadata addresses are refused after DNS resolution (docs/security.md).
  if (source.kind === "url" && opts.outbound) await checkSourceUrl(source.url, opts.outbound.allowCidrs);
  const subtitles = (req.subtitles ?? []).map((s) => ({ ...s, source_url: s.source_url.trim() }));
  for (const s of subtitles) {
    if (!sidecarFormat(s.source_url)) throw new AppError("WE-JOB-002", `subtitles: ${s.source_url} is not a subtitle file this pipeline reads (.srt, .ass, .ssa or .vtt)`);
    const ref = parseSourceUrl(s.source_url);
    if (ref.kind === "url" && opts.outbound) await checkSourceUrl(ref.url, opts.outbound.allowCidrs);
  }
  const burn = req.burn_subtitles;
  if (burn?.sidecar !== undefined && burn.sidecar >= subtitles.length) {
    throw new AppError("WE-JOB-001", `burn_subtitles.sidecar is ${burn.sidecar}, but the job lists ${subtitles.length} sidecar subtitle file(s) under "subtitles" (sidecar 0 is the first)`);
  }
  const specs = await resolveProfiles(db, req.profiles);
  const outputs = [...new Set(req.outputs ?? ["mp4"])];
  checkOutputs(outputs, specs);
  if (source.kind === "key") await opts.keyExists?.(source.key);
  for (const s of subtitles) {
    const ref = parseSourceUrl(s.source_url);
    if (ref.kind === "key") await opts.keyExists?.(ref.key);
  }
  const thumbnails = req.thumbnails === true ? { poster: true, sprite: false, interval_s: 10 } : req.thumbnails === false || req.thumbnails === undefined ? null : { poster: true, sprite: false, interval_s: 10, ...req.thumbnails };

  try {
    const job = await insertJob(db, {
      sourceUrl: req.source_url.trim(),
      profiles: req.profiles,
      outputs,
      options: { thumbnails, storage: opts.storage, source_kind: source.kind, ...(req.audio_tracks ? { audio_tracks: req.audio_tracks } : {}), ...(subtitles.length > 0 ? { subtitles } : {}), ...(burn ? { burn_subtitles: burn } : {}) },
      metadata: req.metadata ?? {},
      priority: req.priority ?? 0,
      idempotencyKey: opts.idempotencyKey ?? null,
      userId: opts.userId ?? null,
    }, { maxAttempts: opts.maxAttempts ?? 3 });
    return { job, replayed: false };
  } catch (e) {
    // Two concurrent requests with one key: the loser returns the winner's job.
    if (opts.idempotencyKey && /jobs_idempotency_key_uq|duplicate key/.test(String((e as Error).message) + String((e as { cause?: Error }).cause?.message))) {
      const [existing] = await db.select().from(jobs).where(eq(jobs.idempotencyKey, opts.idempotencyKey));
      if (existing) return { job: existing, replayed: true };
    }
    throw e;
  }
}

/**
 * The job rows, their first timeline entries, the job.created events (and one pending delivery per subscribed
 * webhook, as events/record.ts does) and the analyze tasks, in ONE statement: a single round trip and commit
 * instead of a transaction of five, and just as atomic. Everything but the job row is derived from it, so
 * one statement serves any number of jobs. Every later insert selects from the jobs', so the job rows are
 * written first: the transaction has its xid before it takes an event id (what events/cursor.ts relies on).
 */
async function insertJobs(db: Db, values: Array<typeof jobs.$inferInsert>, maxAttempts: number): Promise<JobRow[]> {
  // drizzle renders the embedded insert (its column mapping and parameters) inside parentheses itself.
  const result = await db.execute(sql`
    with j as ${db.insert(jobs).values(values).returning()},
    timeline as (insert into job_events (job_id, to_status, detail) select id, 'queued', jsonb_build_object('profiles', profiles, 'outputs', outputs) from j),
    ev as (
      insert into events (type, job_id, data)
      select 'job.created', id, jsonb_build_object('job_id', id, 'status', 'queued', 'profiles', profiles, 'outputs', outputs) from j
      returning id, type
    ),
    hooks as (
      insert into webhook_deliveries (webhook_id, event_id, event_type)
      select w.id, ev.id, ev.type from webhooks w, ev
      where w.enabled and (w.event_types ? ev.type or w.event_types ? '*')
      on conflict do nothing
    ),
    first_task as (
      insert into tasks (job_id, type, seq, pool, params, max_attempts)
      select id, 'analyze', 0, 'cpu', jsonb_build_object('source_url', source_url, 'storage', options->>'storage'), ${maxAttempts}::int from j
    )
    select * from j`);
  return rowsOf<Record<string, unknown>>(result).map(jobFromDriver);
}

/** Most jobs one statement inserts. */
export const JOB_INSERT_BATCH_MAX = 100;

/**
 * Group commit for submissions (core/group-commit.ts): under load many 201s share one statement and one commit
 * (WAL flush), while a lone job is inserted at once. Each caller's promise settles only after the statement
 * that holds its job committed: a 201 still means the job is durable. A batch that fails (one job's
 * Idempotency-Key taken meanwhile, the database away) is rolled back whole and each of its jobs is inserted
 * alone, so every caller gets its own job or its own error.
 */
class JobInserter {
  private readonly commits: GroupCommit<typeof jobs.$inferInsert, JobRow>;

  constructor(db: Db, maxAttempts: number) {
    this.commits = new GroupCommit({
      max: JOB_INSERT_BATCH_MAX,
      writeBatch: async (batch) => {
        const rows = new Map((await insertJobs(db, batch, maxAttempts)).map((r) => [r.id, r]));
        return batch.map((values) => rows.get(values.id!)!);
      },
      writeOne: async (values) => (await insertJobs(db, [values], maxAttempts))[0]!,
    });
  }

  insert(values: typeof jobs.$inferInsert): Promise<JobRow> {
    // The id is chosen here so that each caller finds its own row in the batch's answer.
    return this.commits.add({ ...values, id: crypto.randomUUID() });
  }
}

const inserters = new WeakMap<Db, Map<number, JobInserter>>();

/** The job (with its timeline entry, event and analyze task) once committed, batched with concurrent submissions. */
function insertJob(db: Db, values: typeof jobs.$inferInsert, task: { maxAttempts: number }): Promise<JobRow> {
  let byAttempts = inserters.get(db);
  if (!byAttempts) inserters.set(db, (byAttempts = new Map()));
  let inserter = byAttempts.get(task.maxAttempts);
  if (!inserter) byAttempts.set(task.maxAttempts, (inserter = new JobInserter(db, task.maxAttempts)));
  return inserter.insert(values);
}

/** A raw `jobs` row (column names, driver values) as drizzle's select would give it. Pure. */
function jobFromDriver(raw: Record<string, unknown>): JobRow {
  const row: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(getTableColumns(jobs))) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as JobRow;
}
