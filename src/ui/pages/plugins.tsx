/** Plugins: state, health, restarts, last error; configuration forms from each plugin's JSON Schema (admin). */
import { useState } from "preact/hooks";
import { api, ApiError } from "../api.ts";
import { ErrorBox, Loading, Page, Status, useAction, useApi } from "../components.tsx";
import { can } from "../roles.ts";
import { buildConfig, displayValue, fieldsOf, issuesByField, type Field } from "../schema-form.ts";
import { session } from "../session.ts";

interface Plugin {
  id: string;
  pillar: string;
  version: string;
  state: string;
  enabled: boolean;
  restarts: number;
  last_error: string | null;
  health: { status: string; detail: string | null };
  config: Record<string, unknown>;
  secrets: Record<string, string>;
  config_schema: unknown;
}

function Input({ field, value, secretState, onInput }: { field: Field; value: unknown; secretState?: string; onInput: (text: string) => void }) {
  const set = (e: Event) => onInput((e.currentTarget as HTMLInputElement).value);
  if (field.kind === "boolean" || field.kind === "enum") {
    const options = field.kind === "boolean" ? ["true", "false"] : field.options!;
    return <select name={field.name} onChange={set} defaultValue={displayValue(field, value)}><option value="">(default)</option>{options.map((o) => <option value={o}>{o}</option>)}</select>;
  }
  if (field.secret) return <input name={field.name} type="password" autoComplete="new-password" placeholder={secretState === "set" ? "set — type to replace" : "not set"} onInput={set} />;
  return <input name={field.name} defaultValue={displayValue(field, value)} inputMode={field.kind === "integer" || field.kind === "number" ? "numeric" : undefined} onInput={set} />;
}

function ConfigForm({ plugin, done }: { plugin: Plugin; done: () => void }) {
  const fields = fieldsOf(plugin.config_schema, plugin.secrets);
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const action = useAction();
  const save = async (e: Event) => {
    e.preventDefault();
    const { config, errors: local } = buildConfig(fields, texts, plugin.config);
    setErrors(local);
    if (Object.keys(local).length > 0) return;
    await action.run(() => api("PUT", `/v1/plugins/${plugin.id}/config`, { config }).catch((error) => {
      if (error instanceof ApiError) setErrors(issuesByField(error.details));
      throw error;
    }), done);
  };
  return (
    <form class="form config" onSubmit={save} data-test={`config-${plugin.id}`}>
      {fields.map((f) => (
        <label>
          {f.name}{f.required ? " *" : ""}{f.secret ? " (secret, write-only)" : ""}
          <Input field={f} value={plugin.config[f.name]} secretState={plugin.secrets[f.name]} onInput={(text) => setTexts((t) => ({ ...t, [f.name]: text }))} />
          {f.hint ? <span class="muted small">{f.hint}</span> : null}
          {errors[f.name] ? <span class="field-error" role="alert" data-field={f.name}>{errors[f.name]}</span> : null}
        </label>
      ))}
      <ErrorBox error={action.error} />
      <div class="row"><button type="submit" class="primary" disabled={action.busy} data-test="save-config">Save configuration</button><button type="button" onClick={done}>Close</button></div>
    </form>
  );
}

export function Plugins() {
  const loaded = useApi<{ items: Plugin[] }>("/v1/plugins");
  const action = useAction();
  const [open, setOpen] = useState<string | null>(null);
  const admin = can(session.value?.role, "admin");
  const items = loaded.data?.items;
  return (
    <Page title="Plugins">
      <ErrorBox error={loaded.error ?? action.error} />
      {!items ? (loaded.error ? null : <Loading />) : items.map((p) => (
        <div class="card" data-plugin={p.id}>
          <div class="row spread">
            <h2>{p.id} <span class="muted small">{p.pillar} · v{p.version}</span></h2>
            <div class="row">
              <Status status={p.state} />
              {admin ? (
                <>
                  <button type="button" data-test="configure" onClick={() => setOpen(open === p.id ? null : p.id)}>Configure</button>
                  <button type="button" disabled={action.busy} onClick={() => action.run(() => api("POST", `/v1/plugins/${p.id}/${p.enabled ? "disable" : "enable"}`), loaded.reload)}>{p.enabled ? "Disable" : "Enable"}</button>
                </>
              ) : null}
            </div>
          </div>
          <p class="muted small">health {p.health.status}{p.health.detail ? ` (${p.health.detail})` : ""} · restarts {p.restarts}{p.last_error ? ` · last error: ${p.last_error}` : ""}</p>
          {open === p.id ? <ConfigForm plugin={p} done={() => { setOpen(null); loaded.reload(); }} /> : null}
        </div>
      ))}
    </Page>
  );
}
