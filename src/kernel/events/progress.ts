/**
 * Job progress updates (`job.progress`), published on the bus by the kernel that handled a progress report.
 * Workers report every task once a second and a job may run many tasks at once, so updates are throttled to
 * one per `intervalMs` per job; the latest value of a burst goes out when the interval ends (trailing), so
 * clients always see where a job got to.
 */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import { JOB_PROGRESS_SUBJECT } from "../../bus/subjects.ts";
import type { Bus } from "../../bus/types.ts";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { throttleDelay } from "./filters.ts";
import { jobEvents } from "../../db/schema.ts";
import { type Exec, rowsOf } from "../../db/exec.ts";
import { SHARE } from "../orchestrator/progress.ts";

export interface JobProgressUpdate {
  job_id: string;
  progress: number;
  eta_seconds: number | null;
}

export interface ProgressPublisher {
  publish(p: JobProgressUpdate): void;
  /** Drops pending trailing updates (shutdown). */
  stop(): void;
}

interface JobSlot {
  lastSentAt?: number;
  pending?: JobProgressUpdate;
  timer?: ReturnType<typeof setTimeout>;
}

export function createProgressPublisher(bus: Bus, logger: Logger, intervalMs = 250): ProgressPublisher {
  const jobs = new Map<string, JobSlot>();
  let stopped = false;
  const flush = (jobId: string) => {
    const slot = jobs.get(jobId);
    if (!slot) return;
    slot.timer = undefined;
    if (!slot.pending || stopped) {
      jobs.delete(jobId); // nothing new for a whole interval: forget the job (memory stays bounded)
      return;
    }
    const p = slot.pending;
    slot.pending = undefined;
    slot.lastSentAt = Date.now();
    void bus.publish(JOB_PROGRESS_SUBJECT, p).catch((error) => logger.debug({ error: errorMessage(error), job_id: p.job_id }, "progress update not published"));
    slot.timer = setTimeout(() => flush(jobId), intervalMs);
  };
  return {
    publish(update) {
      if (stopped) return;
      let slot = jobs.get(update.job_id);
      if (!slot) jobs.set(update.job_id, (slot = {}));
      slot.pending = update; // a burst keeps only its latest value
      if (!slot.timer) slot.timer = setTimeout(() => flush(update.job_id), throttleDelay(slot.lastSentAt, Date.now(), intervalMs));
    },
    stop() {
      stopped = true;
      for (const s of jobs.values()) if (s.timer) clearTimeout(s.timer);
      jobs.clear();
    },
  };
}

// ---- ETA ------------------------------------------------------------------------------------------------

/** Progress gained since work started below which the rate is noise: no estimate yet (null). */
const MIN_GAIN = 1;

/** Where the current run of a job's work started: how long ago, and the job's progress then. */
export interface WorkStart {
  elapsedS: number;
  progress: number;
}

/**
 * Seconds left at the rate the job has progressed since its work started (pure). Measured from the start of
 * processing, not of the job: analysis is a fixed 5 % share that is over in a second or two, and a rate that
 * included it promised far too early a finish and then grew while encoders started (13 → 206 s). Null while
 * too little has been done to tell; 0 when done.
 */
export function estimateEtaSeconds(progress: number, start: WorkStart | undefined): number | null {
  if (progress >= 100) return 0;
  if (!start) return null;
  const gained = progress - start.progress;
  if (gained < MIN_GAIN || !(start.elapsedS > 0)) return null;
  return Math.ceil((start.elapsedS * (100 - progress)) / gained);
}

/**
 * The start of the job's current run of work: its latest move into processing or packaging from analysis or
 * from a retry (not processing → packaging, which is the same run). The progress then is recorded by a retry;
 * after analysis it is analysis's share.
 */
export async function workStart(db: Exec, jobId: string): Promise<WorkStart | undefined> {
  const res = await db.execute(sql`
    select extract(epoch from (now() - ${jobEvents.at}))::float8 as elapsed_s, ${jobEvents.detail} as detail
    from ${jobEvents}
    where ${and(eq(jobEvents.jobId, jobId), inArray(jobEvents.toStatus, ["processing", "packaging"]), inArray(jobEvents.fromStatus, ["analyzing", "failed", "cancelled"]))}
    order by ${desc(jobEvents.id)} limit 1`);
  const [row] = rowsOf<{ elapsed_s: number; detail: { progress?: unknown } | null }>(res);
  if (!row) return undefined;
  const p = row.detail?.progress;
  return { elapsedS: Number(row.elapsed_s), progress: typeof p === "number" ? p : SHARE.analyze };
}
