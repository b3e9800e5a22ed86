/**
 * YouTube's resumable upload protocol (developers.google.com/youtube/v3/guides/using_resumable_upload_protocol):
 *
 * 1. POST {api}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status with the video's metadata
 *    and X-Upload-Content-Length/-Type → 200 and the session URI in `Location`.
 * 2. PUT the bytes to the session URI in chunks (a multiple of 256 KiB, except the last) with
 *    `Content-Range: bytes first-last/total` → 308 "Resume Incomplete" with `Range: bytes=0-N` (what YouTube
 *    holds), until the last one answers 200/201 with the video resource.
 * 3. After an interruption (connection lost, 5xx) ask the session what arrived — an empty PUT with
 *    `Content-Range: bytes *\/total` → 308 + Range (or 200/201 when it is all there) — and go on from there, with
 *    exponential backoff. A 404/410 means the session expired (about a week): a new one starts from byte 0.
 *
 * The session URI authorizes uploading to the session, so it is a secret: it goes to the kernel only as
 * progress (stored encrypted) and never into a message.
 */
import type { VodUploadParams, VodUploadProgress, VodUploadResult } from "../../src/plugin-runtime/pillars.ts";
import { PluginError } from "../../src/plugin-runtime/sdk.ts";
import type { TokenKeeper } from "../../src/plugin-runtime/shared/oauth-tokens.ts";
import { apiFailure, parseApiError } from "./api.ts";
import type { ChunkReader } from "./upload-source.ts";

/** YouTube's chunk granularity. */
export const UPLOAD_UNIT = 256 * 1024;
export const DEFAULT_CHUNK_BYTES = 32 * UPLOAD_UNIT;
/** Failed attempts in a row (no byte confirmed in between) before the upload gives up; the session is kept. */
export const MAX_FAILURES_IN_A_ROW = 8;

/** Bytes the session holds from a 308's `Range: bytes=0-N` (N + 1); no header: none yet. Pure. */
export function bytesHeld(range: string | null): number {
  if (!range) return 0;
  const m = /^bytes=0-(\d+)$/.exec(range.trim());
  if (!m) throw new PluginError("WE-PUB-003", `YouTube answered an unreadable upload Range header: ${range.slice(0, 64)}`);
  return Number(m[1]) + 1;
}

/** The Content-Range of bytes [start, end) of `total`; the status query's form when the range is empty. Pure. */
export function contentRange(start: number, end: number, total: number): string {
  return start >= end ? `bytes */${total}` : `bytes ${start}-${end - 1}/${total}`;
}

/** Wait before attempt `failures` + 1: 0.5 s doubling, at most 30 s. Pure. */
export function backoffMs(failures: number): number {
  return Math.min(30_000, 500 * 2 ** Math.max(0, failures - 1));
}

type Answer = { kind: "done"; videoId: string } | { kind: "incomplete"; held: number } | { kind: "expired" };

/** A failure worth resuming after (lost connection, 5xx, an access token refused once). */
class Interrupted extends Error {}

export interface UploadOptions {
  pluginId: string;
  baseUrl: string;
  tokens: TokenKeeper;
  reader: ChunkReader;
  chunkBytes: number;
  signal: AbortSignal;
  progress(p: VodUploadProgress): void;
  /** Is a URL one the plugin may send the access token to (https, http on loopback)? */
  isEndpointUrl(url: string): boolean;
}

