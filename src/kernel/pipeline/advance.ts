/**
 * The VOD pipeline's kernel side (docs/architecture.md §3): what a completed task leads to. Runs inside the result
 * handler's transaction with the job row locked, so each step happens exactly once across kernels.
 *
 *   analyze done  → store the probe, plan chunks on source keyframes → video tasks (+ audio tasks) → processing
 *   all media done → one package task → packaging
 *   package done  → outputs recorded → completed
 */
import { and, eq, inArray } from "drizzle-orm";
import { AppError } from "../../core/errors.ts";
import { isOutputFormat, paramsOf, resultOf } from "../../core/task-contracts.ts";
import { jobs, outputs, tasks, workers } from "../../db/schema.ts";
import { PlanProblem, planChunks } from "../../media/planner.ts";
import { encoderFor } from "../../media/profiles.ts";
import { decodesOnDevice, isHardwarePool } from "../../media/hardware/index.ts";
import { selectRenditions, skippedProfiles } from "../../media/renditions.ts";
import { resolveProfiles } from "../profiles/catalog.ts";
import type { AdvanceResult } from "../orchestrator/results.ts";
import { afterLive } from "../live/live-task.ts";
import { afterRestream } from "../restream/service.ts";
import type { Exec } from "../../db/exec.ts";
import { type JobRow, moveJob, moveTask, type TaskRow } from "../orchestrator/transitions.ts";
import type { AudioTrack, SourceSummary } from "../../media/source.ts";
import { selectAudioTracks, trackAudioSpec, trackLabel } from "../../media/audio-tracks.ts";
import { sourceAudioFrameSeconds } from "../../media/verify.ts";
import { audioGroups, type PackageParams, type RenditionPlan, type VideoParams } from "../../media/task-params.ts";
import { type BurnChoice, type BurnResolution, isBurned, resolveBurn } from "../../media/subtitles-burn.ts";

export interface PipelineOptions {
  /** Chunk length bounds and when splitting pays (one chunk when it does not pay: docs/architecture.md §3). */
  minChunkS: number;
  maxChunkS: number;
  minSplitDurationS: number;
  /** Keep renditions above the source height (default: skip them). */
  allowUpscale: boolean;
  /**
   * MAX_TASKS_PER_JOB: analyze + video chunks + audio + package. A source that would need more chunks gets
   * longer ones instead, so one upload cannot flood the queues.
   */
  maxTasksPerJob: number;
}

export const DEFAULT_PIPELINE: PipelineOptions = { minChunkS: 10, maxChunkS: 60, minSplitDurationS: 30, allowUpscale: false, maxTasksPerJob: 200 };

export const partsPrefix = (jobId: string) => `jobs/${jobId}/parts/`;
export const outputPrefix = (jobId: string) => `jobs/${jobId}/`;

/** `advance` runs inside the result handler's transaction: every query must go through `x` (PGlite has one connection). */
export function createAdvance(opts: PipelineOptions = DEFAULT_PIPELINE) {
  return async function advance(db: Exec, job: JobRow, task: TaskRow): Promise<AdvanceResult> {
    switch (task.type) {
      case "analyze":
        return afterAnalyze(db, job, task, opts);
      case "video":
      case "audio":
        return afterMedia(db, job, task);
      case "package":
        return afterPackage(db, job, task);
      case "live":
        return afterLive(db, job);
      case "restream":
        return afterRestream(db, job);
      default:
        throw new AppError("WE-SYS-001", `unknown task type ${task.type}`);
    }
  };
}

/** Free encode slots per pool among healthy workers: how many chunks can run at once. */
async function slotsByPool(db: Exec): Promise<Map<string, number>> {
  const rows = await db.select({ pools: workers.pools, slots: workers.slots }).from(workers).where(eq(workers.status, "healthy"));
  const m = new Map<string, number>();
  for (const r of rows) for (const p of r.pools) m.set(p, (m.get(p) ?? 0) + r.slots);
  return m;
}

