/** `/v1/jobs`: submit, list, inspect, cancel, retry, delete; outputs with download URLs; logs. */
import { Elysia } from "elysia";
import * as v from "valibot";
import { AppError } from "../../core/errors.ts";
import type { KernelContext } from "../context.ts";
import { parseSourceUrl } from "../../core/source-url.ts";
import { createJob } from "../jobs/create.ts";
import { checkSourceKey, uploadStorage } from "../uploads/catalog.ts";
import { deleteJob, getJob, JOB_STATUSES, jobOutputs, listJobs } from "../jobs/lookup.ts";
import { jobDetail, jobLogView, jobSummary } from "../jobs/views.ts";
import { cancelJob, retryJob } from "../orchestrator/control.ts";
import { limitParam, offsetParam, page } from "./pagination.ts";

const jobId = v.object({ id: v.pipe(v.string(), v.uuid("job ids are UUIDs")) });

const thumbnails = v.union([
  v.boolean(),
  v.object({
    poster: v.optional(v.boolean()),
    sprite: v.optional(v.boolean()),
    interval_s: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(600))),
  }),
]);

export const jobRequestSchema = v.object({
  source_url: v.pipe(v.string(), v.minLength(1, "source_url is required"), v.maxLength(4096)),
  profiles: v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(64))), v.minLength(1, "name at least one profile"), v.maxLength(16)),
  outputs: v.optional(v.pipe(v.array(v.picklist(["mp4", "hls"], 'outputs are "mp4" and/or "hls"')), v.minLength(1))),
  thumbnails: v.optional(thumbnails),
  // Which source audio tracks the outputs carry (docs/media.md): track indexes (0 = first audio track) or
  // language codes as the source tags them; absent: every track. Checked against the source at analysis.
  audio_tracks: v.optional(
    v.pipe(
      v.array(
        v.union(
          [v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(63)), v.pipe(v.string(), v.regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})?$/))],
          "audio_tracks entries are track indexes (integers from 0) or language codes such as \"eng\"",
        ),
      ),
      v.maxLength(64, "audio_tracks lists at most 64 tracks"),
    ),
  ),
  // Sidecar subtitle files (docs/media.md): .srt, .ass/.ssa or .vtt, each a URL or key checked like source_url.
  subtitles: v.optional(
    v.pipe(
      v.array(
        v.object({
          source_url: v.pipe(v.string(), v.minLength(1, "subtitles[].source_url is required"), v.maxLength(4096)),
          language: v.pipe(v.string(), v.regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})?$/, 'subtitles[].language is a language code such as "eng" or "en"')),
          name: v.pipe(v.string(), v.minLength(1, "subtitles[].name is required"), v.maxLength(100), v.regex(/^[^"\r\n]*$/, "subtitles[].name cannot contain quotes or line breaks")),
          default: v.optional(v.boolean()),
        }),
      ),
      v.maxLength(16, "subtitles lists at most 16 files"),
    ),
  ),
  // One subtitle track burned into the picture (docs/media.md): named by exactly one of track, sidecar, language.
  burn_subtitles: v.optional(
    v.pipe(
      v.object({
        track: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(63))),
        sidecar: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(15))),
        language: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})?$/, 'burn_subtitles.language is a language code such as "eng"'))),
        keep_soft: v.optional(v.boolean()),
      }),
      v.check(
        (b) => [b.track, b.sidecar, b.language].filter((x) => x !== undefined).length === 1,
        'burn_subtitles names exactly one track: {"track": N} (N of the source\'s subtitle streams, 0:s:N), {"sidecar": N} (the job\'s subtitles[N]) or {"language": "eng"}',
      ),
    ),
  ),
  priority: v.optional(v.pipe(v.number(), v.integer(), v.minValue(-100), v.maxValue(100))),
  // Capped: every job list and event carries it (huge rows made lists take GBs of memory; issue 12).
  metadata: v.optional(v.pipe(v.record(v.string(), v.unknown()), v.check((m) => Buffer.byteLength(JSON.stringify(m)) <= 16 * 1024, "metadata is at most 16 KiB (16384 bytes) of JSON"))),
});

/** An s3:// source must name the bucket of an enabled S3 storage plugin (the worker reads it through it). */
async function checkS3Source(ctx: KernelContext, sourceUrl: string): Promise<void> {
  const ref = parseSourceUrl(sourceUrl);
  if (ref.kind !== "s3") return;
  const s3 = await ctx.plugins.route("storage", { scheme: "s3" }).catch(() => undefined);
  if (!s3) throw new AppError("WE-JOB-002", "s3:// sources need an enabled S3 storage plugin (configure and enable storage-s3 under /v1/plugins)");
  const bucket = (await ctx.pluginSettings.get(s3.id))?.config.bucket;
  if (bucket !== ref.bucket) throw new AppError("WE-JOB-002", `bucket ${ref.bucket} is not the bucket ${s3.id} is configured for (${String(bucket)})`);
}

