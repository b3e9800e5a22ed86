/**
 * What the dashboard needs to sign a user in through the OpenID Connect provider (authorization code with
 * PKCE, docs/ui/README.md): the provider's authorization and token endpoints (from its discovery document)
 * and the client id, when the auth-oidc plugin is enabled with an issuer. The browser talks to the provider
 * itself; the page's Content-Security-Policy lets it reach that one origin and nothing else.
 */
import type { KernelContext } from "../context.ts";

export interface OidcSignIn {
  /** Shown on the button: "Sign in with <name>". */
  name: string;
  issuer: string;
  client_id: string;
  authorization_endpoint: string;
  token_endpoint: string;
  scope: string;
}

/** Discovery documents are fetched at most this often (a provider that moves its endpoints is picked up). */
const CACHE_MS = 60_000;
const DISCOVERY_TIMEOUT_MS = 5_000;

interface Discovered {
  at: number;
  issuer: string;
  value: { authorization_endpoint: string; token_endpoint: string } | null;
}

/** The origin of an http(s) URL; undefined for anything else (pure). */
export function originOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.origin : undefined;
  } catch {
    return undefined;
  }
}

/** The endpoints of a discovery document when both are http(s) URLs (pure). */
export function endpointsOf(document: unknown): Discovered["value"] {
  if (!document || typeof document !== "object") return null;
  const { authorization_endpoint: authorization, token_endpoint: token } = document as Record<string, unknown>;
  if (typeof authorization !== "string" || typeof token !== "string" || !originOf(authorization) || !originOf(token)) return null;
  return { authorization_endpoint: authorization, token_endpoint: token };
}

export class OidcSignInInfo {
  private cached: Discovered | undefined;

  constructor(private readonly ctx: KernelContext) {}

  /** The sign-in description, or null when OIDC sign-in is off or the provider cannot be discovered now. */
  async get(): Promise<OidcSignIn | null> {
    const settings = await this.ctx.pluginSettings.get("auth-oidc");
    if (!settings?.enabled) return null;
    const issuer = stringOr(settings.config.issuer_url, this.ctx.config.OIDC_ISSUER_URL);
    const clientId = stringOr(settings.config.client_id, this.ctx.config.OIDC_CLIENT_ID);
    if (!issuer || !clientId) return null;
    const endpoints = await this.discover(issuer.replace(/\/+$/, ""));
    if (!endpoints) return null;
    return { name: this.ctx.config.OIDC_PROVIDER_NAME, issuer, client_id: clientId, ...endpoints, scope: "openid profile" };
  }

  /** The origins the page may connect and submit to besides its own (the token and authorization endpoints). */
  async origins(): Promise<string[]> {
    const info = await this.get().catch(() => null);
    if (!info) return [];
    return [...new Set([info.authorization_endpoint, info.token_endpoint].map(originOf).filter((o): o is string => Boolean(o)))];
  }

  private async discover(issuer: string): Promise<Discovered["value"]> {
    if (this.cached && this.cached.issuer === issuer && Date.now() - this.cached.at < CACHE_MS) return this.cached.value;
    let value: Discovered["value"] = null;
    try {
      const response = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS) });
      if (response.ok) value = endpointsOf(await response.json());
    } catch (error) {
      this.ctx.logger.warn({ issuer, error: (error as Error).message }, "OIDC discovery for the dashboard's sign-in failed");
    }
    this.cached = { at: Date.now(), issuer, value };
    return value;
  }
}

function stringOr(value: unknown, fallback: string | undefined): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : fallback;
}

const perKernel = new WeakMap<KernelContext, OidcSignInInfo>();

/** One per kernel context, shared by `GET /v1/auth/providers` and the page's CSP (one discovery cache). */
export function oidcSignIn(ctx: KernelContext): OidcSignInInfo {
  let info = perKernel.get(ctx);
  if (!info) perKernel.set(ctx, (info = new OidcSignInInfo(ctx)));
  return info;
}
