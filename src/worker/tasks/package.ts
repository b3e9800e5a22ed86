/**
 * package: when every part is in — concatenate each rendition's parts by stream copy, mux the audio encoded
 * once, write MP4 (+faststart) and HLS (media playlists per rendition, a master playlist with bandwidths and
 * codecs measured from the output), thumbnails; verify every output against the source before anything is
 * declared done (duration within one frame, same frame count, audio/video agreement, GOP-aligned variants).
 * A failed verification fails the job (WE-JOB-008) with the numbers.
 */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { PackageParams, PackageResult, ProducedOutput } from "../../core/task-contracts.ts";
import { concatList, concatMuxArgs, hlsArgs, spriteArgs, spriteVtt, thumbnailArgs } from "../../media/ffmpeg-args.ts";
import { codecString, masterPlaylist, parseMediaPlaylist, segmentBitrates } from "../../media/hls.ts";
import { audioFilesKey, hlsAudioGroups } from "./package-audio.ts";
import { trackLabel } from "../../media/audio-tracks.ts";
import type { VideoTiming } from "../../media/probe.ts";
import { frameRateOf } from "../../core/profile-spec.ts";
import { expectedVideo, keyframesAligned, verifyOutput } from "../../media/verify.ts";
import type { TaskContext } from "../executor.ts";
import { TaskFailure } from "../failures.ts";
import { encoder, storageById } from "./io.ts";
import { probeFile, runFfmpeg } from "./media-run.ts";
import { type ConvertedSubtitle, convertSubtitles, hlsSubtitleRenditions, SUBTITLE_GROUP } from "./subtitles.ts";

/** HLS segment target: a multiple of the usual 2 s keyframe interval, so cuts land on forced keyframes. */
const HLS_SEGMENT_S = 6;
/** Packaging reads only parts and files of our own: no FFmpeg error here is the source's fault. */
const OWN_FILES_ONLY = { sources: [] } as const;

type Rendition = PackageParams["renditions"][number];
interface Muxed {
  r: Rendition;
  path: string;
  ext: string;
  streams: Array<Record<string, unknown>>;
  format: Record<string, unknown>;
  durationS: number;
  /** The encoded audio tracks muxed into it (local paths, source track order): HLS alternate renditions. */
  audioFiles: string[];
  /** Keyframe times of its video, from the verification probe (checkAlignment compares them across renditions). */
  keyframes: number[];
}

function verificationFailure(what: string, problems: string[]): TaskFailure {
  return new TaskFailure({ class: "permanent", code: "WE-JOB-008", message: `verification failed for ${what}: ${problems.join("; ")}` });
}

export async function packageTask(ctx: TaskContext<"package">): Promise<PackageResult> {
  const p = ctx.params;
  const storage = await storageById(ctx.plugins, p.storage);
  // Parts and the audio track are ours: one that cannot be fetched is our failure, not the source's (a retry
  // of the job re-runs the task that made it).
  const get = (key: string, path: string) =>
    storage.call("get_file", { key, path }, { signal: ctx.signal, timeoutMs: 30 * 60_000 }).catch((error) => {
      if (ctx.signal.aborted) throw error;
      throw TaskFailure.ownFileMissing(`fetching ${key}`, error);
    });
  // Files handed to storage are moved, not copied (one write of the bytes when storage is local).
  const put = (key: string, path: string) => storage.call<{ size: number }>("put_file", { key, path, move: true }, { signal: ctx.signal, timeoutMs: 30 * 60_000 });

  const audioLocal = new Map<string, string>();
  for (const key of p.renditions.flatMap(audioKeysOf)) {
    if (audioLocal.has(key)) continue;
    const path = resolve(ctx.dir, basename(key));
    await get(key, path);
    audioLocal.set(key, path);
  }

  // Each subtitle track converted once for the whole job: muxed into every MP4, cut into HLS segments.
  const subtitles = await convertSubtitles(ctx, p);
  const muxed: Muxed[] = [];
  for (const [i, r] of p.renditions.entries()) {
    muxed.push(await muxRendition(ctx, p, r, audioLocal, get, subtitles));
    ctx.progress(((i + 1) / p.renditions.length) * 60);
  }
  checkAlignment(muxed);

  // HLS and thumbnails read the muxed files; the MP4 upload moves them away, so it comes last.
  const produced: ProducedOutput[] = [];
  if (p.outputs.includes("hls")) produced.push(await packageHls(ctx, p, muxed, put, subtitles));
  ctx.progress(75);
  if (p.thumbnails?.poster || p.thumbnails?.sprite) produced.push(...(await thumbnails(ctx, p, muxed[0]!, put)));
  ctx.progress(85);
  if (p.outputs.includes("mp4")) {
    for (const m of muxed) {
      const key = `${p.output_prefix}${m.r.profile.id}.${m.ext}`;
      const { size } = await put(key, m.path);
      produced.push({ kind: m.ext === "webm" ? "webm" : "mp4", profile: m.r.profile.id, key, size_bytes: size, ...describe(m) });
    }
  }
  ctx.progress(100);
  return { outputs: produced };
}

