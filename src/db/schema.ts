/**
 * The database schema (drizzle-orm). One schema and one set of migrations for both drivers
 * (postgres.js against PostgreSQL, PGlite embedded). Migrations are generated from this file with
 * `bun run db:generate` (drizzle-kit) into `migrations/`; never edit a generated migration after it landed.
 *
 * States are text columns with CHECK constraints rather than PostgreSQL enums: adding a state later is a
 * plain migration, and the single module of guarded transitions (src/kernel/orchestrator/transitions.ts)
 * is where the allowed values and moves live.
 */
import { sql } from "drizzle-orm";
import type { ProfileSpec } from "../core/profile-spec.ts";
import { type JobOptions, TASK_TYPES, type TaskParams, type TaskResult, type TaskType } from "../core/task-contracts.ts";
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp("updated_at", { withTimezone: true }).notNull().defaultNow();
const ts = (name: string) => timestamp(name, { withTimezone: true });

export const JOB_STATUSES = ["queued", "analyzing", "processing", "packaging", "completed", "failed", "cancelled"] as const;
export const TASK_STATUSES = ["queued", "leased", "completed", "failed", "cancelled"] as const;
export { TASK_TYPES };
export const WORKER_STATUSES = ["healthy", "draining", "offline"] as const;
export const PLUGIN_PILLARS = ["auth", "storage", "encoder", "live", "publisher"] as const;

const inList = (col: string, values: readonly string[]) => sql.raw(`${col} in (${values.map((s) => `'${s}'`).join(", ")})`);

export const jobs = pgTable(
  "jobs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id"),
    sourceUrl: text("source_url").notNull(),
    profiles: jsonb("profiles").$type<string[]>().notNull(),
    outputs: jsonb("outputs").$type<string[]>().notNull().default(sql`'["mp4"]'::jsonb`),
    options: jsonb("options").$type<JobOptions>().notNull().default(sql`'{}'::jsonb`),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    priority: integer("priority").notNull().default(0),
    status: text("status").notNull().default("queued"),
    /** Why a queued job is not moving (e.g. "no healthy worker has capability nvidia"). */
    statusReason: text("status_reason"),
    progress: real("progress").notNull().default(0),
    etaSeconds: integer("eta_seconds"),
    probe: jsonb("probe").$type<Record<string, unknown>>(),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    errorDetails: jsonb("error_details").$type<Record<string, unknown>>(),
    idempotencyKey: text("idempotency_key"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    startedAt: ts("started_at"),
    finishedAt: ts("finished_at"),
  },
  (t) => [
    check("jobs_status_check", inList("status", JOB_STATUSES)),
    check("jobs_progress_check", sql`progress >= 0 and progress <= 100`),
    uniqueIndex("jobs_idempotency_key_uq").on(t.idempotencyKey),
    index("jobs_status_created_idx").on(t.status, t.createdAt.desc()),
    index("jobs_created_idx").on(t.createdAt.desc()),
    // The reconciler's "which jobs carry a status_reason" every second: only those rows (migration 0005).
    index("jobs_status_reason_idx").on(t.id).where(sql`status_reason is not null`),
    // From the operator runbook's performance section.
    index("idx_jobs_user_created").on(t.userId, t.createdAt.desc()).where(sql`status <> 'completed'`),
  ],
);

/** Every job/task state change with its time: the timeline shown in GET /v1/jobs/:id. */
export const jobEvents = pgTable(
  "job_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    taskId: uuid("task_id"),
    fromStatus: text("from_status"),
    toStatus: text("to_status").notNull(),
    detail: jsonb("detail").$type<Record<string, unknown>>(),
    at: ts("at").notNull().defaultNow(),
  },
  (t) => [index("job_events_job_idx").on(t.jobId, t.id)],
);

