/** `webencode jobs …`: list, show, watch, cancel, retry, delete, logs and outputs of jobs. */
import { type Command, InvalidArgumentError } from "commander";
import type { ApiClient } from "../client.ts";
import { printJson, printTable, say, shortTime } from "../output.ts";
import { formatBytes, formatPercent } from "../progress.ts";
import { runtimeOf } from "../runtime.ts";
import { downloadOutputs, type Output } from "../transfer.ts";
import { endOf, type JobSummary, watchJob } from "../watch.ts";

export const JOB_STATES = ["queued", "analyzing", "processing", "packaging", "completed", "failed", "cancelled"] as const;

/** `--state failed,cancelled`: checked here, so a typo is a usage error (2) and not a server refusal. */
export function parseStates(value: string): string {
  const states = value.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = states.filter((s) => !(JOB_STATES as readonly string[]).includes(s));
  if (bad.length || !states.length) throw new InvalidArgumentError(`unknown state ${bad.join(", ") || "(none)"}; use ${JOB_STATES.join(", ")}`);
  return states.join(",");
}

export function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new InvalidArgumentError("a whole number from 1 to 200");
  return n;
}

const jobPath = (id: string) => `/v1/jobs/${encodeURIComponent(id)}`;

/** One row of `jobs ls` (pure). */
export const jobRow = (job: JobSummary) => [
  job.id,
  job.status,
  formatPercent(job.progress),
  ((job.profiles as string[] | undefined) ?? []).join(","),
  shortTime(job.created_at),
  job.error ? job.error.code : String(job.status_reason ?? ""),
];

/** Lists and optionally downloads a job's outputs; shared by `jobs outputs` and `submit --wait`. */
export async function showOutputs(client: ApiClient, id: string, opts: { json: boolean; download?: string }): Promise<void> {
  const { items } = await client.get<{ items: Output[] }>(`${jobPath(id)}/outputs`);
  const files = opts.download ? await downloadOutputs(client, id, items, opts.download) : undefined;
  if (opts.json) return printJson({ job_id: id, items, ...(files ? { downloaded: files } : {}) });
  printTable(
    ["KIND", "PROFILE", "SIZE", "URL"],
    items.map((o) => [o.kind, o.profile ?? "-", o.size_bytes == null ? "-" : formatBytes(o.size_bytes), o.url]),
  );
  if (files) say(`downloaded ${files.length} output(s) to ${opts.download}`);
}

/** Follows a job to its end and turns the end into the exit code (0 completed, 1 failed, 3 cancelled). */
export async function waitForEnd(client: ApiClient, id: string, opts: { events?: boolean; json?: boolean }): Promise<void> {
  const state = await watchJob(client, id, { events: opts.events });
  const end = endOf(state);
  // A script reading --json gets the end on stdout too, not only the message on stderr.
  if (end && opts.json && !opts.events) printJson({ id: state.id, status: state.status, error: state.error });
  if (end) throw end;
}

export function jobsCommands(program: Command): void {
  const jobs = program.command("jobs").summary("list, follow and manage jobs");

  jobs
    .command("ls")
    .summary("list jobs, newest first")
    .option("--state <states>", `only these states, comma-separated (${JOB_STATES.join(", ")})`, parseStates)
    .option("--limit <n>", "at most n jobs (1-200)", parseLimit, 50)
    .addHelpText("after", "\nExamples:\n  webencode jobs ls --state failed,cancelled\n  webencode jobs ls --json | jq -r '.items[].id'")
    .action(async (opts: { state?: string; limit: number }, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const page = await rt.client().get<{ items: JobSummary[] }>("/v1/jobs", { status: opts.state, limit: opts.limit });
      if (rt.output.json) return printJson(page);
      printTable(["ID", "STATE", "PROGRESS", "PROFILES", "CREATED (UTC)", "ERROR/REASON"], page.items.map(jobRow));
    });

  jobs
    .command("get")
    .summary("show one job: state, progress, error, tasks")
    .argument("<id>", "job id")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const rt = runtimeOf(cmd);
      const job = await rt.client().get<JobSummary & { tasks?: { type: string; seq: number; status: string }[] }>(jobPath(id));
      if (rt.output.json) return printJson(job);
      const lines = [
        `id        ${job.id}`,
        `state     ${job.status}${job.status_reason ? ` (${job.status_reason})` : ""}`,
        `progress  ${formatPercent(job.progress)}${job.eta_seconds != null ? `, ETA ${job.eta_seconds}s` : ""}`,
        `source    ${String(job.source_url)}`,
        `profiles  ${((job.profiles as string[]) ?? []).join(", ")}  outputs: ${((job.outputs as string[]) ?? []).join(", ")}`,
        `created   ${shortTime(job.created_at)}  finished: ${shortTime(job.finished_at) || "-"}`,
      ];
      if (job.error) lines.push(`error     ${job.error.code}: ${job.error.message}`);
      if (job.tasks?.length) lines.push(`tasks     ${job.tasks.map((t) => `${t.type}#${t.seq} ${t.status}`).join(", ")}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });

  jobs
    .command("watch")
    .summary("follow a job live until it ends (exit 0 completed, 1 failed, 3 cancelled)")
    .argument("<id>", "job id")
    .addHelpText("after", "\nCtrl-C stops watching; the job keeps running.\n  webencode jobs watch 5c0e… --json   # the job's events as NDJSON on stdout")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const rt = runtimeOf(cmd);
      await waitForEnd(rt.client(), id, { events: rt.output.json, json: rt.output.json });
    });

  for (const [name, summary] of [
    ["cancel", "cancel a job that has not finished (running FFmpeg is stopped)"],
    ["retry", "resume a failed or cancelled job (finished tasks are kept)"],
  ] as const) {
    jobs
      .command(name)
      .summary(summary)
      .argument("<id>", "job id")
      .action(async (id: string, _opts: unknown, cmd: Command) => {
        const rt = runtimeOf(cmd);
        const job = await rt.client().post<JobSummary>(`${jobPath(id)}/${name}`);
        if (rt.output.json) return printJson(job);
        say(`job ${job.id} is ${job.status}`);
      });
  }

  jobs
    .command("rm")
    .summary("delete a finished job and its outputs")
    .argument("<id>", "job id")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await runtimeOf(cmd).client().del(jobPath(id));
      say(`job ${id} deleted`);
    });

  jobs
    .command("logs")
    .summary("a job's log: each attempt with its FFmpeg evidence (JSON)")
    .argument("<id>", "job id")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      printJson(await runtimeOf(cmd).client().get(`${jobPath(id)}/logs`));
    });

  jobs
    .command("outputs")
    .summary("list a completed job's outputs (signed URLs, valid 24 h)")
    .argument("<id>", "job id")
    .option("--download <dir>", "also download them into dir (an HLS ladder with all its segments)")
    .action(async (id: string, opts: { download?: string }, cmd: Command) => {
      const rt = runtimeOf(cmd);
      await showOutputs(rt.client(), id, { json: rt.output.json, download: opts.download });
    });
}
