/**
 * Sign-in through the OpenID Connect provider: authorization code with PKCE (RFC 7636), as a public client
 * in the browser. The kernel says where the provider is (`GET /v1/auth/providers`); the verifier and state
 * wait in sessionStorage (this tab only) while the browser is at the provider, and are used once. The access
 * token the provider returns is what the dashboard sends to the API; auth-oidc checks it on every call.
 */
import { authorizationUrl, base64url, codeChallenge, type OidcProviderInfo } from "./oidc-url.ts";

export type { OidcProviderInfo } from "./oidc-url.ts";
export { callbackOf } from "./oidc-url.ts";

export interface PendingSignIn {
  state: string;
  verifier: string;
  redirect_uri: string;
  token_endpoint: string;
  client_id: string;
  remember: boolean;
}

const PENDING_KEY = "webencode.oidc.pending";

function randomToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Leaves for the provider; it sends the browser back to /sign-in with `code` and `state`. */
export async function startSignIn(provider: OidcProviderInfo, remember: boolean): Promise<void> {
  const pending: PendingSignIn = {
    state: randomToken(),
    verifier: randomToken(),
    redirect_uri: `${location.origin}/sign-in`,
    token_endpoint: provider.token_endpoint,
    client_id: provider.client_id,
    remember,
  };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  location.assign(authorizationUrl(provider, { redirect_uri: pending.redirect_uri, state: pending.state, challenge: await codeChallenge(pending.verifier) }));
}

/** Trades the code for an access token at the provider (the verifier proves this tab started the sign-in). */
export async function finishSignIn(callback: { code: string; state: string }): Promise<{ access_token: string; expires_in: number; remember: boolean }> {
  const text = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY); // used once, whatever happens
  const pending = text ? (JSON.parse(text) as PendingSignIn) : null;
  if (!pending || pending.state !== callback.state) throw new Error("this sign-in was not started in this tab (state mismatch); sign in again");
  const response = await fetch(pending.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: callback.code, redirect_uri: pending.redirect_uri, client_id: pending.client_id, code_verifier: pending.verifier }),
  });
  const body = (await response.json().catch(() => null)) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } | null;
  if (!response.ok || typeof body?.access_token !== "string") {
    throw new Error(`the provider refused the sign-in (${String(body?.error ?? `HTTP ${response.status}`)}${body?.error_description ? `: ${String(body.error_description)}` : ""})`);
  }
  const expiresIn = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 300;
  return { access_token: body.access_token, expires_in: expiresIn, remember: pending.remember };
}
