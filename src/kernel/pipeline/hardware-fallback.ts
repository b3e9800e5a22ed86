/**
 * What a hardware failure of a video task leads to (docs/gpu.md). The worker names it (worker/failures.ts):
 * - WE-ENC-002, the GPU refused another encode session: the task waits and is retried, without counting a
 *   failure (a busy card is not a broken one); after many such waits it is handled as a failure below.
 * - WE-ENC-001, the driver failed (out of memory, device lost, no device, an input the device cannot take):
 *   the profile's hardware_fallback decides. `cpu` (and `auto`): every task of the rendition group moves to
 *   the CPU pool with software encoders, completed chunks included, so one rendition never mixes encoders (a
 *   visible quality step at every join); the failing device never sees the group again. `fail`: the job fails
 *   with WE-ENC-001 naming the worker, the device and the driver's message.
 * Runs in the result handler's transaction, under the job lock, like every other task move.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { TaskError } from "../../core/messages.ts";
import { paramsOf } from "../../core/task-contracts.ts";
import type { Exec } from "../../db/exec.ts";
import { tasks } from "../../db/schema.ts";
import { accelerator, deviceOfArgv, driverFailure, isHardwarePool, poolEncoder, SOFTWARE_ENCODERS } from "../../media/hardware/index.ts";
import type { VideoParams } from "../../media/task-params.ts";
import { cancelOpenTasks, type JobRow, moveJob, moveTask, type TaskRow } from "../orchestrator/transitions.ts";

/** Waits between session-limit retries: a few seconds, growing with the task's attempts, at most a minute. */
export function sessionRetryDelayMs(attempt: number): number {
  return Math.min(5_000 * Math.max(1, attempt), 60_000);
}

/** Session-limit waits a task may take before the busy device is treated as a failing one. */
export const MAX_SESSION_WAITS = 20;

export type HardwareVerdict = "requeued" | "fell-back" | "job-failed" | "stale";

/** "nvenc failed on gpu-01 (GPU 0): <driver message>": who failed, where, and the driver's own words. */
export function hardwareFailureText(task: Pick<TaskRow, "pool" | "leaseWorkerId">, error: TaskError): string {
  const id = poolEncoder(task.pool)?.accelerator;
  const found = id ? driverFailure(error.stderr_tail ?? "", [accelerator(id)]) : undefined;
  const device = deviceOfArgv(error.argv ?? []);
  const where = `${task.leaseWorkerId ?? "a worker"}${device ? ` (${device})` : ""}`;
  const message = found?.message ?? error.message.replace(/^[^:]*: \w+ [\w-]+: /, "");
  return `${id ?? task.pool} failed on ${where}: ${message}`;
}

/**
 * Undefined when `error` is no hardware failure of a hardware video task (the generic path applies);
 * otherwise what was done. Call under the job lock with the failed attempt's lease token.
 */
export async function handleHardwareFailure(db: Exec, job: JobRow, task: TaskRow, error: TaskError, leaseToken: string): Promise<HardwareVerdict | undefined> {
  if (task.type !== "video" || !isHardwarePool(task.pool)) return undefined;
  if (error.code === "WE-ENC-002" && task.attempt < MAX_SESSION_WAITS) {
    const delay = sessionRetryDelayMs(task.attempt);
    const requeued = await moveTask(
      db,
      task,
      "queued",
      { leaseToken, from: ["leased"] },
      { attempt: task.attempt + 1, publishedAt: null, notBefore: sql`now() + ${`${delay} milliseconds`}::interval`, progress: 0, errorCode: error.code, errorMessage: error.message },
      { error: error.message, retry_in_ms: delay, reason: "encoder session limit reached; retried after a delay (not counted as a failure)" },
    );
    return requeued ? "requeued" : "stale";
  }
  if (error.code !== "WE-ENC-001" && error.code !== "WE-ENC-002") return undefined;

  const params = paramsOf("video", task.params);
  const failure = hardwareFailureText(task, error);
  const strict = params.renditions.filter((r) => r.profile.video.encoder !== "auto" && r.profile.video.hardware_fallback === "fail").map((r) => r.profile.id);
  if (strict.length > 0) {
    const why = `${failure} (profile ${strict.join(", ")}: hardware_fallback is "fail")`;
    const failed = await moveTask(db, task, "failed", { leaseToken, from: ["leased"] }, { failures: task.failures + 1, errorCode: "WE-ENC-001", errorMessage: why }, { error: why });
    if (!failed) return "stale";
    await moveJob(db, job.id, "failed", {
      patch: { errorCode: "WE-ENC-001", errorMessage: why, errorDetails: { task_id: task.id, task_type: task.type, worker_id: task.leaseWorkerId, pool: task.pool } },
      detail: { code: "WE-ENC-001", error: why },
    });
    await cancelOpenTasks(db, job.id, "job failed");
    return "job-failed";
  }
  return (await fallBackToCpu(db, job, task, params, leaseToken, `${failure}; retried on CPU`)) ? "fell-back" : "stale";
}

/** The group's renditions with their software encoders (the same profiles, the same sizes). */
export function onCpu(params: VideoParams): VideoParams {
  const { hardware: _gpuOnly, ...rest } = params;
  return { ...rest, renditions: params.renditions.map((r) => ({ ...r, encoder: SOFTWARE_ENCODERS[r.profile.video.codec] })) };
}

/**
 * Moves every task of the failed task's rendition group to the CPU pool: the failed one (its lease), the
 * queued ones (a new attempt: a GPU worker's claim of the old one is refused), the running ones (their
 * GPU report will be stale) and the completed ones (their GPU parts are re-encoded under the same keys).
 */
async function fallBackToCpu(db: Exec, job: JobRow, failed: TaskRow, params: VideoParams, leaseToken: string, reason: string): Promise<boolean> {
  const detail = { reason, fallback: "cpu", from_pool: failed.pool };
  const moved = await moveTask(
    db,
    failed,
    "queued",
    { leaseToken, from: ["leased"] },
    { pool: "cpu", params: onCpu(params), attempt: failed.attempt + 1, failures: failed.failures + 1, publishedAt: null, notBefore: null, progress: 0, errorCode: "WE-ENC-001", errorMessage: reason },
    detail,
  );
  if (!moved) return false;
  const group = await db.select().from(tasks).where(and(eq(tasks.jobId, job.id), eq(tasks.type, "video"), eq(tasks.pool, failed.pool), inArray(tasks.status, ["queued", "leased", "completed"])));
  for (const other of group) {
    if (other.id === failed.id) continue;
    const p = paramsOf("video", other.params);
    if (p.group !== params.group) continue;
    const patch = { pool: "cpu", params: onCpu(p), attempt: other.attempt + 1, publishedAt: null, notBefore: null, progress: 0 };
    if (other.status === "queued") {
      await db.update(tasks).set({ ...patch, updatedAt: sql`now()` }).where(and(eq(tasks.id, other.id), eq(tasks.status, "queued")));
    } else {
      await moveTask(db, other, "queued", { from: [other.status as "leased" | "completed"] }, { ...patch, result: null, finishedAt: null }, { ...detail, reason: `rendition group re-encoded on CPU (${reason})` });
    }
  }
  return true;
}
