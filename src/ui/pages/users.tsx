/** Password users of the auth-basic plugin (admin): create, change roles, disable, delete. */
import { api } from "../api.ts";
import { Empty, ErrorBox, Loading, Page, useAction, useApi } from "../components.tsx";

interface User {
  username: string;
  name?: string | null;
  roles: string[];
  disabled?: boolean;
}

export function Users() {
  const loaded = useApi<{ items: User[] }>("/v1/users");
  const action = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    const formElement = e.currentTarget as HTMLFormElement;
    const form = new FormData(formElement);
    void action.run(() => api("POST", "/v1/users", { username: form.get("username"), password: form.get("password"), roles: [form.get("role")] }), () => {
      formElement.reset();
      loaded.reload();
    });
  };
  const items = loaded.data?.items;
  return (
    <Page title="Users">
      <form class="card form inline" onSubmit={submit}>
        <label>Username<input name="username" required autoComplete="off" /></label>
        <label>Password<input name="password" type="password" required autoComplete="new-password" /></label>
        <label>Role<select name="role"><option>viewer</option><option>operator</option><option>admin</option></select></label>
        <button type="submit" class="primary" disabled={action.busy}>Create user</button>
      </form>
      <ErrorBox error={loaded.error ?? action.error} />
      {!items ? (loaded.error ? null : <Loading />) : items.length === 0 ? <Empty>No password users. Create one above; they sign in with username and password.</Empty> : (
        <table>
          <thead><tr><th>Username</th><th>Name</th><th>Roles</th><th>State</th><th /></tr></thead>
          <tbody>
            {items.map((u) => (
              <tr>
                <td>{u.username}</td><td>{u.name ?? ""}</td><td>{u.roles.join(", ")}</td><td>{u.disabled ? "disabled" : "active"}</td>
                <td>
                  <button type="button" disabled={action.busy} onClick={() => action.run(() => api("PUT", `/v1/users/${encodeURIComponent(u.username)}`, { disabled: !u.disabled }), loaded.reload)}>{u.disabled ? "Enable" : "Disable"}</button>{" "}
                  <button type="button" class="danger" disabled={action.busy} onClick={() => confirm(`Delete ${u.username}?`) && action.run(() => api("DELETE", `/v1/users/${encodeURIComponent(u.username)}`), loaded.reload)}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Page>
  );
}
