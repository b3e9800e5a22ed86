/** Workers: capabilities, slots, heartbeat, version; drain and undrain (admin). */
import { useEffect } from "preact/hooks";
import { api, followEvents } from "../api.ts";
import { Empty, ErrorBox, Link, Loading, Page, Status, useAction, useApi } from "../components.tsx";
import { age } from "../format.ts";
import { can } from "../roles.ts";
import { session } from "../session.ts";

interface Worker {
  id: string;
  hostname: string;
  version: string;
  status: string;
  healthy: boolean;
  slots: number;
  running: number;
  pools: string[];
  drain_requested?: boolean;
  last_seen_at?: string | null;
  /** The tasks it holds a lease on now (GET /v1/workers). */
  current_tasks?: Array<{ task_id: string; job_id: string; type: string; seq: number; started_at: string | null }>;
  capabilities?: { encoders?: string[]; hardware?: Array<{ family: string; encoders: string[] }>; ffmpeg?: { version?: string } };
}

function encodersOf(w: Worker): string {
  const c = w.capabilities ?? {};
  // Hardware encoders are listed only once the worker proved them with a test encode.
  const hardware = (c.hardware ?? []).flatMap((h) => h.encoders);
  const software = (c.encoders ?? []).filter((e) => /^lib(x264|x265|vpx-vp9|svtav1|aom-av1|opus)$|^aac$/.test(e));
  return [...hardware, ...software].join(", ") || "–";
}

/** Each running task with a link to its job page (the job id shortened to 8 characters). */
function CurrentTasks({ worker }: { worker: Worker }) {
  const current = worker.current_tasks ?? [];
  if (current.length === 0) return <span class="muted">idle</span>;
  return (
    <ul class="plain small" data-test="current-tasks">
      {current.map((t) => (
        <li data-task={t.task_id}>
          <Link href={`/jobs/${t.job_id}`}>{t.type} #{t.seq}</Link> <span class="muted">job {t.job_id.slice(0, 8)} · started {age(t.started_at, Date.now())}</span>
        </li>
      ))}
    </ul>
  );
}

export function Workers() {
  const loaded = useApi<{ items: Worker[] }>("/v1/workers");
  const action = useAction();
  useEffect(() => followEvents({ types: "worker.*,task.leased,task.completed,task.failed,task.cancelled,task.queued" }, () => loaded.reload()), []);
  const admin = can(session.value?.role, "admin");
  const items = loaded.data?.items;
  return (
    <Page title="Workers">
      <ErrorBox error={loaded.error ?? action.error} />
      {!items ? (loaded.error ? null : <Loading />) : items.length === 0 ? <Empty>No worker has joined. Start <code>webencode-worker</code> with this kernel's NATS_URL (docs/deployment.md).</Empty> : (
        <div class="table-wrap">
          <table data-test="workers-table">
            <thead><tr><th>Worker</th><th>State</th><th>Slots</th><th>Current tasks</th><th>Pools</th><th>Encoders</th><th>Version</th><th>Heartbeat</th>{admin ? <th /> : null}</tr></thead>
            <tbody>
              {items.map((w) => (
                <tr data-worker={w.id}>
                  <td><code>{w.id}</code><br /><span class="muted small">{w.hostname}</span></td>
                  <td><Status status={w.drain_requested ? "draining" : w.status} /></td>
                  <td>{w.running} / {w.slots}</td>
                  <td><CurrentTasks worker={w} /></td>
                  <td>{w.pools.join(", ")}</td>
                  <td class="small">{encodersOf(w)}</td>
                  <td>{w.version}<br /><span class="muted small">ffmpeg {w.capabilities?.ffmpeg?.version ?? "?"}</span></td>
                  <td>{age(w.last_seen_at, Date.now())}</td>
                  {admin ? (
                    <td>
                      {w.drain_requested ? (
                        <button type="button" data-test="undrain" disabled={action.busy} onClick={() => action.run(() => api("POST", `/v1/workers/${encodeURIComponent(w.id)}/undrain`), loaded.reload)}>Undrain</button>
                      ) : (
                        <button type="button" data-test="drain" disabled={action.busy} onClick={() => action.run(() => api("POST", `/v1/workers/${encodeURIComponent(w.id)}/drain`), loaded.reload)}>Drain</button>
                      )}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
