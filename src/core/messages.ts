/**
 * Messages between kernel and workers (the wire format on the bus). Names are snake_case like the API.
 *
 * Flow of one task attempt:
 *   kernel ── work-<pool> queue: TaskDelivery ──► worker
 *   worker ── request task.claim: ClaimRequest ──► kernel ── ClaimReply (lease) ──► worker
 *   worker ── results queue: TaskProgress* then TaskOutcome ──► kernel (any kernel, once)
 *   kernel ── event task.cancel / job.cancel ──► every worker (stop FFmpeg for it)
 */

import type { LiveProgress, RestreamProgress, TaskType } from "./task-contracts.ts";

export type { TaskType };

export interface TaskDelivery {
  task_id: string;
  job_id: string;
  type: TaskType;
  attempt: number;
}

export interface ClaimRequest {
  task_id: string;
  attempt: number;
  worker_id: string;
}

export interface Lease {
  task_id: string;
  attempt: number;
  token: string;
  worker_id: string;
}

export type ClaimReply =
  | {
      granted: true;
      lease: Lease;
      job_id: string;
      type: TaskType;
      /** `unknown` on purpose: the worker checks it against the task type's contract (checkParams) first. */
      params: unknown;
      media_seconds: number;
      /** The kernel times the attempt out after this (ISO time); the worker should stop before. */
      deadline: string;
      lease_ttl_ms: number;
    }
  | { granted: false; reason: string };

export type FailureClass = "permanent" | "retryable";

export interface TaskError {
  class: FailureClass;
  /** Catalogue code, e.g. WE-JOB-007 for an unreadable source. */
  code: string;
  message: string;
  exit_code?: number | null;
  signal?: string | null;
  argv?: string[];
  stderr_tail?: string;
}

export interface TaskProgress {
  kind: "progress";
  lease: Lease;
  /** 0–100 for this task. */
  percent: number;
  /** × realtime, when known. */
  speed?: number;
  /** A live task's transcode telemetry (core/task-contracts.ts liveProgressSchema; the kernel checks it). */
  live?: LiveProgress;
  /** A restream task's destinations and input position (core/task-contracts.ts restreamProgressSchema; the kernel checks it). */
  restream?: RestreamProgress;
}

export interface TaskOutcome {
  kind: "outcome";
  lease: Lease;
  /** `aborted`: the worker handed the task back (drain/shutdown) — requeued without counting a failure. */
  outcome: "completed" | "failed" | "aborted";
  /** `unknown` on purpose: whoever handles it checks it against the task type's contract (checkResult). */
  result?: unknown;
  error?: TaskError;
  /** The last FFmpeg command the attempt ran (a failure's own command is in `error.argv`). */
  argv?: string[];
  elapsed_ms: number;
}

export type ResultMessage = TaskProgress | TaskOutcome;

export const CLAIM_SUBJECT = "task.claim";
export const TASK_CANCEL_EVENT = "task.cancel";
export const JOB_CANCEL_EVENT = "job.cancel";
export const WORKER_DRAIN_EVENT = "worker.drain";
/** A worker asks any kernel for its plugins' settings; a kernel announces a changed plugin (src/plugin-runtime/remote-settings.ts). */
export const PLUGIN_SETTINGS_SUBJECT = "plugins.settings";
export const PLUGIN_CHANGED = "plugin.changed";

export interface TaskCancel {
  task_id: string;
  attempt: number;
  reason: string;
}

export interface JobCancel {
  job_id: string;
  reason: string;
}

export interface WorkerDrain {
  worker_id: string;
  drain: boolean;
}
