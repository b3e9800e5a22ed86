/**
 * The pure parts of the OIDC sign-in (oidc.ts): the PKCE challenge, the provider's authorization URL and
 * reading the redirect back. No browser globals here, so unit tests import it.
 */

export interface OidcProviderInfo {
  name: string;
  issuer: string;
  client_id: string;
  authorization_endpoint: string;
  token_endpoint: string;
  scope: string;
}

export function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
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

/** `code`/`state` or the provider's `error` from a redirect back (pure); null when the URL is no such answer. */
export function callbackOf(search: string): { code: string; state: string } | { error: string } | null {
  const query = new URLSearchParams(search);
  const error = query.get("error");
  if (error) return { error: `${error}${query.get("error_description") ? `: ${query.get("error_description")}` : ""}` };
  const code = query.get("code");
  const state = query.get("state");
  return code && state ? { code, state } : null;
}