/** Fails the job in this step (the caller returns { ended: "failed" }). */
async function failJob(db: Exec, job: JobRow, code: "WE-JOB-003" | "WE-JOB-007", message: string): Promise<AdvanceResult> {
  await moveJob(db, job.id, "failed", { patch: { errorCode: code, errorMessage: message }, detail: { code, error: message } });
  return { ended: "failed" };
}

async function afterAnalyze(db: Exec, job: JobRow, task: TaskRow, opts: PipelineOptions): Promise<AdvanceResult> {
  // The worker's report was checked against the analyze contract when it arrived (orchestrator/results.ts):
  // an analysis that cannot be planned from failed the job there, as an unsupported source.
  const source = resultOf("analyze", task.result);
  const { storage } = job.options;
  const specs = await resolveProfiles(db, job.profiles);
  const slots = await slotsByPool(db);
  // Pools per proven encoder (nvenc:h264 …): a profile is routed only to an encoder some healthy worker proved.
  const hw = new Set(slots.keys());

  const sourceVideo = { width: source.video.width, height: source.video.height, rotation: source.video.rotation, fps: source.video.fps, sample_aspect_ratio: source.video.sar };
  const renditions = selectRenditions(specs, sourceVideo, {
    allowUpscale: opts.allowUpscale,
  });
  // Group renditions by the pool (hardware) that encodes them: one decode per chunk per group.
  const groups = new Map<string, RenditionPlan[]>();
  for (const r of renditions) {
    const choice = encoderFor(r.profile, hw);
    if ("error" in choice) return failJob(db, job, "WE-JOB-003", `profile ${r.profile.id}: ${choice.error}`);
    const list = groups.get(choice.pool) ?? [];
    list.push({ profile: r.profile, width: r.width, height: r.height, encoder: choice.encoder, frame_step: r.frame_step });
    groups.set(choice.pool, list);
  }

  const { keyframes, ...summary } = source;
  // What the job gets (sizes) and which requested profiles it does not (a source smaller than the ladder), shown under `source`.
  const planned = { renditions: renditions.map((r) => ({ profile: r.profile.id, width: r.width, height: r.height })), skipped_profiles: skippedProfiles(specs, renditions, sourceVideo) };
  const resolvedBurn = burnResolution(job, source);
  if (resolvedBurn && "error" in resolvedBurn) return failJob(db, job, "WE-JOB-007", resolvedBurn.error);
  // What was burned, or the bitmap track that could not be and why (a warning, the job goes on), under `source`.
  const burnReport = resolvedBurn ? ("skip" in resolvedBurn ? resolvedBurn.skip : { track: resolvedBurn.label, burned: true }) : undefined;
  await db
    .update(jobs)
    .set({ probe: { ...summary, keyframe_count: keyframes.length, ...planned, ...(burnReport ? { burned_subtitles: burnReport } : {}) } })
    .where(eq(jobs.id, job.id));

  const picked = selectAudioTracks(tracksOf(source), job.options.audio_tracks);
  if ("error" in picked) return failJob(db, job, "WE-JOB-007", picked.error);
  const burn = resolvedBurn && "choice" in resolvedBurn ? resolvedBurn.choice : undefined;
  const burnParams = burn ? burnTrackParams(job, source, burn) : undefined;
  const audioGroupList = audioGroups(renditions.map((r) => r.profile));
  // The task budget: analyze and package, one audio task per audio track and audio group, the rest shared by the groups.
  const audioTasks = audioGroupList.length * picked.tracks.length;
  const chunkBudget = Math.floor((opts.maxTasksPerJob - 2 - audioTasks) / Math.max(1, groups.size));
  if (chunkBudget < 1) {
    return failJob(db, job, "WE-JOB-003", `the profiles need ${2 + audioTasks + groups.size} tasks at least (analyze, package, ${audioTasks} audio, ${groups.size} video), more than MAX_TASKS_PER_JOB (${opts.maxTasksPerJob})`);
  }

  let groupIndex = 0;
  const newTasks: Array<typeof tasks.$inferInsert> = [];
  for (const [pool, list] of groups) {
    let chunks: ReturnType<typeof planChunks>;
    try {
      chunks = planChunks(
        { duration_s: source.duration_s, fps: source.video.fps, keyframes: source.keyframes, total_frames: source.video.frames, free_slots: Math.max(1, slots.get(pool) ?? 1) },
        { min_chunk_s: opts.minChunkS, max_chunk_s: opts.maxChunkS, min_split_duration_s: opts.minSplitDurationS, max_chunks: chunkBudget },
      );
    } catch (e) {
      // A property of the source (repeated timestamps, no keyframe at frame 0…): permanent, with the reason.
      if (e instanceof PlanProblem) return failJob(db, job, "WE-JOB-007", `unsupported source: ${e.message}`);
      throw e;
    }
    for (const c of chunks) {
      const params: VideoParams = {
        source_url: job.sourceUrl,
        storage,
        chunk: c,
        chunk_count: chunks.length,
        group: groupIndex,
        // The GOP bound (-g) must not fire before a forced keyframe in a variable-rate source's fastest stretch.
        fps: source.video.vfr && source.video.peak_fps ? source.video.peak_fps : source.video.fps,
        renditions: list,
        parts_prefix: partsPrefix(job.id),
        // Field order and colour: the chunk deinterlaces and tone-maps on them (media/filters/picture.ts).
        ...(source.video.traits ? { traits: source.video.traits } : {}),
        // A GPU group decodes on the device when it can (docs/gpu.md); otherwise CPU decode + upload.
        ...(isHardwarePool(pool) ? { hardware: { decode: decodesOnDevice(pool, source.video) } } : {}),
        // How the chunk seeks depends on the container (FLV seeks late near the start: media/args/video-chunk.ts).
        source_format: source.format,
        // A constant-rate rendition (profile frame_rate) puts every chunk on one grid from the source's first frame.
        origin_pts: (chunks[0] ?? c).start_pts,
        // One subtitle track burned into the picture (job option burn_subtitles, media/subtitles-burn.ts).
        ...(burnParams ? { burn_subtitles: burnParams } : {}),
      };
      newTasks.push({ jobId: job.id, type: "video", seq: groupIndex * 10_000 + c.seq, pool, params, mediaSeconds: c.duration_s * list.length });
    }
    groupIndex++;
  }
  // Each selected track once per audio group for the whole job: never per chunk, never per rung.
  for (const [i, g] of audioGroupList.entries()) {
    for (const [t, track] of picked.tracks.entries()) {
      newTasks.push({
        jobId: job.id,
        type: "audio",
        seq: audioSeq(i, t),
        pool: "cpu",
        mediaSeconds: source.duration_s,
        params: {
          source_url: job.sourceUrl,
          storage,
          audio: trackAudioSpec(g.audio, track),
          key: `${partsPrefix(job.id)}audio_${i}_${track.index}.${g.audio.codec === "opus" ? "webm" : "m4a"}`,
          track: track.index,
          start_s: videoStart(source),
        },
      });
    }
  }
  // Later tasks inherit the job's attempt budget (TASK_MAX_ATTEMPTS when the job was created).
  await db.insert(tasks).values(newTasks.map((t) => ({ ...t, maxAttempts: task.maxAttempts }))).onConflictDoNothing();
  await moveJob(db, job.id, "processing", { from: ["analyzing"], detail: { chunks: newTasks.filter((t) => t.type === "video").length, renditions: renditions.length } });
  return {};
}

