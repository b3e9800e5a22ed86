/**
 * Response schemas and examples of the OpenAPI document (what the routes answer; the request schemas come
 * from the routes' valibot schemas). Plain JSON Schema objects, referenced from `components.schemas` by
 * openapi-doc.ts. Examples use real values: built-in profile ids, an upload key as source_url.
 */

type Schema = Record<string, unknown>;

const str = (description?: string, extra: Schema = {}): Schema => ({ type: "string", ...(description ? { description } : {}), ...extra });
const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: "null" }] });
const time = (description?: string) => str(description, { format: "date-time" });
const int = (description?: string): Schema => ({ type: "integer", ...(description ? { description } : {}) });
const obj = (properties: Record<string, Schema>, required: string[] = Object.keys(properties), description?: string): Schema => ({
  type: "object",
  properties,
  required,
  ...(description ? { description } : {}),
});
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const list = (item: Schema, paged = false): Schema =>
  obj({ items: { type: "array", items: item }, ...(paged ? { limit: int("page size"), offset: int("items skipped") } : {}) }, paged ? ["items", "limit", "offset"] : ["items"]);
/** A resource with the fields a reader needs most; the rest is documented in docs/api.md. */
const loose = (description: string, properties: Record<string, Schema> = {}): Schema => ({ type: "object", description, properties, additionalProperties: true });

export const EXAMPLE_UPLOAD_KEY = "uploads/6f1c2a9e-5b7d-4e8a-9c21-6a0f4d2b8e17/clip.mp4";
export const EXAMPLE_JOB_ID = "0b5c7a52-3f1e-4c6e-9d2a-1f0e8a7b6c5d";

/** The example body of POST /v1/jobs/:id/publish (docs/publishers.md). */
export const PUBLISH_REQUEST_EXAMPLE = { publisher: "publisher-youtube", output: "720p_h264", title: "Launch day", description: "Recorded on stage", privacy: "unlisted" };

const publicationExample = {
  id: "5d1f8e0a-7c2b-4e39-a6d4-0f2b9c8e7a15",
  job_id: EXAMPLE_JOB_ID,
  output_id: "9a7c3e21-0b4d-4f6a-8e15-2c7d9b0a4f36",
  publisher: "publisher-youtube",
  account: null,
  title: "Launch day",
  description: "Recorded on stage",
  privacy: "unlisted",
  status: "completed",
  bytes_total: 48213377,
  bytes_confirmed: 48213377,
  platform_video_id: "dQw4w9WgXcQ",
  url: "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
  error: null,
  runs: 1,
  created_by: "key:3f0c9a1e",
  created_at: "2026-01-31T12:10:00.000Z",
  updated_at: "2026-01-31T12:11:42.000Z",
  finished_at: "2026-01-31T12:11:42.000Z",
};

/** The example body of POST /v1/jobs (a test checks it against the route's schema). */
export const JOB_REQUEST_EXAMPLE = {
  source_url: EXAMPLE_UPLOAD_KEY,
  profiles: ["720p_h264", "360p_h264"],
  outputs: ["mp4", "hls"],
  thumbnails: true,
  priority: 0,
  metadata: { title: "My first job" },
};

export const PROFILE_REQUEST_EXAMPLE = {
  id: "540p_h264",
  name: "540p H.264",
  container: "mp4",
  video: {
    codec: "h264",
    encoder: "auto",
    hardware_fallback: "cpu",
    height: 540,
    rate_control: { mode: "bitrate", bitrate_kbps: 2000, maxrate_kbps: 3000, bufsize_kbps: 4000 },
    preset: "fast",
    keyframe_interval_s: 2,
  },
  audio: { codec: "aac", bitrate_kbps: 128, channels: 2, sample_rate: 48000 },
};

const jobError = nullable(obj({ code: str("catalogue code (docs/errors.md)"), message: str(), details: {} }, ["code", "message"]));

const job = obj(
  {
    id: str("job id", { format: "uuid" }),
    status: str(undefined, { enum: ["queued", "analyzing", "processing", "packaging", "completed", "failed", "cancelled"] }),
    status_reason: nullable(str("why a job waits (e.g. no healthy workers)")),
    progress: { type: "number", minimum: 0, maximum: 100 },
    eta_seconds: nullable(int()),
    source_url: str(),
    profiles: { type: "array", items: str() },
    outputs: { type: "array", items: str(undefined, { enum: ["mp4", "hls"] }) },
    priority: int(),
    metadata: { type: "object", additionalProperties: true },
    error: jobError,
    created_at: time(),
    started_at: nullable(time()),
    finished_at: nullable(time()),
    updated_at: time(),
  },
  ["id", "status", "progress", "source_url", "profiles", "outputs", "created_at"],
);

