/** One job: state and live progress, timeline, the task strip per worker, errors, outputs and players. */
import { useEffect, useState } from "preact/hooks";
import { api, followEvents } from "../api.ts";
import { Empty, ErrorBox, Loading, Page, ProgressBar, Status, useAction, useApi } from "../components.tsx";
import { bytes, duration, timestamp } from "../format.ts";
import { applyEvent, failures, FINISHED, taskLanes, type JobSummary, type Task } from "../job-view.ts";
import { Player } from "../player.tsx";
import { can } from "../roles.ts";
import { navigate } from "../router.ts";
import { session } from "../session.ts";

interface Job extends JobSummary {
  tasks?: Task[];
  source_url: string;
  status_reason: string | null;
  started_at: string | null;
  finished_at: string | null;
}

interface Output {
  id: string;
  kind: string;
  profile: string | null;
  url: string;
  size_bytes: number | null;
  width: number | null;
  height: number | null;
}

function useLiveJob(id: string) {
  const loaded = useApi<Job>(`/v1/jobs/${id}`);
  const [job, setJob] = useState<Job | undefined>();
  useEffect(() => setJob(loaded.data), [loaded.data]);
  useEffect(
    () =>
      // From the start (last_event_id=0): what happened before the page opened is replayed, then live.
      followEvents({ job_id: id, last_event_id: "0" }, (event) => {
        setJob((j) => (j ? applyEvent(j, event) : j));
        // State changes carry tasks and timings the event does not: fetch the job again.
        if (event.type !== "job.progress") loaded.reload();
      }, loaded.reload),
    [id],
  );
  return { job, error: loaded.error, reload: loaded.reload };
}

function Actions({ job, reload }: { job: Job; reload: () => void }) {
  const action = useAction();
  if (!can(session.value?.role, "operator")) return null;
  const finished = FINISHED.has(job.status);
  return (
    <>
      {!finished ? <button type="button" disabled={action.busy} data-test="cancel" onClick={() => action.run(() => api("POST", `/v1/jobs/${job.id}/cancel`), reload)}>Cancel</button> : null}
      {job.status === "failed" || job.status === "cancelled" ? <button type="button" disabled={action.busy} data-test="retry" onClick={() => action.run(() => api("POST", `/v1/jobs/${job.id}/retry`), reload)}>Retry</button> : null}
      {finished ? (
        <button type="button" class="danger" disabled={action.busy} data-test="delete" onClick={() => confirm("Delete this job and its outputs?") && action.run(() => api("DELETE", `/v1/jobs/${job.id}`), () => navigate("/jobs"))}>Delete</button>
      ) : null}
      <ErrorBox error={action.error} />
    </>
  );
}

function TaskStrip({ tasks }: { tasks: Task[] }) {
  const lanes = taskLanes(tasks, Date.now());
  if (lanes.length === 0) return <Empty>No task has started yet: the job waits for a worker with a free slot.</Empty>;
  return (
    <div class="strip" data-test="task-strip">
      {lanes.map((lane) => (
        <div class="lane">
          <span class="lane-name">{lane.worker}</span>
          <div class="lane-bars">
            {lane.bars.map((b) => <span class={`bar bar-${b.outcome}${b.retry ? " bar-retry" : ""}`} title={`${b.label}: ${b.outcome}`} style={{ left: `${b.left * 100}%`, width: `${b.width * 100}%` }} />)}
          </div>
        </div>
      ))}
    </div>
  );
}

function Outputs({ job }: { job: Job }) {
  const outputs = useApi<{ items: Output[] }>(job.status === "completed" ? `/v1/jobs/${job.id}/outputs` : null);
  if (job.status !== "completed") return <Empty>Outputs appear here when the job completes.</Empty>;
  const items = outputs.data?.items ?? [];
  const poster = items.find((o) => o.kind === "thumbnail")?.url;
  const hls = items.find((o) => o.kind === "hls");
  const mp4 = items.find((o) => o.kind === "mp4" || o.kind === "webm");
  const sprite = items.find((o) => o.kind === "sprite");
  return (
    <>
      <ErrorBox error={outputs.error} />
      <div class="players">
        {hls ? <div><h3>HLS</h3><Player url={hls.url} hls poster={poster} /></div> : null}
        {mp4 ? <div><h3>{mp4.profile} ({mp4.kind})</h3><Player url={mp4.url} hls={false} poster={poster} /></div> : null}
      </div>
      {poster || sprite ? (
        <div class="previews">
          {poster ? <figure><img src={poster} alt="poster" data-test="poster" /><figcaption class="muted small">poster</figcaption></figure> : null}
          {sprite ? <figure><img src={sprite.url} alt="seek-preview sprite" data-test="sprite" /><figcaption class="muted small">seek-preview sprite (tiles with a WebVTT index)</figcaption></figure> : null}
        </div>
      ) : null}
      <ul class="list" data-test="outputs">
        {items.map((o) => (
          <li><a href={o.url} download>{o.kind}{o.profile ? ` · ${o.profile}` : ""}</a> <span class="muted">{bytes(o.size_bytes)}{o.width ? ` · ${o.width}×${o.height ?? "?"}` : ""}</span></li>
        ))}
      </ul>
    </>
  );
}

export function JobPage({ id }: { id: string }) {
  const { job, error, reload } = useLiveJob(id);
  if (!job) return <Page title="Job">{error ? <ErrorBox error={error} /> : <Loading />}</Page>;
  const tasks = job.tasks ?? [];
  return (
    <Page title={`Job ${job.id.slice(0, 8)}`} actions={<Actions job={job} reload={reload} />}>
      <div class="card">
        <p><Status status={job.status} /> <span data-test="job-status" class="sr-only">{job.status}</span> {job.status_reason ? <span class="muted">{job.status_reason}</span> : null}</p>
        <div data-test="job-progress" data-progress={Math.round(job.progress)}><ProgressBar value={job.progress} label="job progress" /></div>
        <p class="muted">ETA {job.eta_seconds === null ? "–" : duration(job.eta_seconds)} · source <code>{job.source_url}</code> · profiles {job.profiles.join(", ")} · outputs {job.outputs.join(", ")}</p>
        <ErrorBox error={error} />
        {job.error ? <div class="error" role="alert" data-test="job-error"><code>{job.error.code}</code> {job.error.message}</div> : null}
      </div>
      <div class="card">
        <h2>Timeline</h2>
        <ol class="timeline">
          <li>created {timestamp(job.created_at)}</li>
          {job.started_at ? <li>started {timestamp(job.started_at)}</li> : null}
          {job.finished_at ? <li>{job.status} {timestamp(job.finished_at)}</li> : null}
        </ol>
        <h2>Tasks per worker</h2>
        <TaskStrip tasks={tasks} />
      </div>
      {failures(tasks).length > 0 ? (
        <div class="card">
          <h2>Errors</h2>
          {failures(tasks).map(({ task, attempt }) => (
            <details>
              <summary><code>{attempt.error_code ?? "error"}</code> {task.type} #{task.seq} attempt {attempt.attempt} on {attempt.worker_id ?? "?"}: {attempt.error_message}</summary>
              {attempt.stderr_tail ? <pre class="stderr">{attempt.stderr_tail}</pre> : <p class="muted">No stderr was captured.</p>}
            </details>
          ))}
        </div>
      ) : null}
      <div class="card">
        <h2>Outputs</h2>
        <Outputs job={job} />
      </div>
    </Page>
  );
}