/** The track the job burns into the picture (option burn_subtitles), or why it cannot; undefined without the option. */
function burnResolution(job: JobRow, source: SourceSummary): BurnResolution | undefined {
  const option = job.options.burn_subtitles;
  return option ? resolveBurn(option, source, job.options.subtitles ?? []) : undefined;
}

/** The track burned into the picture, if any (a skipped bitmap track or a refusal burns nothing). */
function burnOf(job: JobRow, source: SourceSummary): BurnChoice | undefined {
  const resolved = burnResolution(job, source);
  return resolved && "choice" in resolved ? resolved.choice : undefined;
}

/** Where the chunk reads the burned track: a stream of the source on its own clock, or a sidecar moved onto it. */
function burnTrackParams(job: JobRow, source: SourceSummary, burn: BurnChoice): NonNullable<VideoParams["burn_subtitles"]> {
  const { storage } = job.options;
  if (burn.kind === "stream") return { source_url: job.sourceUrl, storage, stream: burn.index, offset_s: 0 };
  return { source_url: job.options.subtitles![burn.position]!.source_url, storage, offset_s: videoStart(source) };
}

/** Audio task seq: group i, selected track t (a group never has 1000 tracks). */
const audioSeq = (group: number, track: number) => group * 1000 + track;

/** The source's audio tracks; an analysis from before tracks were listed has its one track as `audio`. */
function tracksOf(source: SourceSummary): AudioTrack[] {
  if (source.audio_tracks) return source.audio_tracks;
  if (!source.audio) return [];
  return [{ ...source.audio, index: 0, start_s: videoStart(source), language: "und", title: null, default: true }];
}

