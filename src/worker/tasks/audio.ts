/**
 * audio: one whole audio track of the source encoded once per distinct audio rendition (never per chunk: AAC priming would
 * add a gap or overlap at every join), stored for the packager to mux.
 */
import { basename, join } from "node:path";
import { audioArgs } from "../../media/ffmpeg-args.ts";
import type { AudioResult } from "../../core/task-contracts.ts";
import type { TaskContext } from "../executor.ts";
import { resolveInput, storageById } from "./io.ts";
import { probeFile, runFfmpeg } from "./media-run.ts";

export async function audioTask(ctx: TaskContext<"audio">): Promise<AudioResult> {
  const p = ctx.params;
  const input = await resolveInput(ctx.plugins, p.source_url, p.storage, { allowCidrs: ctx.outboundAllowCidrs, signal: ctx.signal });
  const out = join(ctx.dir, basename(p.key));
  await runFfmpeg(ctx, `audio track ${p.track ?? 0}`, audioArgs({ input, audio: p.audio, output: out, track: p.track, start_s: p.start_s }), { durationS: ctx.mediaSeconds, progressSpan: [0, 90], sources: [input] });
  const info = await probeFile(ctx, out);
  const a = info.streams.find((s) => s.codec_type === "audio");
  const storage = await storageById(ctx.plugins, p.storage);
  const put = await storage.call<{ size: number }>("put_file", { key: p.key, path: out, move: true }, { signal: ctx.signal, timeoutMs: 30 * 60_000 });
  ctx.progress(100);
  return { key: p.key, size: put.size, duration_s: Number(a?.duration ?? info.format.duration ?? 0), sample_rate: Number(a?.sample_rate ?? 0), codec: typeof a?.codec_name === "string" ? a.codec_name : null };
}