export const tasks = pgTable(
  "tasks",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    type: text("type").$type<TaskType>().notNull(),
    seq: integer("seq").notNull().default(0),
    /** The worker pool (required capability) that may run it: cpu, nvidia, qsv, vaapi. */
    pool: text("pool").notNull().default("cpu"),
    status: text("status").notNull().default("queued"),
    /** Fencing number of the current attempt: bumped on every (re)queue, carried in the lease. */
    attempt: integer("attempt").notNull().default(1),
    /** Failed attempts so far (an aborted/handed-back attempt does not count); retries stop at max_attempts. */
    failures: integer("failures").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(3),
    /** Checked against the task type's contract (core/task-contracts.ts) when built, and by the worker. */
    params: jsonb("params").$type<TaskParams>().notNull().default(sql`'{}'::jsonb`),
    /** Stored only after the kernel checked the worker's report against the contract (orchestrator/results.ts). */
    result: jsonb("result").$type<TaskResult>(),
    /** Media seconds this task covers: weights the job's progress. */
    mediaSeconds: doublePrecision("media_seconds").notNull().default(0),
    progress: real("progress").notNull().default(0),
    leaseToken: text("lease_token"),
    leaseWorkerId: text("lease_worker_id"),
    leaseExpiresAt: ts("lease_expires_at"),
    /** Not to be (re)delivered before this time: retry backoff. */
    notBefore: ts("not_before"),
    /** When the current attempt was handed to the bus; null means "must be (re)published". */
    publishedAt: ts("published_at"),
    deadlineAt: ts("deadline_at"),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    startedAt: ts("started_at"),
    finishedAt: ts("finished_at"),
  },
  (t) => [
    check("tasks_status_check", inList("status", TASK_STATUSES)),
    check("tasks_type_check", inList("type", TASK_TYPES)),
    uniqueIndex("tasks_job_type_seq_uq").on(t.jobId, t.type, t.seq),
    // From the operator runbook's performance section.
    index("idx_tasks_job_status").on(t.jobId, t.status),
    index("tasks_status_pool_idx").on(t.status, t.pool),
  ],
);

/** One row per attempt of a task: which worker, how it ended, and the evidence (argv, stderr tail). */
export const taskAttempts = pgTable(
  "task_attempts",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    taskId: uuid("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    workerId: text("worker_id").notNull(),
    leaseToken: text("lease_token").notNull(),
    outcome: text("outcome"),
    errorClass: text("error_class"),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    exitCode: integer("exit_code"),
    signal: text("signal"),
    argv: jsonb("argv").$type<string[]>(),
    stderrTail: text("stderr_tail"),
    startedAt: ts("started_at").notNull().defaultNow(),
    finishedAt: ts("finished_at"),
  },
  (t) => [uniqueIndex("task_attempts_task_attempt_uq").on(t.taskId, t.attempt)],
);

export const jobLogs = pgTable(
  "job_logs",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    taskId: uuid("task_id"),
    level: text("level").notNull(),
    message: text("message").notNull(),
    at: ts("at").notNull().defaultNow(),
  },
  (t) => [index("job_logs_job_idx").on(t.jobId, t.id)],
);

export const workers = pgTable(
  "workers",
  {
    id: text("id").primaryKey(),
    hostname: text("hostname").notNull(),
    version: text("version").notNull(),
    status: text("status").notNull().default("healthy"),
    slots: integer("slots").notNull().default(1),
    running: integer("running").notNull().default(0),
    pools: jsonb("pools").$type<string[]>().notNull().default(sql`'["cpu"]'::jsonb`),
    capabilities: jsonb("capabilities").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    drainRequested: boolean("drain_requested").notNull().default(false),
    firstSeenAt: ts("first_seen_at").notNull().defaultNow(),
    lastSeenAt: ts("last_seen_at").notNull().defaultNow(),
    offlineAt: ts("offline_at"),
  },
  (t) => [check("workers_status_check", inList("status", WORKER_STATUSES)), index("workers_status_idx").on(t.status)],
);