/** The first video frame's pts: every output's 0. */
const videoStart = (source: SourceSummary) => source.video.start_s ?? source.keyframes[0]?.pts ?? 0;

async function afterMedia(db: Exec, job: JobRow, done: TaskRow): Promise<AdvanceResult> {
  const media = await db.select().from(tasks).where(and(eq(tasks.jobId, job.id), inArray(tasks.type, ["video", "audio"])));
  if (media.some((t) => t.status !== "completed")) return {};
  const analyze = (await db.select().from(tasks).where(and(eq(tasks.jobId, job.id), eq(tasks.type, "analyze"))))[0];
  const source = resultOf("analyze", analyze?.result);
  const params: PackageParams = buildPackageParams(job, source, media);
  // Unique (job, type, seq) + the job lock: created once, even if this runs twice.
  await db
    .insert(tasks)
    .values({ jobId: job.id, type: "package", seq: 0, pool: "cpu", params, mediaSeconds: source.duration_s, maxAttempts: done.maxAttempts })
    .onConflictDoNothing();
  // A retry that re-ran media (their parts were gone) left the earlier package task as it ended: it runs again.
  const [pkg] = await db.select().from(tasks).where(and(eq(tasks.jobId, job.id), eq(tasks.type, "package"), inArray(tasks.status, ["failed", "cancelled"])));
  if (pkg) await moveTask(db, pkg, "queued", { from: ["failed", "cancelled"] }, { params, attempt: pkg.attempt + 1, failures: 0, publishedAt: null, notBefore: null, progress: 0, finishedAt: null, errorCode: null, errorMessage: null }, { reason: "job retry" });
  await moveJob(db, job.id, "packaging", { from: ["processing"] });
  return {};
}

