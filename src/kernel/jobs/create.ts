/**
 * Job submission: validate everything first (source URL, profiles, outputs), then one transaction writes the
 * job and its analyze task, so a job never exists without its first task. An Idempotency-Key returns the
 * original job on a repeat instead of creating a second one.
 */
import { recordEvent } from "../events/record.ts";
import { eq } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import type { Db } from "../../db/client.ts";
import { jobEvents, jobs, tasks } from "../../db/schema.ts";
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
    const job = await db.transaction(async (tx) => {
      const [job] = await tx
        .insert(jobs)
        .values({
          sourceUrl: req.source_url.trim(),
          profiles: req.profiles,
          outputs,
          options: { thumbnails, storage: opts.storage, source_kind: source.kind, ...(req.audio_tracks ? { audio_tracks: req.audio_tracks } : {}), ...(subtitles.length > 0 ? { subtitles } : {}), ...(burn ? { burn_subtitles: burn } : {}) },
          metadata: req.metadata ?? {},
          priority: req.priority ?? 0,
          idempotencyKey: opts.idempotencyKey ?? null,
          userId: opts.userId ?? null,
        })
        .returning();
      await tx.insert(jobEvents).values({ jobId: job!.id, toStatus: "queued", detail: { profiles: req.profiles, outputs } });
      await recordEvent(tx, { type: "job.created", jobId: job!.id, data: { job_id: job!.id, status: "queued", profiles: req.profiles, outputs } });
      await tx.insert(tasks).values({ jobId: job!.id, type: "analyze", seq: 0, pool: "cpu", params: { source_url: req.source_url.trim(), storage: opts.storage }, maxAttempts: opts.maxAttempts ?? 3 });
      return job!;
    });
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
