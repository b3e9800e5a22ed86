/**
 * video: one chunk of the source, every rendition of the group from one decode (split + scale), keyframes
 * forced on a fixed cadence from the chunk start. Each part's frame count is checked against the planned
 * count (a mismatch is a retryable failure), then the parts go to storage under deterministic keys, so a
 * retried or duplicated attempt overwrites the same objects.
 */
import { join } from "node:path";
import { chunkRenditionFrames, videoChunkArgs } from "../../media/ffmpeg-args.ts";
import type { VideoParams, VideoResult } from "../../core/task-contracts.ts";
import type { TaskContext } from "../executor.ts";
import { TaskFailure } from "../failures.ts";
import { onGpu } from "../gpu-health.ts";
import type { DeviceRef } from "../../media/hardware/index.ts";
import { resolveInput, storageById } from "./io.ts";
import { probeFile, runFfmpeg } from "./media-run.ts";
import { burnExtractArgs } from "../../media/subtitles-burn.ts";
import { sidecarFormat } from "../../media/subtitles.ts";

export const partKey = (p: VideoParams, profileId: string) => `${p.parts_prefix}v${p.group}_${profileId}_${String(p.chunk.seq).padStart(5, "0")}.mp4`;

export async function videoTask(ctx: TaskContext<"video">): Promise<VideoResult> {
  const p = ctx.params;
  const input = await resolveInput(ctx.plugins, p.source_url, p.storage, { allowCidrs: ctx.outboundAllowCidrs, signal: ctx.signal });
  const outs = p.renditions.map((_, i) => join(ctx.dir, `r${i}.mp4`));
  const burn = p.burn_subtitles ? await burnTrack(ctx, p, p.burn_subtitles) : undefined;
  // A GPU group runs on one of the worker's devices, within its encode sessions (gpu-health.ts).
  const chunkArgs = (device: DeviceRef | undefined) => videoChunkArgs({
    input,
    start_pts: p.chunk.start_pts,
    start_frame: p.chunk.start_frame,
    ...(p.source_format ? { source_format: p.source_format } : {}),
    frames: p.chunk.frames,
    duration_s: p.chunk.duration_s,
    ...(p.origin_pts !== undefined ? { origin_pts: p.origin_pts } : {}),
    renditions: p.renditions,
    fps: p.fps,
    output: (i: number) => outs[i]!,
    part_format: "mp4",
    ...(p.traits ? { traits: p.traits } : {}),
    ...(burn ? { burn: { ass_path: burn } } : {}),
    ...(device || p.hardware ? { hardware: { ...(device ? { device } : {}), decode: p.hardware?.decode === true } } : {}),
  });
  let args: string[] = [];
  await onGpu(ctx.gpu, p.renditions.map((r) => r.encoder), (device) => {
    args = chunkArgs(device);
    return runFfmpeg(ctx, `chunk ${p.chunk.seq}`, args, { durationS: p.chunk.duration_s, progressSpan: [0, 90], sources: [input] });
  });

  const storage = await storageById(ctx.plugins, p.storage);
  const parts: VideoResult["parts"] = [];
  for (const [i, r] of p.renditions.entries()) {
    const info = await probeFile(ctx, outs[i]!);
    const v = info.streams.find((s) => s.codec_type === "video");
    const frames = Number(v?.nb_frames ?? 0);
    const expected = chunkRenditionFrames({ ...p.chunk, ...(p.origin_pts !== undefined ? { origin_pts: p.origin_pts } : {}) }, r);
    if (frames !== expected) {
      throw new TaskFailure({
        class: "retryable",
        code: "WE-JOB-008",
        message: `chunk ${p.chunk.seq} rendition ${r.profile.id}: part has ${frames} frames, expected ${expected}`,
        argv: args,
      });
    }
    const key = partKey(p, r.profile.id);
    const put = await storage.call<{ size: number }>("put_file", { key, path: outs[i]!, content_type: "video/mp4", move: true }, { signal: ctx.signal, timeoutMs: 30 * 60_000 });
    parts.push({ profile: r.profile.id, key, frames, size: put.size });
  }
  ctx.progress(100);
  return { parts };
}

/**
 * The subtitle track to burn, as an ASS file on the source clock in the task's folder (media/subtitles-burn.ts).
 * Converted from the source (a demux of the subtitle stream, no picture decoding) by the first chunk that
 * needs it and kept beside the parts, so later chunks and retries fetch a small file instead of reading the
 * source again; chunks that start together may each convert it (same bytes, same key).
 */
async function burnTrack(ctx: TaskContext<"video">, p: VideoParams, track: NonNullable<VideoParams["burn_subtitles"]>): Promise<string> {
  const output = join(ctx.dir, "burn.ass");
  const key = `${p.parts_prefix}burn_subtitles.ass`;
  const storage = await storageById(ctx.plugins, p.storage);
  const kept = await storage.call("get_file", { key, path: output }, { signal: ctx.signal, timeoutMs: 5 * 60_000 }).then(() => true, () => false);
  if (kept) return output;
  const input = await resolveInput(ctx.plugins, track.source_url, track.storage, { allowCidrs: ctx.outboundAllowCidrs, signal: ctx.signal });
  const format = track.stream === undefined ? sidecarFormat(track.source_url) : undefined;
  const args = burnExtractArgs({ input, ...(track.stream === undefined ? {} : { stream: track.stream }), ...(format ? { format } : {}), offset_s: track.offset_s, output });
  await runFfmpeg(ctx, "subtitles to burn", args, { sources: [input] });
  await storage.call("put_file", { key, path: output, content_type: "text/x-ssa" }, { signal: ctx.signal, timeoutMs: 5 * 60_000 });
  return output;
}
