/** Sign in with an API key, or a username and password (auth-basic's POST /v1/auth/login). */
import { useState } from "preact/hooks";
import { api, ApiError } from "../api.ts";
import { ErrorBox } from "../components.tsx";
import { isRole } from "../roles.ts";
import { API_KEY_SESSION_MS, saveSession } from "../session.ts";

interface WhoAmI {
  id: string;
  name: string;
  role: string;
}

async function whoami(token: string): Promise<WhoAmI & { role: "viewer" | "operator" | "admin" }> {
  const me = await api<WhoAmI>("GET", "/v1/auth/whoami", undefined, token);
  if (!isRole(me.role)) throw new ApiError(0, "UI", `the server answered an unknown role ${me.role}`);
  return { ...me, role: me.role };
}

export function SignIn() {
  const [mode, setMode] = useState<"key" | "password">("key");
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(null);
    try {
      if (mode === "key") {
        const token = String(form.get("api_key") ?? "").trim();
        const me = await whoami(token);
        saveSession({ via: "api_key", token, expires_at: Date.now() + API_KEY_SESSION_MS, role: me.role, name: me.name, remember });
      } else {
        const t = await api<{ access_token: string; refresh_token: string; expires_in: number }>("POST", "/v1/auth/login", { username: form.get("username"), password: form.get("password") }, "");
        const me = await whoami(t.access_token);
        saveSession({ via: "password", token: t.access_token, refresh_token: t.refresh_token, expires_at: Date.now() + t.expires_in * 1000, role: me.role, name: me.name, remember });
      }
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in" id="main">
      <form class="card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to WebEncode</h1>
        <div class="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={mode === "key"} onClick={() => setMode("key")}>API key</button>
          <button type="button" role="tab" aria-selected={mode === "password"} onClick={() => setMode("password")} data-test="tab-password">Username and password</button>
        </div>
        {mode === "key" ? (
          <label>API key<input name="api_key" type="password" autoComplete="off" required placeholder="we_…" data-test="api-key" /></label>
        ) : (
          <>
            <label>Username<input name="username" autoComplete="username" required /></label>
            <label>Password<input name="password" type="password" autoComplete="current-password" required /></label>
          </>
        )}
        <label class="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember((e.currentTarget as HTMLInputElement).checked)} /> Remember me on this browser
        </label>
        <p class="muted small">Without "remember me" the session ends when this tab closes. Sessions expire; sign in again then.</p>
        <ErrorBox error={error} />
        <button type="submit" class="primary" disabled={busy} data-test="sign-in">Sign in</button>
      </form>
    </main>
  );
}
