/**
 * Job progress updates (`job.progress`), published on the bus by the kernel that handled a progress report.
 * Workers report every task once a second and a job may run many tasks at once, so updates are throttled to
 * one per `intervalMs` per job; the latest value of a burst goes out when the interval ends (trailing), so
 * clients always see where a job got to.
 */
import { JOB_PROGRESS_SUBJECT } from "../../bus/subjects.ts";
import type { Bus } from "../../bus/types.ts";
import { errorMessage } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { throttleDelay } from "./filters.ts";

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
    publish(p) {
      if (stopped) return;
      let slot = jobs.get(p.job_id);
      if (!slot) jobs.set(p.job_id, (slot = {}));
      slot.pending = p; // a burst keeps only its latest value
      if (!slot.timer) slot.timer = setTimeout(() => flush(p.job_id), throttleDelay(slot.lastSentAt, Date.now(), intervalMs));
    },
    stop() {
      stopped = true;
      for (const s of jobs.values()) if (s.timer) clearTimeout(s.timer);
      jobs.clear();
    },
  };
}