export const profiles = pgTable("profiles", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  description: text("description"),
  builtin: boolean("builtin").notNull().default(false),
  /** Validated with parseProfile before it is written (kernel/api/profiles.ts). */
  spec: jsonb("spec").$type<ProfileSpec>().notNull(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const pluginConfigs = pgTable(
  "plugin_configs",
  {
    id: text("id").primaryKey(),
    pillar: text("pillar").notNull(),
    enabled: boolean("enabled").notNull().default(true),
    /** Routing priority; null = the plugin's own default (manifest or built-in). */
    priority: integer("priority"),
    config: jsonb("config").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    /** Secret fields, encrypted at rest; never returned by the API. */
    secrets: jsonb("secrets").$type<Record<string, string>>().notNull().default(sql`'{}'::jsonb`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [check("plugin_configs_pillar_check", inList("pillar", PLUGIN_PILLARS)), index("plugin_configs_pillar_idx").on(t.pillar)],
);

export const OUTPUT_KINDS = ["mp4", "webm", "hls", "thumbnail", "sprite", "vtt"] as const;

/** What a job produced, in storage: one row per file a user downloads or plays (HLS: the master playlist). */
export const outputs = pgTable(
  "outputs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    kind: text("kind").notNull(),
    profile: text("profile"),
    storagePlugin: text("storage_plugin").notNull(),
    storageKey: text("storage_key").notNull(),
    /** For HLS: the prefix holding the playlists and segments (deleted with the job). */
    storagePrefix: text("storage_prefix"),
    sizeBytes: bigint("size_bytes", { mode: "number" }).notNull().default(0),
    durationS: doublePrecision("duration_s"),
    width: integer("width"),
    height: integer("height"),
    bitrate: integer("bitrate"),
    videoCodec: text("video_codec"),
    audioCodec: text("audio_codec"),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    createdAt: createdAt(),
  },
  (t) => [check("outputs_kind_check", inList("kind", OUTPUT_KINDS)), index("outputs_job_idx").on(t.jobId)],
);

export const PUBLICATION_STATUSES = ["uploading", "completed", "failed"] as const;
export const PUBLICATION_PRIVACY = ["private", "unlisted", "public"] as const;

/**
 * A job output uploaded to a publisher's platform (POST /v1/jobs/:id/publish, src/kernel/publishers/publish.ts).
 * `session_sealed` is the platform's resumable upload session, encrypted with the kernel's secret key (it
 * authorizes uploading to the session, so it is a secret: never returned, logged or sent in an event);
 * `bytes_confirmed` is what the platform said it holds. The lease lets exactly one kernel run an upload and
 * another resume it after that kernel died.
 */
export const publications = pgTable(
  "publications",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    outputId: uuid("output_id")
      .notNull()
      .references(() => outputs.id, { onDelete: "cascade" }),
    publisher: text("publisher").notNull(),
    account: text("account"),
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    privacy: text("privacy").notNull().default("private"),
    status: text("status").notNull().default("uploading"),
    bytesTotal: bigint("bytes_total", { mode: "number" }).notNull(),
    bytesConfirmed: bigint("bytes_confirmed", { mode: "number" }).notNull().default(0),
    sessionSealed: text("session_sealed"),
    platformVideoId: text("platform_video_id"),
    url: text("url"),
    errorCode: text("error_code"),
    errorMessage: text("error_message"),
    /** How many times an upload run started (1 + resumes after a kernel stopped or died). */
    runs: integer("runs").notNull().default(0),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: ts("lease_expires_at"),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    finishedAt: ts("finished_at"),
  },
  (t) => [
    check("publications_status_check", inList("status", PUBLICATION_STATUSES)),
    check("publications_privacy_check", inList("privacy", PUBLICATION_PRIVACY)),
    index("publications_job_idx").on(t.jobId, t.createdAt.desc()),
    index("publications_uploading_idx").on(t.leaseExpiresAt).where(sql`status = 'uploading'`),
    index("publications_output_idx").on(t.outputId),
  ],
);

// ---- security (issue 6) -------------------------------------------------------------------------------

export const ROLES = ["viewer", "operator", "admin"] as const;

/** API keys for scripts and CI. Only a SHA-256 of the key is stored; the key itself is shown once. */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    /** The first characters of the key ("we_ab12cd34"), so a user can tell keys apart in lists. */
    prefix: text("prefix").notNull(),
    keyHash: text("key_hash").notNull(),
    role: text("role").notNull(),
    /** Who created it: "key:<id>", "basic:<user>", "oidc:<sub>" or "system" for the first admin key. */
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
    expiresAt: ts("expires_at"),
    lastUsedAt: ts("last_used_at"),
    revokedAt: ts("revoked_at"),
  },
  (t) => [check("api_keys_role_check", inList("role", ROLES)), uniqueIndex("api_keys_hash_uq").on(t.keyHash)],
);

/** Every state-changing API call: who, what, on which target, from where, and how it ended. */
export const auditLog = pgTable(
  "audit_log",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    at: ts("at").notNull().defaultNow(),
    actor: text("actor").notNull(),
    actorRole: text("actor_role"),
    method: text("method").notNull(),
    route: text("route").notNull(),
    /** e.g. "jobs.create", "api_keys.revoke": the policy table's action name. */
    action: text("action").notNull(),
    target: text("target"),
    status: integer("status").notNull(),
    clientIp: text("client_ip"),
    userAgent: text("user_agent"),
    requestId: text("request_id"),
  },
  (t) => [index("audit_log_at_idx").on(t.at.desc()), index("audit_log_actor_idx").on(t.actor, t.id), index("audit_log_action_idx").on(t.action, t.id)],
);

