/**
 * Sign-in through the OpenID Connect provider: authorization code with PKCE (RFC 7636), as a public client
 * in the browser. The kernel says where the provider is (`GET /v1/auth/providers`); the verifier and state
 * wait in sessionStorage (this tab only) while the browser is at the provider, and are used once. The access
 * token the provider returns is what the dashboard sends to the API; auth-oidc checks it on every call.
 */

export interface OidcProviderInfo {
  name: string;
  issuer: string;
  client_id: string;
  authorization_endpoint: string;
  token_endpoint: string;
  scope: string;
}

export interface PendingSignIn {
  state: string;
  verifier: string;
  redirect_uri: string;
  token_endpoint: string;
  client_id: string;
  remember: boolean;
}

const PENDING_KEY = "webencode.oidc.pending";

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomToken(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** S256 code challenge of a verifier. */
export async function codeChallenge(verifier: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
}

/** The provider's authorization URL for this request (pure). */
export function authorizationUrl(provider: OidcProviderInfo, request: { redirect_uri: string; state: string; challenge: string }): string {
  const url = new URL(provider.authorization_endpoint);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", provider.client_id);
  url.searchParams.set("redirect_uri", request.redirect_uri);
  url.searchParams.set("scope", provider.scope);
  url.searchParams.set("state", request.state);
  url.searchParams.set("code_challenge", request.challenge);
  url.searchParams.set("code_challenge_method", "S256");
  return url.href;
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

/** `code`/`state` or the provider's `error` from a redirect back (pure); null when the URL is no such answer. */
export function callbackOf(search: string): { code: string; state: string } | { error: string } | null {
  const query = new URLSearchParams(search);
  const error = query.get("error");
  if (error) return { error: `${error}${query.get("error_description") ? `: ${query.get("error_description")}` : ""}` };
  const code = query.get("code");
  const state = query.get("state");
  return code && state ? { code, state } : null;
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
