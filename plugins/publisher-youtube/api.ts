/**
 * The YouTube Data API v3 calls the plugin makes, with the platform's errors mapped to the catalogue: 403
 * quotaExceeded/rateLimitExceeded → WE-PUB-002 (reported as a quota problem, not retried here), a 401 → one
 * refresh of the access token and one retry, anything else → WE-PUB-003 with YouTube's own message.
 */
import { PluginError } from "../../src/plugin-runtime/sdk.ts";
import type { TokenKeeper } from "../../src/plugin-runtime/shared/oauth-tokens.ts";

const QUOTA_REASONS = new Set(["quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded", "dailyLimitExceeded"]);

export interface ApiError {
  status: number;
  reason: string | undefined;
  message: string;
}

/** YouTube's error body `{error: {code, message, errors: [{reason}]}}` → status, first reason, message. Pure. */
export function parseApiError(status: number, text: string): ApiError {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown; errors?: Array<{ reason?: unknown }> } };
    const reason = body.error?.errors?.[0]?.reason;
    const message = body.error?.message;
    return { status, reason: typeof reason === "string" ? reason : undefined, message: typeof message === "string" ? message : `HTTP ${status}` };
  } catch {
    return { status, reason: undefined, message: `HTTP ${status}` };
  }
}

/** The catalogue error for a failed API call. Pure. */
export function apiFailure(pluginId: string, what: string, error: ApiError): PluginError {
  if (error.reason && QUOTA_REASONS.has(error.reason)) {
    return new PluginError("WE-PUB-002", `${pluginId}: YouTube API quota exceeded (${error.reason}) while trying to ${what}: ${error.message}`, { status: error.status, reason: error.reason });
  }
  return new PluginError("WE-PUB-003", `${pluginId}: YouTube refused to ${what} (HTTP ${error.status}${error.reason ? `, ${error.reason}` : ""}): ${error.message}`, {
    status: error.status,
    reason: error.reason,
    retryable: error.status >= 500,
  });
}

export class YouTubeApi {
  constructor(
    private readonly opts: { pluginId: string; baseUrl: string; tokens: TokenKeeper; timeoutMs?: number },
  ) {}

  /** One JSON call; `what` names the action in errors ("create the broadcast"). */
  async call<T>(what: string, method: string, path: string, query: Record<string, string>, body?: unknown, signal?: AbortSignal): Promise<T> {
    const url = new URL(`${this.opts.baseUrl.replace(/\/+$/, "")}/youtube/v3/${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    for (let attempt = 0; ; attempt++) {
      const token = await this.opts.tokens.accessToken();
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(this.opts.timeoutMs ?? 30_000)]) : AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
        });
      } catch (e) {
        throw new PluginError("WE-PUB-003", `${this.opts.pluginId}: YouTube is unreachable while trying to ${what}: ${(e as Error).message}`, { retryable: true });
      }
      const text = await response.text();
      if (response.ok) return (text ? JSON.parse(text) : {}) as T;
      // A token revoked or expired early: refresh once. A second 401 is YouTube's answer, not a stale token.
      if (response.status === 401 && attempt === 0) {
        this.opts.tokens.invalidate();
        continue;
      }
      throw apiFailure(this.opts.pluginId, what, parseApiError(response.status, text));
    }
  }
}

export interface LiveBroadcast {
  id: string;
}

export interface LiveStream {
  id: string;
  cdn?: { ingestionInfo?: { ingestionAddress?: string; rtmpsIngestionAddress?: string; streamName?: string } };
}
