/**
 * The typed methods of each pillar: what a plugin implements and what the host calls. Parameter and
 * result names are snake_case because they are the wire format (docs/plugins.md).
 */
import type { HealthResult } from "./protocol.ts";

/** Per-call context inside a plugin: cancellation and progress notifications. */
export interface CallContext {
  signal: AbortSignal;
  progress(data: unknown): void;
}

export interface PluginBase {
  health?(): Promise<HealthResult> | HealthResult;
  close?(): Promise<void> | void;
}

// ---- storage ------------------------------------------------------------------------------------------

export interface ObjectInfo {
  key: string;
  size: number;
  modified: string;
  etag?: string;
}

export interface StoragePlugin extends PluginBase {
  /**
   * Copies a local file into storage at `key` (atomically: readers never see a partial object). With `move`,
   * the caller hands the file over: the plugin may rename it into place instead of copying (one write of
   * the bytes, not two) and removes it when done.
   */
  put_file(p: { key: string; path: string; content_type?: string; move?: boolean }, ctx: CallContext): Promise<{ size: number; etag?: string }>;
  /** Copies the object to a local file path (atomically). */
  get_file(p: { key: string; path: string }, ctx: CallContext): Promise<{ size: number }>;
  /** WE-STO-001 when absent. */
  stat(p: { key: string }): Promise<ObjectInfo>;
  /** Keys under `prefix` in lexical order, at most `limit` (default 1000), continuing after `cursor`. */
  list(p: { prefix: string; cursor?: string; limit?: number }): Promise<{ items: ObjectInfo[]; next_cursor?: string }>;
  delete(p: { key: string }): Promise<{ deleted: boolean }>;
  delete_prefix(p: { prefix: string }): Promise<{ deleted: number }>;
  /**
   * A URL to read the object, valid for `expires_in` seconds. With `scope_prefix`, the URL's credential is
   * valid for every key under that prefix, so relative URLs inside an HLS playlist resolve.
   */
  read_url(p: { key: string; expires_in: number; scope_prefix?: string }): Promise<{ url: string; expires_at: string }>;
  /** A URL to upload the object with a single request (`method`, `headers`), valid for `expires_in` s. */
  write_url(p: { key: string; expires_in: number; content_type?: string }): Promise<{ url: string; method: string; headers: Record<string, string>; expires_at: string }>;
  /** A path FFmpeg on this host can read directly, or null when the object is not on a local filesystem. */
  local_path(p: { key: string }): Promise<{ path: string | null }>;
}

// ---- encoder ------------------------------------------------------------------------------------------

export interface TranscodeParams {
  /** FFmpeg arguments (without the binary), one token per element, built by src/media's pure builders. */
  args: string[];
  /** Media seconds the output covers: progress is out_time / duration. */
  duration_s?: number;
  /** Kill FFmpeg (SIGTERM, then SIGKILL) after this long. */
  timeout_ms?: number;
  cwd?: string;
}

export interface TranscodeProgress {
  /** 0–100 */
  percent: number;
  out_time_s: number;
  fps?: number;
  /** × realtime */
  speed?: number;
  frame?: number;
  /** Frames FFmpeg dropped so far (its `drop_frames`), only when > 0: a live transcode that cannot keep up drops. */
  drop_frames?: number;
}

export interface TranscodeResult {
  ok: boolean;
  exit_code: number | null;
  signal: string | null;
  argv: string[];
  /** Last ~50 lines of stderr. */
  stderr_tail: string;
  elapsed_ms: number;
  cancelled: boolean;
  timed_out: boolean;
}

export interface ProbeParams {
  /** A URL (http(s)) or a local path. */
  input: string;
  /** Also index keyframes from packet flags (no decoding). */
  keyframes?: boolean;
  timeout_ms?: number;
}

export interface EncoderPlugin extends PluginBase {
  capabilities(): Promise<Record<string, unknown>>;
  /** Raw ffprobe JSON (format + streams) plus `keyframes` (pts seconds) and `packets` count when asked. */
  probe(p: ProbeParams, ctx: CallContext): Promise<Record<string, unknown>>;
  transcode(p: TranscodeParams, ctx: CallContext): Promise<TranscodeResult>;
}

// ---- auth ---------------------------------------------------------------------------------------------