const isoDate = v.pipe(v.string(), v.isoTimestamp("use an ISO 8601 timestamp such as 2026-01-31T12:00:00Z"));

const listQuery = v.object({
  status: v.optional(v.string()),
  profile: v.optional(v.pipe(v.string(), v.minLength(1, "profile is a profile or ladder id"), v.maxLength(64, "profile ids are at most 64 characters"))),
  created_after: v.optional(isoDate),
  created_before: v.optional(isoDate),
  limit: limitParam,
  offset: offsetParam,
});

export function jobRoutes(ctx: KernelContext) {
  return new Elysia({ prefix: "/v1/jobs", detail: { tags: ["jobs"] } } as never).use(jobReadRoutes(ctx)).use(jobActionRoutes(ctx));
}

/** Submit, list, inspect: a job, its outputs and its logs. */
function jobReadRoutes(ctx: KernelContext) {
  return new Elysia()
    .post("", ({ body, headers, set }) => submit(ctx, body, headers["idempotency-key"], set), {
      body: jobRequestSchema,
      detail: { summary: "Submit a transcoding job (Idempotency-Key supported)" },
    })
    .get("", async ({ query }) => {
      const { limit, offset } = page(query);
      const statuses = query.status?.split(",").filter(Boolean) ?? [];
      const bad = statuses.filter((s) => !(JOB_STATUSES as readonly string[]).includes(s));
      if (bad.length) throw new AppError("WE-JOB-001", `unknown status ${bad.join(", ")}; use ${JOB_STATUSES.join(", ")}`);
      const createdAfter = query.created_after ? new Date(query.created_after) : undefined;
      const createdBefore = query.created_before ? new Date(query.created_before) : undefined;
      return { items: (await listJobs(ctx, { statuses, profile: query.profile, createdAfter, createdBefore, limit, offset })).map(jobSummary), limit, offset };
    }, { query: listQuery, detail: { summary: "List jobs, newest first (filters: status=a,b, profile, created_after, created_before)" } })
    .get("/:id", async ({ params }) => jobDetail(ctx.db, await getJob(ctx, params.id)), {
      params: jobId,
      detail: { summary: "A job with its progress, ETA, source summary, tasks, attempts and timeline" },
    })
    .get("/:id/outputs", async ({ params }) => ({ items: await jobOutputs(ctx, params.id) }), {
      params: jobId,
      detail: { summary: "The job's outputs with download/playback URLs" },
    })
    .get("/:id/logs", async ({ params }) => jobLogView(ctx.db, (await getJob(ctx, params.id)).id), {
      params: jobId,
      detail: { summary: "The job's log entries and every attempt's FFmpeg evidence" },
    });
}

/** Cancel, retry, delete. */
function jobActionRoutes(ctx: KernelContext) {
  return new Elysia()
    .post("/:id/cancel", async ({ params }) => jobSummary(await cancelJob(ctx.orchestrator.deps, params.id)), {
      params: jobId,
      detail: { summary: "Cancel: running FFmpeg stopped, queued tasks dropped (409 if already finished)" },
    })
    .post("/:id/retry", async ({ params }) => jobSummary(await retryJob(ctx.orchestrator.deps, params.id)), {
      params: jobId,
      detail: { summary: "Resume a failed or cancelled job: finished tasks are kept, failed ones (and any whose outputs are gone) run again" },
    })
    .delete("/:id", async ({ params, set }) => {
      await deleteJob(ctx, params.id);
      set.status = 204;
    }, { params: jobId, detail: { summary: "Delete a finished job and its outputs in storage (409 while running)" } });
}

/** POST /v1/jobs: 201 with the new job, or 200 with the original one for a repeated Idempotency-Key. */
async function submit(ctx: KernelContext, body: v.InferOutput<typeof jobRequestSchema>, key: string | undefined, set: { status?: number | string; headers: Record<string, unknown> }) {
  if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key)) throw new AppError("WE-JOB-001", "Idempotency-Key must be 1-200 printable ASCII characters");
  await checkS3Source(ctx, body.source_url);
  for (const sidecar of body.subtitles ?? []) await checkS3Source(ctx, sidecar.source_url);
  const storage = await uploadStorage(ctx);
  const { job, replayed } = await createJob(ctx.db, body, {
    idempotencyKey: key,
    storage: storage.id,
    maxAttempts: ctx.config.TASK_MAX_ATTEMPTS,
    outbound: { allowCidrs: ctx.config.OUTBOUND_ALLOW_CIDRS },
    keyExists: (k) => checkSourceKey(storage, k),
  });
  if (!replayed) ctx.orchestrator.deps.kick();
  set.status = replayed ? 200 : 201;
  if (replayed) set.headers["idempotent-replayed"] = "true";
  return jobSummary(job);
}
