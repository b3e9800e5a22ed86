/**
 * Following one job to its end: the job's events from the SSE stream (replayed from the start, then live,
 * so a job that ends between the first look and the stream is still seen ending), folded into a display
 * state by a pure reducer, drawn as one progress line. Ctrl-C detaches (the job keeps running) and says how
 * to watch it again.
 */
import type { ApiClient } from "./client.ts";
import { CliError, EXIT } from "./errors.ts";
import { printJson, say } from "./output.ts";
import { jobLine, plainKey, ProgressLine } from "./progress.ts";
import { type ApiEvent, streamEvents } from "./sse.ts";

export interface JobSummary {
  id: string;
  status: string;
  status_reason?: string | null;
  progress: number;
  eta_seconds: number | null;
  error: { code: string; message: string } | null;
  [k: string]: unknown;
}

export const TERMINAL = ["completed", "failed", "cancelled"] as const;
export const isTerminal = (status: string) => (TERMINAL as readonly string[]).includes(status);

export interface WatchState {
  id: string;
  status: string;
  progress: number;
  eta_seconds: number | null;
  error: { code: string; message: string } | null;
  /** Running tasks → the worker that leased each. */
  running: Record<string, string>;
}

export const initialState = (job: JobSummary): WatchState => ({
  id: job.id,
  status: job.status,
  progress: job.progress,
  eta_seconds: job.eta_seconds,
  error: job.error,
  running: {},
});

/** The state after one event of the job (pure). */
export function reduce(state: WatchState, event: ApiEvent): WatchState {
  const d = event.data;
  if (event.type === "job.progress") {
    return { ...state, progress: Math.max(state.progress, Number(d.progress ?? state.progress)), eta_seconds: (d.eta_seconds as number | null | undefined) ?? null };
  }
  if (event.type.startsWith("job.") && typeof d.status === "string") {
    const error = (d.error as WatchState["error"] | undefined) ?? (d.status === "failed" ? state.error : null);
    const progress = d.status === "completed" ? 100 : typeof d.progress === "number" ? Math.max(0, d.progress) : state.progress;
    return { ...state, status: d.status, progress, error, eta_seconds: isTerminal(d.status) ? null : state.eta_seconds, running: isTerminal(d.status) ? {} : state.running };
  }
  if (event.type.startsWith("task.") && typeof d.task_id === "string") {
    const running = { ...state.running };
    if (event.type === "task.leased" && event.worker_id) running[d.task_id] = event.worker_id;
    else delete running[d.task_id];
    return { ...state, running };
  }
  return state;
}

/** Short worker names for the progress line (ids are UUIDs). */
const workersOf = (state: WatchState) => [...new Set(Object.values(state.running))].map((w) => w.slice(0, 8));

export const lineOf = (state: WatchState) => jobLine({ id: state.id, status: state.status, progress: state.progress, eta_seconds: state.eta_seconds, workers: workersOf(state) });

/** Exit code for a finished job: completed 0, failed 1, cancelled 3. */
export const exitForStatus = (status: string) => (status === "completed" ? EXIT.ok : status === "cancelled" ? EXIT.cancelled : EXIT.failed);

export interface WatchOptions {
  /** NDJSON: every event of the job on stdout as it arrives. */
  events?: boolean;
}

/**
 * Follows the job until it ends; returns its final state. The stream is opened live first and the job read
 * once it is open (again after each reconnect), so a change in between is in the snapshot or in the stream.
 * (Replaying from event 0 instead would show a retried job's earlier end as its end.) Ctrl-C detaches.
 */
export async function watchJob(client: ApiClient, id: string, opts: WatchOptions = {}): Promise<WatchState> {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  // Ctrl-C is caught from the start: before the first line is shown, not only once the stream is open.
  const abort = new AbortController();
  let interrupted = false;
  const onInt = () => {
    interrupted = true;
    abort.abort();
  };
  process.once("SIGINT", onInt);
  // A job that does not exist is a clear error before any stream is opened.
  let state: WatchState;
  try {
    state = initialState(await client.get<JobSummary>(path));
  } catch (e) {
    process.off("SIGINT", onInt);
    throw e;
  }
  const line = new ProgressLine();
  const show = () => line.update(lineOf(state), plainKey(state.status, state.progress));
  const snapshot = async () => {
    state = { ...initialState(await client.get<JobSummary>(path)), running: state.running };
    show();
    if (isTerminal(state.status)) abort.abort();
  };
  show();
  try {
    if (!isTerminal(state.status)) {
      const events = streamEvents(client, {
        query: { job_id: state.id },
        signal: abort.signal,
        onOpen: snapshot,
        onReconnect: (why) => {
          line.break();
          say(`event stream interrupted (${why}); reconnecting`);
        },
      });
      for await (const e of events) {
        if (opts.events) printJson(e);
        if (e.type === "reset") await snapshot();
        else state = reduce(state, e);
        if (isTerminal(state.status)) break;
        show();
      }
    }
  } finally {
    process.off("SIGINT", onInt);
  }
  if (interrupted && !isTerminal(state.status)) {
    line.break();
    throw new CliError(EXIT.detached, `detached from job ${state.id}; it keeps running. Watch it again with: webencode jobs watch ${state.id}`);
  }
  // A failure's error is in the job row even when the event carrying it was not seen.
  if (state.status === "failed" && !state.error) state = { ...state, error: (await client.get<JobSummary>(path)).error };
  line.finish(lineOf(state), state.status);
  return state;
}

/** The message and exit for a finished job that did not complete. */
export function endOf(state: WatchState): CliError | undefined {
  if (state.status === "completed") return undefined;
  if (state.status === "cancelled") return new CliError(EXIT.cancelled, `job ${state.id} was cancelled`);
  const err = state.error;
  return new CliError(EXIT.failed, `job ${state.id} failed: ${err ? `${err.code}: ${err.message}` : "no error recorded"}`, err?.code);
}