/** Who a token belongs to, as an auth plugin sees it. `roles` are WebEncode roles (viewer/operator/admin). */
export interface AuthIdentity {
  subject: string;
  name?: string;
  roles: string[];
  /** ISO 8601; when the token stops being valid (callers cache no longer than this). */
  expires_at?: string;
}

export interface AuthTokens {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  /** Seconds until access_token expires. */
  expires_in: number;
}

/**
 * An auth plugin. The kernel tries the enabled ones in routing-priority order: WE-AUTH-001 means "not a
 * token I accept (unknown issuer, bad signature, unknown user)" and the next plugin is tried; WE-AUTH-002
 * (expired) stops the search with 401; WE-AUTH-003 means a valid identity with no WebEncode role (403);
 * WE-AUTH-005 means the plugin's provider is unreachable for a token it would otherwise judge.
 */
export interface AuthPlugin extends PluginBase {
  authenticate(p: { token: string }): Promise<AuthIdentity>;
}

/** auth-basic: local users with passwords. Bad credentials → WE-AUTH-001 with one generic message. */
export interface PasswordAuthPlugin extends AuthPlugin {
  login(p: { username: string; password: string }): Promise<AuthTokens>;
  /** Rotates: answers a new refresh token too. */
  refresh(p: { refresh_token: string }): Promise<AuthTokens>;
  /** argon2id; the kernel stores the hash in the plugin's configuration. */
  hash_password(p: { password: string }): Promise<{ hash: string }>;
}

// ---- publisher ----------------------------------------------------------------------------------------

/**
 * Where a restream destination sends its media: an RTMP(S) ingest URL and the stream key, kept apart because
 * the key is a secret (the restream engine joins them, `url + "/" + key`, and never logs the key).
 */
export interface LiveIngest {
  /** rtmp:// or rtmps:// ingest URL, without the key. */
  url: string;
  key: string;
  /** The platform's broadcast, when the platform has one (pass it to `end_live`). */
  broadcast_id?: string;
  /** Where viewers watch it, when the platform says. */
  watch_url?: string;
}

/**
 * A publisher plugin: gives the restream engine an ingest per destination, and optionally uploads files.
 * Errors: WE-PUB-001 the account must be reconnected (revoked or expired authorization: terminal, do not
 * retry), WE-PUB-002 the platform's quota is exhausted, WE-PUB-003 the platform failed or refused (message
 * from the platform), WE-PLG-003 settings missing or invalid.
 */
export interface PublisherPlugin extends PluginBase {
  /** Ingest for one live destination; `account` selects a connected account when the plugin has several. */
  prepare_live(p: { account?: string; title?: string; description?: string }, ctx: CallContext): Promise<LiveIngest>;
  /** Ends what `prepare_live` started (a no-op answering `ended: false` when there is nothing to end). */
  end_live(p: { broadcast_id?: string }, ctx: CallContext): Promise<{ ended: boolean }>;
  /**
   * Uploads a file as a video on the platform (optional: only plugins with the capability `upload`; the others
   * answer WE-PUB-005). Resumable: it reports `VodUploadProgress` notifications, and a later call with that
   * `session` continues where the platform says the bytes stopped instead of sending them again.
   */
  upload_vod?(p: VodUploadParams, ctx: CallContext): Promise<VodUploadResult>;
}

/**
 * Where the bytes of a file to upload come from. The kernel never streams media over the control channel: it
 * hands the plugin the storage object's local path when the storage has one on this host (storage-fs), else a
 * time-limited read URL that answers Range requests (storage-s3's presigned URL, storage-fs's signed link).
 */
export type UploadSource = { path: string } | { url: string };

export interface VodUploadParams {
  /** A connected account when the plugin has several. */
  account?: string;
  source: UploadSource;
  /** Bytes in the file (the platform is told up front; the last chunk ends there). */
  size: number;
  content_type: string;
  title: string;
  description?: string;
  privacy: "private" | "unlisted" | "public";
  /** The platform's resumable session from an earlier call (a secret: the kernel stores it encrypted). */
  session?: string;
}

/** Sent as progress while uploading: persist both, so a later call resumes the same session. */
export interface VodUploadProgress {
  session: string;
  bytes_confirmed: number;
}

export interface VodUploadResult {
  video_id: string;
  /** Where the video is watched. */
  url: string;
  bytes: number;
}

export type PillarImpl = StoragePlugin | EncoderPlugin | AuthPlugin | PublisherPlugin | (PluginBase & Record<string, unknown>);