export async function uploadVideo(o: UploadOptions, p: VodUploadParams): Promise<VodUploadResult> {
  if (!Number.isSafeInteger(p.size) || p.size <= 0) throw new PluginError("WE-REQ-001", `${o.pluginId}: size must be a positive byte count`);
  const total = p.size;
  let session = p.session && o.isEndpointUrl(p.session) ? p.session : undefined;
  let held = 0;
  // Resuming an earlier run: ask first, YouTube's count is the truth.
  let ask = Boolean(session);
  let failures = 0;
  let restarts = 0;
  let lastProblem = "";
  for (;;) {
    o.signal.throwIfAborted();
    let answer: Answer;
    try {
      if (!session) {
        session = await startSession(o, p);
        held = 0;
        o.progress({ session, bytes_confirmed: 0 });
      }
      answer = ask ? await send(o, session, total, held, undefined) : await send(o, session, total, held, await o.reader.read(held, Math.min(total, held + o.chunkBytes), o.signal));
    } catch (e) {
      if (!(e instanceof Interrupted)) throw e;
      failures++;
      lastProblem = e.message;
      if (failures >= MAX_FAILURES_IN_A_ROW) {
        throw new PluginError("WE-PUB-003", `${o.pluginId}: the upload made no progress in ${failures} attempts (last: ${lastProblem}); ${held} of ${total} bytes are on YouTube and the next try resumes from there`, {
          retryable: true,
          bytes_confirmed: held,
        });
      }
      await sleep(backoffMs(failures), o.signal);
      ask = true;
      continue;
    }
    ask = false;
    if (answer.kind === "done") return { video_id: answer.videoId, url: `https://www.youtube.com/watch?v=${encodeURIComponent(answer.videoId)}`, bytes: total };
    if (answer.kind === "expired") {
      // The session is gone (YouTube keeps one about a week): start again, but not forever.
      if (++restarts > 2) throw new PluginError("WE-PUB-003", `${o.pluginId}: YouTube dropped the upload session ${restarts} times; try again later`, { retryable: true });
      session = undefined;
      continue;
    }
    if (answer.held > total) throw new PluginError("WE-PUB-003", `${o.pluginId}: YouTube says it holds ${answer.held} bytes of a ${total}-byte file`);
    if (answer.held > held) failures = 0;
    held = answer.held;
    o.progress({ session, bytes_confirmed: held });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
}

const timeout = (signal: AbortSignal, ms: number) => AbortSignal.any([signal, AbortSignal.timeout(ms)]);

/** Step 1: the session URI for this video. */
async function startSession(o: UploadOptions, p: VodUploadParams): Promise<string> {
  const url = new URL(`${o.baseUrl.replace(/\/+$/, "")}/upload/youtube/v3/videos`);
  url.searchParams.set("uploadType", "resumable");
  url.searchParams.set("part", "snippet,status");
  const body = JSON.stringify({
    snippet: { title: p.title, description: p.description ?? "" },
    status: { privacyStatus: p.privacy, selfDeclaredMadeForKids: false },
  });
  for (let attempt = 0; ; attempt++) {
    const response = await request(o, "start the upload", url.toString(), {
      method: "POST",
      headers: { "content-type": "application/json; charset=UTF-8", "x-upload-content-length": String(p.size), "x-upload-content-type": p.content_type },
      body,
      signal: timeout(o.signal, 60_000),
    });
    const text = await response.text();
    if (response.status === 401 && attempt === 0) {
      o.tokens.invalidate();
      continue;
    }
    if (response.status >= 500) throw new Interrupted(`YouTube answered HTTP ${response.status} to starting the upload`);
    if (!response.ok) throw apiFailure(o.pluginId, "start the upload", parseApiError(response.status, text));
    const location = response.headers.get("location");
    if (!location || !o.isEndpointUrl(location)) throw new PluginError("WE-PUB-003", `${o.pluginId}: YouTube started the upload without a usable session URI`);
    return location;
  }
}

/** Step 2 (a chunk) or 3 (no chunk: the status query). */
async function send(o: UploadOptions, session: string, total: number, start: number, chunk: Uint8Array | undefined): Promise<Answer> {
  const end = start + (chunk?.length ?? 0);
  const response = await request(o, chunk ? "upload a chunk" : "ask what arrived", session, {
    method: "PUT",
    headers: { "content-range": contentRange(start, end, total), ...(chunk ? {} : { "content-length": "0" }) },
    body: chunk ?? "",
    signal: timeout(o.signal, chunk ? 300_000 : 60_000),
  });
  const text = await response.text();
  if (response.status === 200 || response.status === 201) {
    const id = (JSON.parse(text || "{}") as { id?: unknown }).id;
    if (typeof id !== "string" || !id) throw new PluginError("WE-PUB-003", `${o.pluginId}: YouTube finished the upload without a video id`);
    return { kind: "done", videoId: id };
  }
  if (response.status === 308) return { kind: "incomplete", held: bytesHeld(response.headers.get("range")) };
  if (response.status === 404 || response.status === 410) return { kind: "expired" };
  if (response.status === 401) {
    o.tokens.invalidate();
    throw new Interrupted("YouTube refused the access token");
  }
  if (response.status >= 500) throw new Interrupted(`YouTube answered HTTP ${response.status}`);
  throw apiFailure(o.pluginId, chunk ? "take the upload" : "resume the upload", parseApiError(response.status, text));
}

/** One request with the current access token; a lost connection is an interruption (never quoting the URL). */
async function request(o: UploadOptions, what: string, url: string, init: RequestInit & { headers: Record<string, string> }): Promise<Response> {
  const token = await o.tokens.accessToken();
  try {
    // A fresh connection per request: Bun silently resends a request whose pooled connection dropped, and a
    // chunk resent after a cut would start before what YouTube holds. After a cut the session is asked instead.
    return await fetch(url, { ...init, keepalive: false, headers: { ...init.headers, authorization: `Bearer ${token}` } });
  } catch (e) {
    if (o.signal.aborted) throw o.signal.reason;
    // The session URI is a credential: a URL in the runtime's message never reaches the publication's error.
    throw new Interrupted(`the connection failed while trying to ${what}: ${(e as Error).message.replace(/https?:\/\/\S+/g, "<url>")}`);
  }
}
