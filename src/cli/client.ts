/**
 * The REST client: every call of the CLI goes through `request`, which adds the bearer key and turns the
 * API's error envelope `{error: {code, message}}` into one CliError line with the right exit code (401/403
 * and unreachable servers: 4; any other refusal: 1).
 */
import { CliError, EXIT } from "./errors.ts";
import type { Target } from "./config.ts";

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** A raw body (an upload stream) sent as is, with these headers. */
  raw?: RequestInit["body"];
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** The one line shown for an API error: `WE-JOB-004: job … not found`. */
export function describeApiError(status: number, body: unknown): { code?: string; message: string } {
  const err = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (err && typeof err.code === "string" && typeof err.message === "string") return { code: err.code, message: `${err.code}: ${err.message}` };
  return { message: `HTTP ${status}${typeof body === "string" && body ? `: ${body.slice(0, 200)}` : ""}` };
}

/** Exit code for a refused request: credentials problems are "cannot authenticate" (4). */
export const exitForStatus = (status: number) => (status === 401 || status === 403 ? EXIT.unreachable : EXIT.failed);

export class ApiClient {
  /**
   * @param authorize for a password context (src/cli/session.ts): the bearer token, refreshed when needed;
   *   `force` after a 401. Not used when the target has an API key.
   */
  constructor(
    readonly target: Target,
    private readonly authorize?: (force: boolean) => Promise<string>,
  ) {}

  url(path: string, query?: RequestOptions["query"]): string {
    const u = new URL(`${this.target.url}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** A fetch with the key; network failures become exit 4 naming the server. */
  async fetch(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...opts.headers };
    const session = this.target.apiKey ? undefined : this.authorize;
    const token = this.target.apiKey ?? (await session?.(false));
    if (token) headers.authorization = `Bearer ${token}`;
    let body: RequestInit["body"] = opts.raw;
    if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    const send = async () => {
      try {
        return await fetch(this.url(path, opts.query), { method, headers, body, signal: opts.signal, redirect: "manual" });
      } catch (e) {
        if ((e as Error).name === "AbortError") throw e;
        throw new CliError(EXIT.unreachable, `cannot reach ${this.target.url}: ${(e as Error).message}`);
      }
    };
    const res = await send();
    // A session token that expired (or was revoked) since it was read: refresh once and resend. A streamed
    // upload body cannot be sent twice; it started with a fresh token anyway.
    if (res.status !== 401 || !session || opts.raw !== undefined) return res;
    await res.body?.cancel();
    headers.authorization = `Bearer ${await session(true)}`;
    return send();
  }

  /** Throws the envelope's error as a CliError when `res` is not a success. */
  async check(res: Response): Promise<Response> {
    if (res.ok) return res;
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: shown as text
    }
    const { code, message } = describeApiError(res.status, body);
    throw new CliError(exitForStatus(res.status), message, code);
  }

  /** A JSON call: the parsed answer (undefined for 204). */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.check(await this.fetch(method, path, opts));
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  get = <T>(path: string, query?: RequestOptions["query"]) => this.request<T>("GET", path, { query });
  post = <T>(path: string, body?: unknown) => this.request<T>("POST", path, { body });
  del = (path: string) => this.request<void>("DELETE", path);
}
