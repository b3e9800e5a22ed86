/** Webhooks (admin): the subscriptions, their delivery log, redeliver, unmute; create and delete. */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { Empty, ErrorBox, Loading, Page, Status, useAction, useApi } from "../components.tsx";
import { timestamp } from "../format.ts";

interface Webhook {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  enabled: boolean;
  muted: boolean;
  consecutive_failures: number;
}

interface Delivery {
  id: string;
  event_type: string;
  status: string;
  attempts: number;
  response_code: number | null;
  latency_ms: number | null;
  last_error: string | null;
  created_at: string;
}

function Deliveries({ webhook }: { webhook: Webhook }) {
  const loaded = useApi<{ items: Delivery[] }>(`/v1/webhooks/${webhook.id}/deliveries?limit=20`);
  const action = useAction();
  const items = loaded.data?.items;
  return (
    <>
      <ErrorBox error={loaded.error ?? action.error} />
      {!items ? <Loading /> : items.length === 0 ? <Empty>No deliveries yet: they appear when a subscribed event happens.</Empty> : (
        <table>
          <thead><tr><th>Event</th><th>Status</th><th>Attempts</th><th>Response</th><th>Last error</th><th>Created (UTC)</th><th /></tr></thead>
          <tbody>
            {items.map((d) => (
              <tr>
                <td>{d.event_type}</td><td><Status status={d.status} /></td><td>{d.attempts}</td>
                <td>{d.response_code ?? "–"}{d.latency_ms !== null ? ` · ${d.latency_ms} ms` : ""}</td><td class="small">{d.last_error ?? ""}</td><td>{timestamp(d.created_at)}</td>
                <td><button type="button" disabled={action.busy} onClick={() => action.run(() => api("POST", `/v1/webhooks/${webhook.id}/deliveries/${d.id}/redeliver`), loaded.reload)}>Redeliver</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function Create({ done }: { done: () => void }) {
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const types = String(form.get("event_types") ?? "").split(",").map((t) => t.trim()).filter(Boolean);
    void action.run(() => api("POST", "/v1/webhooks", { url: form.get("url"), event_types: types, description: String(form.get("description") ?? "") || undefined }), done);
  };
  return (
    <form class="card form" onSubmit={submit}>
      <label>URL<input name="url" type="url" required placeholder="https://example.com/hooks/webencode" /></label>
      <label>Event types (comma-separated; * for all)<input name="event_types" defaultValue="job.completed,job.failed" required /></label>
      <label>Description<input name="description" /></label>
      <ErrorBox error={action.error} />
      <button type="submit" class="primary" disabled={action.busy}>Create webhook</button>
    </form>
  );
}

export function Webhooks() {
  const loaded = useApi<{ items: Webhook[] }>("/v1/webhooks");
  const action = useAction();
  const [open, setOpen] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const items = loaded.data?.items;
  return (
    <Page title="Webhooks" actions={<button type="button" class="primary" onClick={() => setCreating(!creating)}>New webhook</button>}>
      {creating ? <Create done={() => { setCreating(false); loaded.reload(); }} /> : null}
      <ErrorBox error={loaded.error ?? action.error} />
      {!items ? (loaded.error ? null : <Loading />) : items.length === 0 ? <Empty>No webhooks. Create one to have job events pushed to your URL, signed (docs/webhooks.md).</Empty> : items.map((w) => (
        <div class="card">
          <div class="row spread">
            <div><code>{w.url}</code> <span class="muted small">{w.event_types.join(", ")}</span>{w.muted ? <> <Status status="muted" /> <span class="small">after {w.consecutive_failures} failures</span></> : null}</div>
            <div class="row">
              {w.muted ? <button type="button" onClick={() => action.run(() => api("POST", `/v1/webhooks/${w.id}/unmute`), loaded.reload)}>Unmute</button> : null}
              <button type="button" onClick={() => setOpen(open === w.id ? null : w.id)}>Deliveries</button>
              <button type="button" class="danger" onClick={() => confirm("Delete this webhook?") && action.run(() => api("DELETE", `/v1/webhooks/${w.id}`), loaded.reload)}>Delete</button>
            </div>
          </div>
          {open === w.id ? <Deliveries webhook={w} /> : null}
        </div>
      ))}
    </Page>
  );
}
