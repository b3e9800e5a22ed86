/** API keys (admin): create (the key is shown once), list, revoke. */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { Empty, ErrorBox, Loading, Page, Status, useAction, useApi } from "../components.tsx";
import { timestamp } from "../format.ts";

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: string;
  status: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

export function ApiKeys() {
  const loaded = useApi<{ items: ApiKey[] }>("/v1/api-keys");
  const action = useAction();
  const [created, setCreated] = useState<string | null>(null);
  const submit = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const days = Number(form.get("expires_in_days") ?? 0);
    void action.run(async () => {
      const r = await api<{ key: string }>("POST", "/v1/api-keys", { name: form.get("name"), role: form.get("role"), ...(days > 0 ? { expires_in_days: days } : {}) });
      setCreated(r.key);
    }, loaded.reload);
  };
  const items = loaded.data?.items;
  return (
    <Page title="API keys">
      <form class="card form inline" onSubmit={submit}>
        <label>Name<input name="name" required data-test="key-name" /></label>
        <label>Role<select name="role" data-test="key-role"><option>viewer</option><option>operator</option><option>admin</option></select></label>
        <label>Expires in days (empty: never)<input name="expires_in_days" type="number" min="1" /></label>
        <button type="submit" class="primary" disabled={action.busy} data-test="create-key">Create key</button>
      </form>
      {created ? (
        <div class="card notice" role="status">
          <p>Copy the key now: it is not shown again.</p>
          <code class="secret" data-test="created-key">{created}</code>
          <button type="button" onClick={() => setCreated(null)}>Done</button>
        </div>
      ) : null}
      <ErrorBox error={loaded.error ?? action.error} />
      {!items ? (loaded.error ? null : <Loading />) : items.length === 0 ? <Empty>No API keys.</Empty> : (
        <div class="table-wrap">
          <table data-test="keys-table">
            <thead><tr><th>Name</th><th>Prefix</th><th>Role</th><th>State</th><th>Created</th><th>Last used</th><th /></tr></thead>
            <tbody>
              {items.map((k) => (
                <tr data-key={k.name}>
                  <td>{k.name}</td><td><code>{k.prefix}…</code></td><td>{k.role}</td><td><Status status={k.status} /></td>
                  <td>{timestamp(k.created_at)}</td><td>{timestamp(k.last_used_at)}</td>
                  <td>{k.status === "active" ? <button type="button" class="danger" data-test="revoke" disabled={action.busy} onClick={() => action.run(() => api("DELETE", `/v1/api-keys/${k.id}`), loaded.reload)}>Revoke</button> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Page>
  );
}
