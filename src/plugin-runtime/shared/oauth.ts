/**
 * OAuth 2.0 authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636) against a provider's authorization and
 * token endpoints. Pure helpers plus the two token-endpoint calls; no token is ever put in an error message.
 */
import { createHash, randomBytes } from "node:crypto";
import { PluginError } from "../sdk.ts";

export interface OAuthClient {
  clientId: string;
  clientSecret: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  /** Label used in messages ("YouTube", "Twitch"). */
  platform: string;
  pluginId: string;
  timeoutMs?: number;
  /**
   * True when a failed token answer means the grant itself is refused (reconnect). Default: RFC 6749's
   * `invalid_grant`. Twitch answers `{"status":400,"message":"Invalid refresh token"}` instead.
   */
  grantRefused?: (status: number, body: Record<string, unknown>) => boolean;
}

export interface TokenAnswer {
  access_token: string;
  /** Seconds. */
  expires_in: number;
  /** Present when the provider issues (or rotates) one. */
  refresh_token?: string;
  scope?: string;
}

/** A PKCE verifier (43 URL-safe characters from 32 random bytes) and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: pkceChallenge(verifier) };
}

export function pkceChallenge(verifier: string): string {
  return createHash("sha256").update(verifier).digest("base64url");
}

/** Where the admin's browser goes to grant access. Pure. */
export function authorizationUrl(client: OAuthClient, p: { redirectUri: string; state: string; codeChallenge: string; scopes: readonly string[]; extra?: Record<string, string> }): string {
  const url = new URL(client.authorizationEndpoint);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", client.clientId);
  url.searchParams.set("redirect_uri", p.redirectUri);
  url.searchParams.set("scope", p.scopes.join(" "));
  url.searchParams.set("state", p.state);
  url.searchParams.set("code_challenge", p.codeChallenge);
  url.searchParams.set("code_challenge_method", "S256");
  for (const [k, v] of Object.entries(p.extra ?? {})) url.searchParams.set(k, v);
  return url.toString();
}

/** Thrown when the provider refuses the refresh token or code itself: the account must be connected again. */
export class GrantRefused extends PluginError {
  constructor(pluginId: string, platform: string, providerMessage: string) {
    super("WE-PUB-001", `${pluginId}: the ${platform} account must be reconnected: ${providerMessage}`, { reconnect: true });
  }
}

/** POSTs a grant to the token endpoint; `invalid_grant` → GrantRefused (terminal), other failures → WE-PUB-003. */
export async function requestToken(client: OAuthClient, grant: Record<string, string>): Promise<TokenAnswer> {
  const body = new URLSearchParams({ ...grant, client_id: client.clientId, client_secret: client.clientSecret });
  let response: Response;
  try {
    response = await fetch(client.tokenEndpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body,
      signal: AbortSignal.timeout(client.timeoutMs ?? 15_000),
    });
  } catch (e) {
    throw new PluginError("WE-PUB-003", `${client.pluginId}: the ${client.platform} token endpoint is unreachable: ${(e as Error).message}`, { retryable: true });
  }
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // A proxy's HTML error page: reported by status below.
  }
  if (!response.ok) {
    const error = typeof json.error === "string" ? json.error : "";
    const description = typeof json.error_description === "string" ? json.error_description : "";
    const message = typeof json.message === "string" ? json.message : "";
    const providerMessage = [error, description || message].filter(Boolean).join(": ") || `HTTP ${response.status}`;
    // invalid_grant: revoked, expired, or issued to another client. Retrying cannot help.
    if (client.grantRefused ? client.grantRefused(response.status, json) : error === "invalid_grant") throw new GrantRefused(client.pluginId, client.platform, providerMessage);
    throw new PluginError("WE-PUB-003", `${client.pluginId}: the ${client.platform} token endpoint refused: ${providerMessage}`, {
      status: response.status,
      reason: error || undefined,
      retryable: response.status >= 500,
    });
  }
  if (typeof json.access_token !== "string" || typeof json.expires_in !== "number") {
    throw new PluginError("WE-PUB-003", `${client.pluginId}: the ${client.platform} token endpoint answered without access_token/expires_in`, { status: response.status });
  }
  return {
    access_token: json.access_token,
    expires_in: json.expires_in,
    ...(typeof json.refresh_token === "string" && json.refresh_token ? { refresh_token: json.refresh_token } : {}),
    ...(typeof json.scope === "string" ? { scope: json.scope } : {}),
  };
}
