/**
 * The dashboard's only way to the server: the public REST API (/v1) and its Server-Sent Events. Every
 * failure becomes an ApiError carrying the API's error code and message, which the pages show as they are.
 */
import { expireIfDue, saveSession, session, signOut } from "./session.ts";
import type { PlatformEvent } from "./job-view.ts";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  const body = (await response.json().catch(() => null)) as { error?: { code?: string; message?: string; details?: unknown } } | null;
  const e = body?.error;
  return new ApiError(response.status, e?.code ?? `HTTP ${response.status}`, e?.message ?? response.statusText, e?.details);
}

/** Renews a password session with its refresh token; false when it cannot (the user signs in again). */
async function refresh(): Promise<boolean> {
  const s = session.value;
  if (!s?.refresh_token) return false;
  const response = await fetch("/v1/auth/refresh", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: s.refresh_token }) });
  if (!response.ok) return false;
  const t = (await response.json()) as { access_token: string; refresh_token: string; expires_in: number };
  saveSession({ ...s, token: t.access_token, refresh_token: t.refresh_token, expires_at: Date.now() + t.expires_in * 1000 });
  return true;
}

function headers(token: string | undefined, body: unknown): Record<string, string> {
  const h: Record<string, string> = {};
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h["content-type"] = "application/json";
  return h;
}

/** One API call; JSON in, JSON out (undefined for 204). */
export async function api<T = unknown>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  expireIfDue();
  const s = session.value;
  if (s?.refresh_token && s.expires_at - Date.now() < 30_000) await refresh();
  const send = () => fetch(path, { method, headers: headers(token ?? session.value?.token, body), body: body === undefined ? undefined : JSON.stringify(body) });
  let response = await send();
  if (response.status === 401 && !token && (await refresh())) response = await send();
  if (response.status === 401 && !token && session.value) signOut();
  if (!response.ok) throw await errorOf(response);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

/** A text answer (GET /metrics: Prometheus text), with the same credentials and errors as api(). */
export async function apiText(path: string): Promise<string> {
  const response = await fetch(path, { headers: headers(session.value?.token, undefined) });
  if (!response.ok) throw await errorOf(response);
  return response.text();
}

export interface Upload {
  promise: Promise<{ source_url: string; filename: string; size_bytes: number }>;
  cancel(): void;
}

/**
 * Streams a file to POST /v1/files as the raw body (never read into memory here), reporting progress;
 * cancel() aborts the transfer (the server drops the partial file).
 */
export function uploadFile(file: File, onProgress: (fraction: number) => void): Upload {
  const request = new XMLHttpRequest();
  const promise = new Promise<{ source_url: string; filename: string; size_bytes: number }>((resolve, reject) => {
    request.open("POST", `/v1/files?filename=${encodeURIComponent(file.name)}`);
    request.setRequestHeader("authorization", `Bearer ${session.value?.token ?? ""}`);
    request.setRequestHeader("content-type", "application/octet-stream");
    request.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    request.onload = () => {
      const body = JSON.parse(request.responseText || "null");
      if (request.status >= 200 && request.status < 300) resolve(body);
      else reject(new ApiError(request.status, body?.error?.code ?? `HTTP ${request.status}`, body?.error?.message ?? "upload failed", body?.error?.details));
    };
    request.onerror = () => reject(new ApiError(0, "NETWORK", "the upload could not reach the server"));
    request.onabort = () => reject(new ApiError(0, "CANCELLED", "upload cancelled"));
    request.send(file);
  });
  return { promise, cancel: () => request.abort() };
}

export const EVENT_TYPES = [
  "job.created", "job.started", "job.processing", "job.packaging", "job.completed", "job.failed", "job.cancelled", "job.queued", "job.progress",
  "task.queued", "task.leased", "task.completed", "task.failed", "task.cancelled",
  "worker.joined", "worker.offline", "worker.draining", "worker.undrained", "plugin.state_changed",
  "stream.started", "stream.ended",
];

/**
 * Follows GET /v1/events. Browsers' EventSource cannot send headers, so it carries a stream token
 * (POST /v1/events/tokens). EventSource reconnects by itself with Last-Event-ID; when it gives up (the token
 * expired, the server restarted) a new token is fetched and the stream reopened after the last id seen, so no
 * stored event is missed. Returns a function that closes it.
 */
export function followEvents(filter: Record<string, string>, onEvent: (event: PlatformEvent) => void, onReset?: () => void): () => void {
  let closed = false;
  let source: EventSource | undefined;
  let lastId = filter.last_event_id ?? "";
  const open = async () => {
    if (closed) return;
    const { token } = await api<{ token: string }>("POST", "/v1/events/tokens", {}).catch(() => ({ token: "" }));
    if (closed || !token) return void (closed || setTimeout(open, 5000));
    const params = new URLSearchParams({ ...filter, access_token: token });
    if (lastId) params.set("last_event_id", lastId);
    source = new EventSource(`/v1/events?${params}`);
    const handle = (m: MessageEvent) => {
      if (m.lastEventId) lastId = m.lastEventId;
      onEvent(JSON.parse(m.data) as PlatformEvent);
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, handle as EventListener);
    source.addEventListener("reset", () => onReset?.());
    source.onerror = () => {
      if (source?.readyState !== EventSource.CLOSED) return;
      setTimeout(open, 2000);
    };
  };
  void open();
  return () => {
    closed = true;
    source?.close();
  };
}
