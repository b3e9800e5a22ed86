/** What a worker publishes in the presence registry (and the kernel stores in `workers`). */
import * as v from "valibot";

/**
 * The presence entry crosses a process boundary (worker → bus → kernel): the kernel validates it with this
 * schema and skips an entry that does not match instead of trusting a cast.
 */
export const WorkerPresenceSchema = v.object({
  id: v.pipe(v.string(), v.minLength(1)),
  hostname: v.string(),
  version: v.string(),
  slots: v.pipe(v.number(), v.integer(), v.minValue(0)),
  running: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** Pools (required capabilities) this worker pulls from: cpu, nvidia, qsv, vaapi. */
  pools: v.array(v.string()),
  draining: v.boolean(),
  capabilities: v.record(v.string(), v.unknown()),
  startedAt: v.string(),
});

export type WorkerPresence = v.InferOutput<typeof WorkerPresenceSchema>;

/** The entry as a WorkerPresence, or the reason it is not one (for the log line). */
export function parseWorkerPresence(info: unknown): { ok: true; presence: WorkerPresence } | { ok: false; problem: string } {
  const result = v.safeParse(WorkerPresenceSchema, info);
  if (result.success) return { ok: true, presence: result.output };
  const issue = result.issues[0];
  return { ok: false, problem: `${v.getDotPath(issue) ?? "entry"}: ${issue.message}` };
}