// ---- events and webhooks (issue 7) -----------------------------------------------------------------------

/**
 * Durable platform events (state changes of jobs, tasks, workers, plugins), written in the same transaction
 * as the change they describe. The id orders them and is the SSE event id (resume with Last-Event-ID);
 * webhook deliveries are created from them in the same transaction, so neither can be lost.
 */
export const events = pgTable(
  "events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    type: text("type").notNull(),
    jobId: uuid("job_id"),
    streamId: text("stream_id"),
    workerId: text("worker_id"),
    data: jsonb("data").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    createdAt: createdAt(),
  },
  (t) => [index("events_job_idx").on(t.jobId, t.id), index("events_created_idx").on(t.createdAt)],
);

export const webhooks = pgTable("webhooks", {
  id: uuid("id").primaryKey().defaultRandom(),
  url: text("url").notNull(),
  /** Event types it receives; ["*"] for all. */
  eventTypes: jsonb("event_types").$type<string[]>().notNull(),
  description: text("description"),
  /** The HMAC secret, encrypted with SECRET_KEY (src/core/secret-box.ts); never returned by the API. */
  secretEnc: text("secret_enc").notNull(),
  enabled: boolean("enabled").notNull().default(true),
  consecutiveFailures: integer("consecutive_failures").notNull().default(0),
  /** Set after too many consecutive failures; deliveries wait until an admin unmutes. */
  mutedAt: ts("muted_at"),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
});

export const WEBHOOK_DELIVERY_STATUSES = ["pending", "succeeded", "failed"] as const;

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    webhookId: uuid("webhook_id")
      .notNull()
      .references(() => webhooks.id, { onDelete: "cascade" }),
    eventId: bigint("event_id", { mode: "number" }).notNull(),
    eventType: text("event_type").notNull(),
    /** pending (to be tried at next_attempt_at), succeeded, failed (gave up after the retry window). */
    status: text("status").notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ts("next_attempt_at").notNull().defaultNow(),
    /** A sender's claim: another kernel does not send it again before this time. */
    lockedUntil: ts("locked_until"),
    lastAttemptAt: ts("last_attempt_at"),
    responseCode: integer("response_code"),
    latencyMs: integer("latency_ms"),
    lastError: text("last_error"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("webhook_deliveries_status_check", inList("status", WEBHOOK_DELIVERY_STATUSES)),
    uniqueIndex("webhook_deliveries_hook_event_uq").on(t.webhookId, t.eventId),
    index("webhook_deliveries_due_idx").on(t.status, t.nextAttemptAt),
    index("webhook_deliveries_hook_idx").on(t.webhookId, t.createdAt.desc()),
  ],
);

// ---- live streaming (issue 15, docs/live.md) --------------------------------------------------------------

export const STREAM_PLAYBACK = ["public", "signed"] as const;
export const STREAM_SEGMENT_SECONDS = [1, 2] as const;

/** A live stream: its ingest key (only a SHA-256 is stored; the key is shown on create and rotate only). */
export const streams = pgTable(
  "streams",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    keyHash: text("key_hash").notNull(),
    /** The first characters of the key ("wsk_ab12cd"), so an operator can tell which key OBS has. */
    keyPrefix: text("key_prefix").notNull(),
    /** True while a session is open (publisher connected, or within the reconnect grace). */
    isLive: boolean("is_live").notNull().default(false),
    archive: boolean("archive").notNull().default(false),
    archiveProfiles: jsonb("archive_profiles").$type<string[]>().notNull().default(sql`'[]'::jsonb`),
    /** The live ladder preset (src/kernel/live/ladders.ts). */
    ladder: text("ladder").notNull().default("default"),
    segmentSeconds: integer("segment_seconds").notNull().default(2),
    playback: text("playback").notNull().default("public"),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("streams_segment_seconds_check", sql`segment_seconds in (1, 2)`),
    check("streams_playback_check", inList("playback", STREAM_PLAYBACK)),
    uniqueIndex("streams_key_hash_uq").on(t.keyHash),
    index("streams_created_idx").on(t.createdAt.desc()),
  ],
);