const jobExample = {
  id: EXAMPLE_JOB_ID,
  status: "queued",
  status_reason: null,
  progress: 0,
  eta_seconds: null,
  source_url: EXAMPLE_UPLOAD_KEY,
  profiles: ["720p_h264", "360p_h264"],
  outputs: ["mp4", "hls"],
  priority: 0,
  metadata: { title: "My first job" },
  error: null,
  created_at: "2026-01-31T12:00:00.000Z",
  started_at: null,
  finished_at: null,
  updated_at: "2026-01-31T12:00:00.000Z",
};

const output = obj(
  {
    id: str(),
    kind: str("mp4, hls_master, hls_media, thumbnail, poster, sprite…"),
    profile: nullable(str()),
    storage: str("storage plugin id"),
    storage_key: str(),
    url: nullable(str("signed, expiring download/playback URL")),
    size_bytes: nullable(int()),
    duration_s: nullable({ type: "number" }),
    width: nullable(int()),
    height: nullable(int()),
    bitrate: nullable(int()),
    codecs: obj({ video: nullable(str()), audio: nullable(str()) }),
    details: {},
  },
  ["id", "kind", "storage_key", "url"],
);

const upload = obj({
  key: str("storage key; use it as a job's source_url"),
  filename: str(),
  size_bytes: int(),
  created_at: time(),
  jobs: { type: "array", items: obj({ id: str(undefined, { format: "uuid" }), status: str() }), description: "jobs whose source_url is this key" },
  referenced: { type: "boolean", description: "a job uses it (such uploads are never removed by UPLOAD_RETENTION)" },
});

const profile = obj({ id: str(), name: str(), description: nullable(str()), builtin: { type: "boolean" }, spec: loose("the full profile (docs/api.md#custom-profiles)") }, ["id", "name", "builtin", "spec"]);

/** `components.schemas` of the document. */
/** A live stream's restream destination: the key is write-only (`key_set`); the state is the running restream's. */
const STREAM_DESTINATION = loose("a live stream's restream destination (its key is never returned)", {
  id: str(undefined, { format: "uuid" }),
  stream_id: str(undefined, { format: "uuid" }),
  publisher: str("the publisher plugin", { enum: ["publisher-rtmp", "publisher-youtube", "publisher-twitch"] }),
  name: str(),
  url: nullable(str("rtmp:// or rtmps:// server URL without the key; null: the publisher hands out its ingest")),
  key_set: { type: "boolean", description: "a key is stored (it is never shown)" },
  enabled: { type: "boolean" },
  transcode: nullable(obj({ height: int(), video_kbps: int() })),
  status: str("live state while the stream is live", { enum: ["connecting", "live", "retrying", "failed", "stopped"] }),
  bitrate_kbps: { type: "number" },
  uptime_s: { type: "number" },
  reconnects: int(),
  last_error: nullable(str("FFmpeg's or the platform's message, key redacted")),
});

