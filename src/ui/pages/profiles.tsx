/** Profiles: built-ins read-only; custom ones created, edited and deleted (admin), errors shown at the field. */
import { useState } from "preact/hooks";
import { api, ApiError } from "../api.ts";
import { Empty, ErrorBox, Loading, Page, useAction, useApi } from "../components.tsx";
import { can } from "../roles.ts";
import { issuesFromMessage } from "../schema-form.ts";
import { session } from "../session.ts";

interface Profile {
  id: string;
  name: string;
  description?: string;
  builtin: boolean;
  spec: Record<string, unknown>;
}

const TEMPLATE = { name: "My 540p", container: "mp4", video: { codec: "h264", height: 540, rate_control: { mode: "crf", crf: 23 } }, audio: { codec: "aac", bitrate_kbps: 128 } };

function Editor({ profile, done }: { profile: Profile | null; done: () => void }) {
  const action = useAction();
  const [id, setId] = useState(profile?.id ?? "");
  const { id: _drop, ...spec } = (profile?.spec ?? TEMPLATE) as Record<string, unknown>;
  const [text, setText] = useState(JSON.stringify(spec, null, 2));
  const fields = action.error instanceof ApiError ? issuesFromMessage(action.error.message) : {};
  const save = () =>
    action.run(async () => {
      const body = JSON.parse(text) as Record<string, unknown>;
      await (profile ? api("PUT", `/v1/profiles/${encodeURIComponent(profile.id)}`, body) : api("POST", "/v1/profiles", { ...body, id }));
    }, done);
  return (
    <form class="card form" onSubmit={(e) => { e.preventDefault(); void save(); }}>
      <h2>{profile ? `Edit ${profile.id}` : "New custom profile"}</h2>
      <label>Id<input value={id} disabled={profile !== null} onInput={(e) => setId((e.currentTarget as HTMLInputElement).value)} required /></label>
      <label>Specification (JSON: name, container, video, audio; docs/api.md "Custom profiles")
        <textarea rows={12} value={text} onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
      </label>
      {Object.entries(fields).map(([field, message]) => <p class="field-error" data-field={field}>{message}</p>)}
      <ErrorBox error={action.error} />
      <div class="row"><button type="submit" class="primary" disabled={action.busy}>Save</button><button type="button" onClick={done}>Close</button></div>
    </form>
  );
}

export function Profiles() {
  const loaded = useApi<{ items: Profile[] }>("/v1/profiles");
  const action = useAction();
  const [editing, setEditing] = useState<Profile | null | undefined>(undefined);
  const admin = can(session.value?.role, "admin");
  const items = loaded.data?.items;
  const close = () => {
    setEditing(undefined);
    loaded.reload();
  };
  return (
    <Page title="Profiles" actions={admin ? <button type="button" class="primary" onClick={() => setEditing(null)}>New profile</button> : null}>
      {editing !== undefined ? <Editor profile={editing} done={close} /> : null}
      <ErrorBox error={loaded.error ?? action.error} />
      {!items ? (loaded.error ? null : <Loading />) : (
        <div class="table-wrap">
          <table>
            <thead><tr><th>Id</th><th>Description</th><th>Kind</th>{admin ? <th /> : null}</tr></thead>
            <tbody>
              {items.map((p) => (
                <tr>
                  <td><code>{p.id}</code></td>
                  <td>{p.description ?? p.name}</td>
                  <td>{p.builtin ? "built-in" : "custom"}</td>
                  {admin ? <td>{p.builtin ? <span class="muted small">read-only</span> : <><button type="button" onClick={() => setEditing(p)}>Edit</button> <button type="button" class="danger" onClick={() => confirm(`Delete ${p.id}?`) && action.run(() => api("DELETE", `/v1/profiles/${encodeURIComponent(p.id)}`), loaded.reload)}>Delete</button></>}</td> : null}
                </tr>
              ))}
            </tbody>
          </table>
          {items.every((p) => p.builtin) ? <Empty>No custom profiles yet.{admin ? " Use New profile to add one." : ""}</Empty> : null}
        </div>
      )}
    </Page>
  );
}