/** The encoded audio files of a rendition, one per carried source track (older plans: one). */
const audioKeysOf = (rendition: Rendition): string[] => rendition.audio_keys ?? (rendition.audio_key ? [rendition.audio_key] : []);

/** How a rendition's audio tracks are labelled in the output (language, title, default), same order as its keys. */
function muxAudio(params: PackageParams, rendition: Rendition, audioLocal: Map<string, string>) {
  const keys = audioKeysOf(rendition);
  const tracks = params.source.audio_tracks;
  if (!rendition.audio_keys || !tracks || tracks.length !== keys.length) return { audio: keys[0] ? audioLocal.get(keys[0]) : undefined };
  return { audio_tracks: tracks.map((t, i) => ({ path: audioLocal.get(keys[i]!)!, language: t.language, title: t.title, default: t.default })) };
}

async function muxRendition(
  ctx: TaskContext,
  params: PackageParams,
  rung: Rendition,
  audioLocal: Map<string, string>,
  get: (key: string, path: string) => Promise<unknown>,
  subtitles: readonly ConvertedSubtitle[],
): Promise<Muxed> {
  // FFmpeg reads a concat list's entries relative to the list's own folder, so every path in it is absolute
  // (WORK_DIR already is, from the config; resolving again keeps a relative one from ever slipping through).
  const dir = resolve(ctx.dir);
  const partPaths: string[] = [];
  for (const part of rung.parts) {
    const path = join(dir, `part_${rung.profile.id}_${String(part.seq).padStart(5, "0")}.mp4`);
    await get(part.key, path);
    partPaths.push(path);
  }
  const list = join(dir, `${rung.profile.id}.concat.txt`);
  // Variable-rate sources: each part lasts until the next chunk's keyframe, as the source said (args/package.ts).
  // A constant-rate rendition (profile frame_rate): each part is its frames at that rate, whatever the source's timing.
  const rate = frameRateOf(rung.profile.video.frame_rate)?.fps;
  const durations = rate !== undefined ? rung.parts.map((part) => part.frames / rate) : params.source.max_interval_s ? rung.parts.map((part) => part.duration_s) : undefined;
  writeFileSync(list, concatList(partPaths, durations?.every((d) => d !== undefined) ? (durations as number[]) : undefined));
  const ext = rung.profile.container === "webm" ? "webm" : "mp4";
  const out = join(dir, `${rung.profile.id}.${ext}`);
  await runFfmpeg(ctx, `mux ${rung.profile.id}`, concatMuxArgs({ concat_list: list, ...muxAudio(params, rung, audioLocal), subtitles, output: out, container: rung.profile.container, faststart: true }), OWN_FILES_ONLY);
  for (const path of partPaths) rmSync(path, { force: true });

  // With the packet index: the output's video duration on its timestamps, measured like the source's (an MP4
  // header's stream duration of a variable-rate video can be a frame short or long).
  const info = await (await encoder(ctx.plugins)).call<Awaited<ReturnType<typeof probeFile>> & { timing?: VideoTiming; keyframes?: number[] }>(
    "probe",
    { input: out, keyframes: true, timeout_ms: 120_000 },
    { signal: ctx.signal, timeoutMs: 130_000 },
  );
  const v = info.streams.find((s) => s.codec_type === "video");
  const audioStreams = info.streams.filter((s) => s.codec_type === "audio");
  const frames = Number(v?.nb_frames ?? 0);
  const videoDuration = info.timing ? info.timing.end_s - info.timing.start_s : Number(v?.duration ?? info.format.duration ?? 0);
  // A decimated rendition (max_fps) has fewer frames at a lower rate over the same duration; a constant-rate one its grid's.
  const expected = expectedVideo(params.source, { frame_step: rung.frame_step, ...(rate !== undefined ? { frame_rate: rate } : {}) });
  const carried = rung.profile.audio ? (params.source.audio_tracks ?? []) : [];
  const check = verifyOutput({
    source: {
      duration_s: params.source.duration_s,
      ...expected,
      ...(params.source.audio_tracks ? { audio_tracks: carried.map((t) => ({ label: `audio track ${t.index} (${trackLabel(t)})`, end_s: t.end_s, frame_s: t.frame_s })) } : {}),
    },
    output: {
      video_duration_s: videoDuration,
      frames,
      // Each audio stream on the video's clock: where it starts relative to the first video frame.
      audio_tracks: audioStreams.map((stream) => ({
        duration_s: Number(stream.duration ?? 0),
        start_s: Number(stream.start_time ?? 0) - Number(v?.start_time ?? 0),
        sample_rate: Number(stream.sample_rate ?? 48000),
        codec: stream.codec_name === "opus" ? ("opus" as const) : ("aac" as const),
      })),
    },
  });
  const problems = [...check.problems];
  if (params.source.has_audio && rung.profile.audio && audioStreams.length === 0) problems.push("the output has no audio stream although the source has one");
  if (problems.length) throw verificationFailure(rung.profile.id, problems);
  const audioFiles = audioKeysOf(rung).map((k) => audioLocal.get(k)!).filter(Boolean);
  return { r: rung, path: out, ext, streams: info.streams, format: info.format, durationS: videoDuration, audioFiles, keyframes: info.keyframes ?? [] };
}