/** One publish of a stream, reconnects within the grace included: the history GET /v1/streams/:id/sessions shows. */
export const streamSessions = pgTable(
  "stream_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    streamId: uuid("stream_id")
      .notNull()
      .references(() => streams.id, { onDelete: "cascade" }),
    startedAt: ts("started_at").notNull().defaultNow(),
    endedAt: ts("ended_at"),
    endReason: text("end_reason"),
    bytesIn: bigint("bytes_in", { mode: "number" }).notNull().default(0),
    remoteAddress: text("remote_address"),
    liveTaskId: uuid("live_task_id"),
    archiveJobId: uuid("archive_job_id"),
    /** The kernel that ingests it (its RTMP server holds the publisher). */
    kernelId: text("kernel_id").notNull(),
  },
  (t) => [
    index("stream_sessions_stream_idx").on(t.streamId, t.startedAt.desc()),
    // At most one open session per stream, whichever kernel the publisher reaches.
    uniqueIndex("stream_sessions_open_uq").on(t.streamId).where(sql`ended_at is null`),
  ],
);

// ---- live stream restream destinations (issue 16, docs/restream.md "Live stream destinations") -----------

export const STREAM_DESTINATION_PUBLISHERS = ["publisher-rtmp", "publisher-youtube", "publisher-twitch"] as const;

/**
 * Where a live stream is restreamed while it is live. The key is sealed with the kernel's secret box and never
 * returned; url and key are null for an OAuth publisher that hands out its own ingest (`prepare_live`).
 */
export const streamDestinations = pgTable(
  "stream_destinations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    streamId: uuid("stream_id")
      .notNull()
      .references(() => streams.id, { onDelete: "cascade" }),
    publisher: text("publisher").notNull(),
    name: text("name").notNull(),
    url: text("url"),
    keySealed: text("key_sealed"),
    enabled: boolean("enabled").notNull().default(true),
    /** `{ height, video_kbps }` for a destination of its own encode; null = stream copy. */
    transcode: jsonb("transcode").$type<{ height: number; video_kbps: number }>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("stream_destinations_publisher_check", inList("publisher", STREAM_DESTINATION_PUBLISHERS)),
    index("stream_destinations_stream_idx").on(t.streamId, t.createdAt),
  ],
);

// ---- restreams (issue 16, docs/restream.md) ---------------------------------------------------------------

export const RESTREAM_STATUSES = ["scheduled", "starting", "live", "stopping", "stopped", "completed", "failed"] as const;
export const RESTREAM_ORIGINS = ["api", "stream"] as const;

/**
 * One restream: an input sent to several RTMP destinations by one `restream` task (its own job, like a live
 * session's). Stream keys are sealed by the kernel's secret box inside `destinations` and reach a worker only
 * through the internal destinations endpoint (src/kernel/restream/internal.ts), never through tasks.params.
 */
export const restreams = pgTable(
  "restreams",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name"),
    /** `api` (POST /v1/restreams) or `stream` (started by a live stream's destinations). */
    origin: text("origin").notNull().default("api"),
    /** The resolved input (src/kernel/restream/request.ts RestreamInputSpec). */
    input: jsonb("input").$type<Record<string, unknown>>().notNull(),
    loop: boolean("loop").notNull().default(false),
    startAt: ts("start_at"),
    stopAt: ts("stop_at"),
    /** StoredDestination[]: the keys sealed. */
    destinations: jsonb("destinations").$type<Record<string, unknown>[]>().notNull().default(sql`'[]'::jsonb`),
    status: text("status").notNull().default("scheduled"),
    jobId: uuid("job_id").references(() => jobs.id, { onDelete: "set null" }),
    taskId: uuid("task_id"),
    /** Input position reached (seconds into the file, modulo its duration when looping): where a resumed attempt starts. */
    positionS: doublePrecision("position_s").notNull().default(0),
    inputDurationS: doublePrecision("input_duration_s"),
    /** The latest per-destination reports of the task (DestinationReportLike[]). */
    reports: jsonb("reports").$type<Record<string, unknown>[]>().notNull().default(sql`'[]'::jsonb`),
    error: text("error"),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    startedAt: ts("started_at"),
    endedAt: ts("ended_at"),
  },
  (t) => [
    check("restreams_status_check", inList("status", RESTREAM_STATUSES)),
    check("restreams_origin_check", inList("origin", RESTREAM_ORIGINS)),
    index("restreams_created_idx").on(t.createdAt.desc()),
    index("restreams_due_idx").on(t.status).where(sql`status in ('scheduled', 'starting', 'live', 'stopping')`),
    index("restreams_task_idx").on(t.taskId),
    index("restreams_job_idx").on(t.jobId),
  ],
);
