/**
 * analyze: FFprobe streams/format plus the keyframe index from packet flags (no decoding). An unreadable,
 * empty or unsupported source fails the job permanently with WE-JOB-007 and FFprobe's reason.
 */
import { AppError } from "../../core/errors.ts";
import type { AnalyzeResult } from "../../core/task-contracts.ts";
import { SourceProblem, summarizeProbe } from "../../media/source.ts";
import type { TaskContext } from "../executor.ts";
import { encoder, resolveInput } from "./io.ts";

export async function analyzeTask(ctx: TaskContext<"analyze">): Promise<AnalyzeResult> {
  const p = ctx.params;
  const input = await resolveInput(ctx.plugins, p.source_url, p.storage, { allowCidrs: ctx.outboundAllowCidrs, signal: ctx.signal });
  ctx.progress(10);
  const raw = await (await encoder(ctx.plugins)).call<Record<string, unknown>>("probe", { input, keyframes: true, timeout_ms: 10 * 60_000 }, { timeoutMs: 11 * 60_000, signal: ctx.signal });
  try {
    return summarizeProbe(raw);
  } catch (e) {
    if (e instanceof SourceProblem) throw new AppError("WE-JOB-007", `unsupported source: ${e.message}`);
    throw e;
  }
}