export const SCHEMAS: Record<string, Schema> = {
  Error: obj(
    {
      error: obj(
        {
          code: str("catalogue code, stable (docs/errors.md)", { pattern: "^WE-[A-Z]+-[0-9]{3}$" }),
          message: str("one line for humans"),
          details: { type: "object", additionalProperties: true, description: "structured context, when there is some" },
          request_id: str("same as the X-Request-Id response header"),
        },
        ["code", "message", "request_id"],
      ),
    },
    ["error"],
    "The error envelope of every error response",
  ),
  Job: job,
  JobDetail: {
    allOf: [
      ref("Job"),
      obj({ source: loose("probe summary of the source (duration, streams)"), tasks: { type: "array", items: loose("a task with its attempts") }, timeline: { type: "array", items: loose("a status change") } }, ["tasks", "timeline"]),
    ],
  },
  JobList: list(ref("Job"), true),
  JobLogs: obj({ entries: { type: "array", items: loose("a log entry", { at: time(), level: str(), message: str() }) }, attempts: { type: "array", items: loose("an attempt with its FFmpeg evidence") } }),
  Output: output,
  OutputList: list(ref("Output")),
  Upload: upload,
  UploadList: { allOf: [list(ref("Upload"), true), obj({ total: int("uploads in storage") })] },
  UploadCreated: obj({ key: str(), source_url: str("same as key"), storage: str(), filename: str(), size_bytes: int() }),
  Profile: profile,
  ProfileList: obj({ items: { type: "array", items: ref("Profile") }, ladders: { type: "object", additionalProperties: { type: "array", items: str() }, description: "ladder id → profile ids" } }),
  ProfileWithEncoder: { allOf: [ref("Profile"), obj({ encoder: loose("how it would be encoded right now") }, [])] },
  Health: obj({ status: str(), version: str() }),
  Readiness: loose("readiness of database, bus, plugins and workers", { status: str(), checks: loose("one entry per dependency") }),
  Worker: loose("a worker", {
    id: str(),
    status: str(undefined, { enum: ["healthy", "draining", "offline"] }),
    pools: { type: "array", items: str() },
    current_tasks: {
      type: "array",
      description: "the tasks it holds a lease on now, oldest first",
      items: obj({ task_id: str(undefined, { format: "uuid" }), job_id: str(undefined, { format: "uuid" }), type: str(), seq: int(), started_at: nullable(time()) }),
    },
  }),
  WorkerList: list(ref("Worker"), true),
  Plugin: loose("a plugin (secrets are never returned)", { id: str(), pillar: str(), state: str() }),
  PluginList: list(ref("Plugin")),
  PublisherConnected: loose("a publisher account connected through OAuth", { plugin: str(), connected: { type: "boolean" } }),
  Publication: loose("a job output uploaded to a publisher's platform (the platform's upload session is never shown)", {
    id: str(undefined, { format: "uuid" }),
    status: str("uploading, completed or failed", { enum: ["uploading", "completed", "failed"] }),
    bytes_total: int(),
    bytes_confirmed: int("bytes the platform confirmed holding"),
    platform_video_id: nullable(str()),
    url: nullable(str("where the video is watched")),
    error: jobError,
  }),
  PublicationList: list(ref("Publication"), true),
  PluginReload: loose("what a hot reload did on this kernel", { id: str(), hosted_by: str(), swapped: { type: "boolean" }, announced: { type: "boolean" } }),
  EventToken: loose("a short-lived token for EventSource (?token=)", { token: str(), expires_at: time() }),
  EventStream: str("Server-Sent Events: `id:`, `event:` (type) and `data:` (JSON) per event (docs/events.md)"),
  SignInProviders: obj({
    password: { type: "boolean", description: "auth-basic is installed: POST /v1/auth/login" },
    oidc: nullable(
      obj({
        name: str("shown on the sign-in button"),
        issuer: str(),
        client_id: str(),
        authorization_endpoint: str(),
        token_endpoint: str(),
        scope: str(),
      }),
    ),
  }),
  Tokens: obj({ access_token: str(), refresh_token: str(), token_type: str(undefined, { enum: ["Bearer"] }), expires_in: int("seconds") }),
  User: loose("a password user", { id: str(), username: str(), roles: { type: "array", items: str() } }),
  UserList: list(ref("User")),
  Webhook: loose("a webhook (its secret is returned once, on create)", { id: str(), url: str(), events: { type: "array", items: str() } }),
  WebhookList: list(ref("Webhook"), true),
  Delivery: loose("one delivery of an event to a webhook", { id: str(), event_id: int(), status: str(), attempts: int() }),
  DeliveryList: list(ref("Delivery"), true),
  Stream: loose("a live stream (its key is never returned here)", { id: str(), name: str(), key_prefix: str(), is_live: { type: "boolean" }, ingest_url: nullable(str()), playback_url: str() }),
  StreamWithKey: loose("a live stream with its key: returned by create and rotate only", { id: str(), key: str("the stream key: put it in the encoder; it cannot be read back"), key_prefix: str() }),
  StreamList: list(ref("Stream"), true),
  StreamStats: loose("a stream's live telemetry", { stream_id: str(), is_live: { type: "boolean" }, session: loose("the open session, or null"), ingest: loose("ingest bitrate, fps, keyframe interval, codecs, resolution (on the ingesting kernel), or null") }),
  StreamSessionList: list(loose("a live session", { id: str(), started_at: time(), ended_at: nullable(time()), duration_seconds: { type: "number" }, bytes_in: int(), end_reason: nullable(str()) }), true),
  PlaybackLink: loose("a stream's playback URL for players (never its key)", { stream_id: str(), playback: str("public or signed"), url: str("the master playlist, with ?token= for a signed stream"), token: nullable(str()), expires_at: nullable(time()) }),
  Restream: loose("a restream (stream keys are never returned)", {
    id: str(undefined, { format: "uuid" }),
    status: str(undefined, { enum: ["scheduled", "starting", "live", "stopping", "stopped", "completed", "failed"] }),
    input: loose("what is played: storage_key, url, job_id or live_stream_id"),
    loop: { type: "boolean" },
    start_at: nullable(time()),
    stop_at: nullable(time()),
    position_s: { type: "number", description: "input position reached (where a resumed attempt starts)" },
    destinations: { type: "array", items: loose("a destination without its key, with its state", { id: str(), url: str(), status: str(), bitrate_kbps: int(), uptime_s: int(), reconnects: int(), last_error: nullable(str()) }) },
  }),
  RestreamList: list(ref("Restream"), true),
  ApiKey: loose("an API key (the key itself is returned once, on create)", { id: str(), name: str(), role: str(), prefix: str() }),
  ApiKeyList: list(ref("ApiKey")),
  Principal: loose("who is calling", { id: str(), role: str(), via: str() }),
  AuditList: list(loose("an audit entry", { at: time(), actor: str(), action: str(), status: int() }), true),
  Object: loose("the stored object's bytes"),
  StreamDestination: STREAM_DESTINATION,
  StreamDestinationList: list(STREAM_DESTINATION),
};

