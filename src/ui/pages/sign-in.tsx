/**
 * Sign in with an API key, a username and password (auth-basic's POST /v1/auth/login), or through the
 * OpenID Connect provider when the kernel has one (oidc.ts: the provider sends the browser back here).
 */
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api.ts";
import { ErrorBox } from "../components.tsx";
import { callbackOf, finishSignIn, type OidcProviderInfo, startSignIn } from "../oidc.ts";
import { isRole } from "../roles.ts";
import { navigate } from "../router.ts";
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

/** Back from the provider (/sign-in?code=…&state=…): the token exchange, then the overview. */
async function completeOidc(search: string): Promise<void> {
  const callback = callbackOf(search);
  if (!callback) return;
  history.replaceState(null, "", "/sign-in"); // the code is single-use: never left in the address bar or history
  if ("error" in callback) throw new ApiError(0, "OIDC", `the provider did not sign you in: ${callback.error}`);
  const t = await finishSignIn(callback);
  const me = await whoami(t.access_token);
  navigate("/", true);
  // No refresh token: the session ends with the provider's access token (sign in again then).
  saveSession({ via: "oidc", token: t.access_token, expires_at: Date.now() + t.expires_in * 1000, role: me.role, name: me.name, remember: t.remember });
}

export function SignIn() {
  const [mode, setMode] = useState<"key" | "password">("key");
  const [remember, setRemember] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [oidc, setOidc] = useState<OidcProviderInfo | null>(null);

  useEffect(() => {
    api<{ oidc: OidcProviderInfo | null }>("GET", "/v1/auth/providers", undefined, "").then((p) => setOidc(p.oidc), () => setOidc(null));
    if (location.pathname !== "/sign-in" || !location.search) return;
    setBusy(true);
    completeOidc(location.search).catch(setError).finally(() => setBusy(false));
  }, []);

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
        {oidc ? (
          <button type="button" disabled={busy} data-test="sign-in-oidc" onClick={() => startSignIn(oidc, remember).catch(setError)}>
            Sign in with {oidc.name}
          </button>
        ) : null}
      </form>
    </main>
  );
}