/**
 * Every rendition must have its keyframes at the same times, or HLS variant switches glitch. The times come
 * from each rendition's verification probe (muxRendition), which reads the keyframe index anyway: probing the
 * files again cost two more FFprobe runs per rendition (eight for the 4-rung ladder, bench/ladder.ts).
 */
function checkAlignment(muxed: Muxed[]): void {
  if (muxed.length < 2) return;
  const aligned = keyframesAligned(muxed.map((m) => m.keyframes), 0.001);
  if (!aligned.ok) throw verificationFailure("renditions' keyframes", aligned.problems);
}

function describe(muxed: Muxed) {
  const v = muxed.streams.find((s) => s.codec_type === "video");
  const a = muxed.streams.find((s) => s.codec_type === "audio");
  return {
    duration_s: muxed.durationS,
    width: Number(v?.width ?? muxed.r.width),
    height: Number(v?.height ?? muxed.r.height),
    bitrate: Number(muxed.format.bit_rate ?? 0) || null,
    video_codec: (v?.codec_name as string | undefined) ?? null,
    audio_codec: (a?.codec_name as string | undefined) ?? null,
    details: { codecs: [v ? codecString(v) : null, a ? codecString(a) : null].filter(Boolean).join(","), frames: Number(v?.nb_frames ?? 0) },
  };
}

