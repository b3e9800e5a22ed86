/**
 * Which of a job's outputs `POST /v1/jobs/:id/publish` uploads. Platforms take one video file, so only MP4
 * and WebM outputs qualify (an HLS output is a playlist and its segments). Pure.
 */
import { AppError } from "../../core/errors.ts";
import type { outputs } from "../../db/schema.ts";

type OutputRow = typeof outputs.$inferSelect;

const UPLOADABLE = new Set(["mp4", "webm"]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The job's video files in a stable order: oldest first, then by id (what `output: <index>` counts in). */
export function uploadableOutputs(rows: OutputRow[]): OutputRow[] {
  return rows.filter((o) => UPLOADABLE.has(o.kind)).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.id.localeCompare(b.id));
}

const describe = (o: OutputRow) => `${o.profile ?? "?"} (${o.kind}, id ${o.id})`;

/**
 * `wanted`: an output id, a profile name, or an index into uploadableOutputs; absent: the largest picture
 * (height, then bitrate). WE-PUB-004 when the job has no video file; WE-JOB-001 naming the choices otherwise.
 */
export function chooseOutput(jobId: string, rows: OutputRow[], wanted: string | number | undefined): OutputRow {
  const files = uploadableOutputs(rows);
  if (!files.length) {
    throw new AppError("WE-PUB-004", `job ${jobId} has no MP4 or WebM output to upload (an HLS package is not one file); submit the job with outputs ["mp4"]`, { kinds: [...new Set(rows.map((o) => o.kind))] });
  }
  const choices = `its video files: ${files.map(describe).join(", ")}`;
  if (wanted === undefined) return [...files].sort((a, b) => (b.height ?? 0) - (a.height ?? 0) || (b.bitrate ?? 0) - (a.bitrate ?? 0))[0]!;
  if (typeof wanted === "number") {
    const found = files[wanted];
    if (!found) throw new AppError("WE-JOB-001", `job ${jobId} has ${files.length} video file(s); output ${wanted} is out of range (count from 0): ${choices}`);
    return found;
  }
  const byId = rows.find((o) => UUID.test(wanted) && o.id === wanted.toLowerCase());
  const found = byId ?? files.find((o) => o.profile === wanted);
  if (found && !UPLOADABLE.has(found.kind)) throw new AppError("WE-JOB-001", `output ${wanted} of job ${jobId} is ${found.kind}, not one video file; ${choices}`);
  if (!found) {
    const hlsOnly = rows.some((o) => o.profile === wanted);
    throw new AppError("WE-JOB-001", `job ${jobId} has no ${hlsOnly ? "MP4 or WebM " : ""}output ${JSON.stringify(wanted)}; ${choices}`);
  }
  return found;
}
