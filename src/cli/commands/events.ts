/** `webencode events`: tail the event stream (docs/events.md) until Ctrl-C. */
import type { Command } from "commander";
import { printJson } from "../output.ts";
import { runtimeOf } from "../runtime.ts";
import { type ApiEvent, streamEvents } from "../sse.ts";

/** One event as a line for a terminal: time, type, job/worker, the payload's interesting fields (pure). */
export function eventLine(event: ApiEvent): string {
  const d = event.data;
  const time = event.created_at.slice(11, 19);
  const who = event.job_id ? `job=${event.job_id.slice(0, 8)}` : event.worker_id ? `worker=${event.worker_id}` : "";
  const fields = ["status", "progress", "eta_seconds", "task_type", "seq", "attempt", "plugin_id", "to"]
    .filter((k) => d[k] !== undefined && d[k] !== null)
    .map((k) => `${k}=${String(d[k])}`);
  const err = d.error && typeof d.error === "object" ? ` error=${(d.error as { code?: string }).code}` : "";
  return [time, event.type.padEnd(16), who, ...fields].filter(Boolean).join(" ") + err;
}

export function eventsCommand(program: Command): void {
  program
    .command("events")
    .summary("tail the event stream live (NDJSON with --json or when piped); Ctrl-C stops")
    .option("--job <id>", "only this job's events")
    .option("--types <patterns>", "comma-separated types, `*` suffix allowed: job.*,worker.offline")
    .option("--since <event-id>", "replay the stored events after this id first (0 = all that are kept)")
    .addHelpText("after", "\nExamples:\n  webencode events --types 'job.completed,job.failed'\n  webencode events --job 5c0e… --since 0 --json | jq -c '{type, data}'")
    .action(async (opts: { job?: string; types?: string; since?: string }, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const abort = new AbortController();
      process.once("SIGINT", () => abort.abort());
      const events = streamEvents(rt.client(), { query: { job_id: opts.job, types: opts.types }, lastEventId: opts.since, signal: abort.signal });
      for await (const e of events) {
        if (rt.output.json) printJson(e);
        else process.stdout.write(`${eventLine(e)}\n`);
      }
    });
}
