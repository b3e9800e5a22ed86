/**
 * Live streams (GET /v1/streams, docs/live.md): name, live or idle, where to publish and where to watch;
 * operators create one (the stream key is shown once), stop a live one, delete an idle one. A kernel without
 * the live-streaming API answers 404 for the route: that is an empty state, not an error.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, followEvents } from "../api.ts";
import { Empty, ErrorBox, Loading, Page, Status, useAction, useApi } from "../components.tsx";
import { timestamp } from "../format.ts";
import { can } from "../roles.ts";
import { session } from "../session.ts";

interface Stream {
  id: string;
  name: string;
  is_live: boolean;
  playback: string;
  ingest_url: string | null;
  playback_url: string;
  created_at: string;
}

function Create({ done }: { done: () => void }) {
  const action = useAction();
  const [key, setKey] = useState<string | null>(null);
  const submit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    void action.run(async () => setKey((await api<{ key: string }>("POST", "/v1/streams", { name: form.get("name") })).key), done);
  };
  return (
    <form class="card form inline" onSubmit={submit}>
      <label>Name<input name="name" required placeholder="Studio A" /></label>
      <button type="submit" class="primary" disabled={action.busy}>Create stream</button>
      <ErrorBox error={action.error} />
      {key ? <div class="notice" role="status"><p>The stream key, shown this once (publish with it as the RTMP stream name):</p><code class="secret">{key}</code></div> : null}
    </form>
  );
}

export function Streams() {
  const loaded = useApi<{ items: Stream[] }>("/v1/streams");
  const action = useAction();
  const [creating, setCreating] = useState(false);
  useEffect(() => followEvents({ types: "stream.*" }, () => loaded.reload()), []);
  const missing = loaded.error instanceof ApiError && loaded.error.status === 404;
  const operator = can(session.value?.role, "operator");
  const items = loaded.data?.items;
  return (
    <Page title="Streams" actions={operator && !missing ? <button type="button" class="primary" onClick={() => setCreating(!creating)}>New stream</button> : null}>
      {creating ? <Create done={loaded.reload} /> : null}
      {missing ? <Empty>Live streaming arrives with the live-streaming release of WebEncode; this kernel has no streams API yet.</Empty> : <ErrorBox error={loaded.error ?? action.error} />}
      {!items ? (loaded.error ? null : <Loading />) : items.length === 0 ? (
        <Empty>No live streams. {operator ? "Create one with New stream, then publish to its RTMP URL with the key (docs/live.md)." : "An operator can create one."}</Empty>
      ) : (
        <div class="table-wrap">
          <table data-test="streams-table">
            <thead><tr><th>Name</th><th>State</th><th>Publish to</th><th>Watch</th><th>Created (UTC)</th>{operator ? <th /> : null}</tr></thead>
            <tbody>
              {items.map((s) => (
                <tr data-stream={s.id}>
                  <td>{s.name}<br /><code class="small">{s.id.slice(0, 8)}</code></td>
                  <td><Status status={s.is_live ? "live" : "idle"} /></td>
                  <td class="small"><code>{s.ingest_url ?? "RTMP ingest is off (LIVE_RTMP_PORT=0)"}</code></td>
                  <td class="small"><a href={s.playback_url}>HLS playlist</a> <span class="muted">({s.playback})</span></td>
                  <td>{timestamp(s.created_at)}</td>
                  {operator ? (
                    <td>
                      {s.is_live ? (
                        <button type="button" disabled={action.busy} onClick={() => action.run(() => api("POST", `/v1/streams/${s.id}/stop`), loaded.reload)}>Stop</button>
                      ) : (
                        <button type="button" class="danger" disabled={action.busy} onClick={() => confirm(`Delete stream ${s.name}?`) && action.run(() => api("DELETE", `/v1/streams/${s.id}`), loaded.reload)}>Delete</button>
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
