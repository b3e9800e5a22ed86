/**
 * Password logins (auth-basic, docs/security.md): the context keeps a refresh token and the current access
 * token. Before a call whose access token is missing or about to expire, and once after a 401, the refresh
 * token is exchanged (`POST /v1/auth/refresh`, which rotates it) and both are saved back to the config file.
 */
import { CliError, EXIT } from "./errors.ts";
import { type Context, readConfig, writeConfig } from "./config.ts";

export interface Tokens {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

/** A token with less than this left is refreshed before use: a call or a stream must not start expired. */
const MARGIN_MS = 60_000;

/** Whether the context's access token must be refreshed before use (pure). */
export function needsRefresh(ctx: Pick<Context, "access_token" | "access_expires_at">, now: number): boolean {
  if (!ctx.access_token || !ctx.access_expires_at) return true;
  const exp = Date.parse(ctx.access_expires_at);
  return !Number.isFinite(exp) || exp - now < MARGIN_MS;
}

/** The context's fields after a login or refresh answered `t` at `now` (pure). */
export const withTokens = (ctx: Context, tokens: Tokens, now: number): Context => ({
  ...ctx,
  refresh_token: tokens.refresh_token,
  access_token: tokens.access_token,
  access_expires_at: new Date(now + tokens.expires_in * 1000).toISOString(),
});

/** Asks the server for tokens; a refusal means the session is over (exit 4, log in again). */
export async function postTokens(url: string, path: "/v1/auth/login" | "/v1/auth/refresh", body: unknown): Promise<Tokens> {
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  } catch (e) {
    throw new CliError(EXIT.unreachable, `cannot reach ${url}: ${(e as Error).message}`);
  }
  const answer = (await res.json().catch(() => undefined)) as (Tokens & { error?: { code: string; message: string } }) | undefined;
  if (res.ok && answer?.access_token) return answer;
  const err = answer?.error;
  const what = path === "/v1/auth/login" ? "login refused" : "the session has ended; run `webencode login` again";
  throw new CliError(res.status >= 500 ? EXIT.failed : EXIT.unreachable, `${what}${err ? ` (${err.code}: ${err.message})` : ` (HTTP ${res.status})`}`, err?.code);
}

/** The bearer token of a password context, refreshed and saved when needed (`force`: after a 401). */
export function sessionAuthorizer(configPath: string, name: string): (force: boolean) => Promise<string> {
  return async (force) => {
    const cfg = readConfig(configPath);
    const ctx = cfg.contexts[name];
    if (!ctx?.refresh_token) throw new CliError(EXIT.unreachable, `context ${name} has no session; run \`webencode login\` again`);
    if (!force && !needsRefresh(ctx, Date.now())) return ctx.access_token!;
    const t = await postTokens(ctx.url, "/v1/auth/refresh", { refresh_token: ctx.refresh_token });
    cfg.contexts[name] = withTokens(ctx, t, Date.now());
    writeConfig(configPath, cfg);
    return t.access_token;
  };
}