function buildPackageParams(job: JobRow, source: SourceSummary, media: TaskRow[]): PackageParams {
  const video = media.filter((t) => t.type === "video").sort((a, b) => a.seq - b.seq);
  const audio = media.filter((t) => t.type === "audio").sort((a, b) => a.seq - b.seq);
  const renditions = new Map<string, PackageParams["renditions"][number]>();
  for (const t of video) {
    const p = paramsOf("video", t.params);
    const { parts } = resultOf("video", t.result);
    for (const r of p.renditions) {
      const entry = renditions.get(r.profile.id) ?? { ...r, parts: [], audio_key: null };
      const part = parts.find((x) => x.profile === r.profile.id);
      if (part) entry.parts.push({ key: part.key, frames: part.frames, seq: p.chunk.seq, duration_s: p.chunk.duration_s });
      renditions.set(r.profile.id, entry);
    }
  }
  const groups = audioGroups([...renditions.values()].map((r) => r.profile));
  const opts = job.options;
  const picked = selectAudioTracks(tracksOf(source), opts.audio_tracks);
  const tracks = "error" in picked ? [] : picked.tracks;
  for (const r of renditions.values()) {
    r.parts.sort((a, b) => a.seq - b.seq);
    const gi = groups.findIndex((g) => g.profiles.includes(r.profile.id));
    const keys = tracks.map((_, t) => audio.find((a) => a.seq === audioSeq(gi, t))).map((a) => (a ? resultOf("audio", a.result).key : null));
    r.audio_key = keys[0] ?? null;
    const stored = keys.filter((k) => k !== null);
    if (gi >= 0 && keys.length > 0 && stored.length === keys.length) r.audio_keys = stored;
  }
  const start = videoStart(source);
  const subtitles = packageSubtitles(job, source);
  return {
    ...(subtitles.length > 0 ? { subtitles } : {}),
    storage: opts.storage,
    output_prefix: outputPrefix(job.id),
    outputs: job.outputs.filter(isOutputFormat),
    thumbnails: opts.thumbnails ?? null,
    source: {
      duration_s: source.duration_s,
      frames: source.video.frames,
      fps: source.video.fps,
      has_audio: tracks.length > 0,
      ...(source.video.vfr && source.video.max_interval_s ? { max_interval_s: source.video.max_interval_s } : {}),
      audio_tracks: tracks.map((t) => ({
        index: t.index,
        language: t.language,
        title: t.title,
        default: t.default,
        // Where the track ends on the output's clock (0 = the first video frame).
        end_s: t.duration_s === null ? null : Math.max(0, t.start_s + t.duration_s - start),
        frame_s: sourceAudioFrameSeconds(t.codec, t.sample_rate),
      })),
    },
    renditions: [...renditions.values()],
  };
}

/**
 * The subtitle tracks the outputs carry: the source's text streams (their times on the source clock, moved
 * so the first video frame is 0), then the job's sidecar files; one default at most (the first flagged).
 */
function packageSubtitles(job: JobRow, source: SourceSummary): NonNullable<PackageParams["subtitles"]> {
  const { storage } = job.options;
  // A burned track is not also a soft track, unless the option keeps it (docs/media.md).
  const burned = job.options.burn_subtitles?.keep_soft ? undefined : burnOf(job, source);
  const fromSource = (source.subtitle_tracks ?? []).filter((t) => !isBurned(burned, { stream: t.index })).map((t) => ({
    source_url: job.sourceUrl,
    storage,
    stream: t.index,
    shift_s: videoStart(source),
    language: t.language,
    name: trackLabel({ index: t.index, language: t.language, title: t.title }),
    default: t.default,
  }));
  const sidecars = (job.options.subtitles ?? []).filter((_, n) => !isBurned(burned, { sidecar: n })).map((s) => ({ source_url: s.source_url, storage, shift_s: 0, language: s.language, name: s.name, default: s.default ?? false }));
  const all = [...fromSource, ...sidecars];
  const firstDefault = all.findIndex((s) => s.default);
  // Names are unique within the HLS group: a repeated one gets its position added.
  const seen = new Set<string>();
  return all.map((s, i) => {
    const name = seen.has(s.name) ? `${s.name} (${i + 1})` : s.name;
    seen.add(name);
    return { ...s, name, default: i === firstDefault };
  });
}

async function afterPackage(db: Exec, job: JobRow, task: TaskRow): Promise<AdvanceResult> {
  const produced = resultOf("package", task.result).outputs;
  const { storage } = job.options;
  if (produced.length) {
    await db.delete(outputs).where(eq(outputs.jobId, job.id));
    await db.insert(outputs).values(
      produced.map((o) => ({
        jobId: job.id,
        kind: o.kind,
        profile: o.profile ?? null,
        storagePlugin: storage,
        storageKey: o.key,
        storagePrefix: o.prefix ?? null,
        sizeBytes: o.size_bytes,
        durationS: o.duration_s ?? null,
        width: o.width ?? null,
        height: o.height ?? null,
        bitrate: o.bitrate ?? null,
        videoCodec: o.video_codec ?? null,
        audioCodec: o.audio_codec ?? null,
        details: o.details ?? {},
      })),
    );
  }
  const done = await moveJob(db, job.id, "completed", { from: ["packaging"], patch: { progress: 100, etaSeconds: 0 } });
  return done ? { ended: "completed" } : {};
}
