/**
 * Every kernel looks for uploads nobody runs — their kernel died or stopped (lease lapsed or released), or a
 * transient failure's wait is over — and resumes them: claiming is one conditional UPDATE, so exactly one
 * kernel wins each. One indexed query per round (publications_uploading_idx holds only uploading rows).
 */
import { errorMessage } from "../../core/errors.ts";
import { startPeriodic } from "../../core/periodic.ts";
import type { KernelContext } from "../context.ts";
import { launchPublication, stopPublications } from "./publish-run.ts";
import { claimPublication, idleUploads } from "./publish-store.ts";

/** A lease lasts 30 s anyway; every 15 s keeps an idle kernel's database traffic low (docs/BENCHMARKS.md, footprint). */
export const RESUME_EVERY_MS = 15_000;

/** One round: resumes what it can claim; answers how many. Never throws. */
export async function resumeIdleUploads(ctx: KernelContext): Promise<number> {
  try {
    let resumed = 0;
    for (const id of await idleUploads(ctx.db)) {
      const row = await claimPublication(ctx.db, id, ctx.instanceId);
      if (!row) continue;
      resumed++;
      launchPublication(ctx, row);
    }
    return resumed;
  } catch (error) {
    ctx.logger.warn({ error: errorMessage(error) }, "could not look for uploads to resume; retrying later");
    return 0;
  }
}

/** Starts the rounds; the returned stop ends them and hands this kernel's running uploads back. */
export function startPublishResumer(ctx: KernelContext, everyMs = RESUME_EVERY_MS): () => Promise<void> {
  const stopRounds = startPeriodic(() => resumeIdleUploads(ctx), everyMs);
  return async () => {
    await stopRounds();
    await stopPublications(ctx);
  };
}