/** The example body of POST /v1/streams/:id/destinations (a test checks it against the domain's rules). */
export const STREAM_DESTINATION_REQUEST_EXAMPLE = {
  publisher: "publisher-rtmp",
  name: "Own RTMP server",
  url: "rtmp://live.example.com/app",
  key: "my-stream-key",
  enabled: true,
  transcode: { height: 720, video_kbps: 3000 },
};

const streamDestinationExample = {
  id: "5e8d2f41-9c3a-4b7e-8f10-2d6c4a9b1e03",
  stream_id: "c2a9e4f7-1b3d-4e6a-9f80-7d5c3b2a1e94",
  publisher: "publisher-rtmp",
  name: "Own RTMP server",
  url: "rtmp://live.example.com/app",
  key_set: true,
  enabled: true,
  transcode: { height: 720, video_kbps: 3000 },
  created_at: "2026-01-31T11:58:00.000Z",
  updated_at: "2026-01-31T11:58:00.000Z",
  status: "live",
  bitrate_kbps: 3140,
  uptime_s: 412,
  reconnects: 0,
  last_error: null,
};

/** The example body of POST /v1/restreams (a test checks it against the domain's rules). */
export const RESTREAM_REQUEST_EXAMPLE = {
  name: "Friday replay",
  input: { storage_key: EXAMPLE_UPLOAD_KEY },
  loop: true,
  start_at: "2026-01-31T20:00:00Z",
  stop_at: "2026-01-31T22:00:00Z",
  destinations: [{ url: "rtmp://a.rtmp.youtube.com/live2", key: "xxxx-xxxx-xxxx-xxxx" }, { url: "rtmps://live.example.com/app", key: "my-key", transcode: { height: 720, video_kbps: 3000 } }],
};

const restreamExample = {
  id: "8b1f3c6d-2e4a-4f7b-9c0d-1a2b3c4d5e6f",
  name: "Friday replay",
  origin: "api",
  status: "live",
  input: { storage_key: EXAMPLE_UPLOAD_KEY },
  loop: true,
  start_at: "2026-01-31T20:00:00.000Z",
  stop_at: "2026-01-31T22:00:00.000Z",
  position_s: 73.4,
  job_id: EXAMPLE_JOB_ID,
  task_id: "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a",
  destinations: [{ id: "d1", publisher: "rtmp", url: "rtmp://a.rtmp.youtube.com/live2", transcode: null, status: "live", bitrate_kbps: 4410, uptime_s: 1210, reconnects: 0, last_error: null }],
  error: null,
  created_by: "admin",
  created_at: "2026-01-31T19:00:00.000Z",
  started_at: "2026-01-31T20:00:00.200Z",
  ended_at: null,
};

/** Success examples by schema name (Swagger UI shows them before "Execute"). */
export const EXAMPLES: Record<string, unknown> = {
  Job: jobExample,
  JobList: { items: [jobExample], limit: 50, offset: 0 },
  Publication: { ...publicationExample, status: "uploading", bytes_confirmed: 0, platform_video_id: null, url: null, finished_at: null },
  PublicationList: { items: [publicationExample], limit: 50, offset: 0 },
  Upload: { key: EXAMPLE_UPLOAD_KEY, filename: "clip.mp4", size_bytes: 7340032, created_at: "2026-01-31T11:58:00.000Z", jobs: [{ id: EXAMPLE_JOB_ID, status: "queued" }], referenced: true },
  UploadList: {
    items: [{ key: EXAMPLE_UPLOAD_KEY, filename: "clip.mp4", size_bytes: 7340032, created_at: "2026-01-31T11:58:00.000Z", jobs: [{ id: EXAMPLE_JOB_ID, status: "queued" }], referenced: true }],
    limit: 50,
    offset: 0,
    total: 1,
  },
  UploadCreated: { key: EXAMPLE_UPLOAD_KEY, source_url: EXAMPLE_UPLOAD_KEY, storage: "storage-fs", filename: "clip.mp4", size_bytes: 7340032 },
  Restream: restreamExample,
  RestreamList: { items: [restreamExample], limit: 50, offset: 0 },
  Health: { status: "ok", version: "1.0.0" },
  StreamDestination: streamDestinationExample,
  StreamDestinationList: { items: [streamDestinationExample] },
};