async function packageHls(
  ctx: TaskContext,
  params: PackageParams,
  muxed: Muxed[],
  put: (key: string, path: string) => Promise<{ size: number }>,
  subtitles: readonly ConvertedSubtitle[],
): Promise<ProducedOutput> {
  const prefix = `${params.output_prefix}hls/`;
  const variants = [];
  const durations: number[][] = [];
  // Several audio tracks: alternate audio renditions, video-only variant segments (package-audio.ts).
  const alt = await hlsAudioGroups(ctx, params, muxed.map((m) => m.audioFiles), prefix, HLS_SEGMENT_S, put);
  let total = alt?.bytes ?? 0;
  // The first PTS of the video segments (90 kHz): the WebVTT segments' X-TIMESTAMP-MAP (subtitles.ts).
  let firstPts = 0;
  for (const m of muxed) {
    const id = m.r.profile.id;
    const dir = join(ctx.dir, "hls", id);
    mkdirSync(dir, { recursive: true });
    const playlistPath = join(dir, "index.m3u8");
    await runFfmpeg(ctx, `hls ${id}`, hlsArgs({ input: m.path, out_dir_playlist: playlistPath, segment_pattern: join(dir, "seg_%05d.ts"), segment_seconds: HLS_SEGMENT_S, segment_type: "mpegts", ...(alt ? { streams: "video" as const } : {}) }), OWN_FILES_ONLY);
    const playlist = parseMediaPlaylist(await Bun.file(playlistPath).text());
    const sized = playlist.segments.map((s) => ({ ...s, bytes: statSync(join(dir, s.uri)).size }));
    const rates = segmentBitrates(sized, playlist.target_duration);
    durations.push(playlist.segments.map((s) => s.duration));
    if (subtitles.length > 0 && durations.length === 1 && playlist.segments[0]) {
      const first = (await probeFile(ctx, join(dir, playlist.segments[0].uri))).streams.find((s) => s.codec_type === "video");
      firstPts = Math.round(Number(first?.start_time ?? 0) * 90_000);
    }
    for (const name of readdirSync(dir).sort()) total += (await put(`${prefix}${id}/${name}`, join(dir, name))).size;
    const v = m.streams.find((s) => s.codec_type === "video")!;
    const a = m.streams.find((s) => s.codec_type === "audio");
    const group = alt?.groupOf.get(audioFilesKey(m.audioFiles));
    variants.push({
      uri: `${id}/index.m3u8`,
      // A variant with alternate audio needs the bandwidth of its video plus its heaviest audio track.
      bandwidth: rates.peak + (group?.peak ?? 0),
      average_bandwidth: rates.average + (group?.average ?? 0),
      width: Number(v.width),
      height: Number(v.height),
      codecs: [codecString(v), group ? group.codecs : a ? codecString(a) : null].filter(Boolean).join(","),
      frame_rate: params.source.fps,
      ...(group ? { audio_group: group.group_id } : {}),
      ...(subtitles.length > 0 ? { subtitle_group: SUBTITLE_GROUP } : {}),
    });
  }
  // Segments start on keyframes: identical segment boundaries across variants = aligned GOPs.
  const ref = durations[0] ?? [];
  const misaligned = durations.findIndex((d) => d.length !== ref.length || d.some((x, i) => Math.abs(x - ref[i]!) > 0.002));
  if (misaligned > 0) throw verificationFailure("HLS variants", [`variant ${muxed[misaligned]!.r.profile.id} has different segment boundaries than ${muxed[0]!.r.profile.id}`]);
  const subs = subtitles.length > 0 ? await hlsSubtitleRenditions(ctx, subtitles, { durations: ref, mpegts: firstPts, prefix }, put) : undefined;
  total += subs?.bytes ?? 0;
  const masterPath = join(ctx.dir, "hls", "master.m3u8");
  writeFileSync(masterPath, masterPlaylist(variants, alt?.renditions ?? [], subs?.renditions ?? []));
  const key = `${prefix}master.m3u8`;
  total += (await put(key, masterPath)).size;
  return { kind: "hls", key, prefix, size_bytes: total, duration_s: muxed[0]!.durationS, details: { variants, segment_seconds: HLS_SEGMENT_S } };
}

async function thumbnails(ctx: TaskContext, params: PackageParams, best: Muxed, put: (key: string, path: string) => Promise<{ size: number }>): Promise<ProducedOutput[]> {
  const out: ProducedOutput[] = [];
  const width = Math.min(1280, best.r.width);
  if (params.thumbnails?.poster) {
    const path = join(ctx.dir, "poster.jpg");
    await runFfmpeg(ctx, "poster", thumbnailArgs({ input: best.path, at_s: Math.min(params.source.duration_s * 0.1, 10), width, output: path }), OWN_FILES_ONLY);
    const key = `${params.output_prefix}thumbnails/poster.jpg`;
    out.push({ kind: "thumbnail", key, size_bytes: (await put(key, path)).size, width });
  }
  if (params.thumbnails?.sprite) {
    const interval = params.thumbnails.interval_s ?? 10;
    const count = Math.max(1, Math.ceil(params.source.duration_s / interval));
    const columns = Math.min(10, count);
    const rows = Math.ceil(count / columns);
    const tileWidth = 160;
    const tileHeight = Math.round((tileWidth * best.r.height) / best.r.width / 2) * 2;
    const path = join(ctx.dir, "sprite.jpg");
    await runFfmpeg(ctx, "sprite", spriteArgs({ input: best.path, interval_s: interval, columns, rows, tile_width: tileWidth, tile_height: tileHeight, output: path }), OWN_FILES_ONLY);
    const spriteKey = `${params.output_prefix}thumbnails/sprite.jpg`;
    out.push({ kind: "sprite", key: spriteKey, size_bytes: (await put(spriteKey, path)).size });
    const vttPath = join(ctx.dir, "sprite.vtt");
    writeFileSync(vttPath, spriteVtt({ interval_s: interval, count, columns, tile_width: tileWidth, tile_height: tileHeight, sprite_url: "sprite.jpg", duration_s: params.source.duration_s }));
    const vttKey = `${params.output_prefix}thumbnails/sprite.vtt`;
    out.push({ kind: "vtt", key: vttKey, size_bytes: (await put(vttKey, vttPath)).size });
  }
  return out;
}
