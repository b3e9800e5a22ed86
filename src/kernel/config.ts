/** The kernel's variables. Every one is listed, with its default, in the README's configuration table. */
import * as v from "valibot";
import { ConfigError } from "../core/config.ts";
import { absolutePaths, NATS_FILE_KEYS } from "../core/config-paths.ts";
import { listenHost, optionalInt, originList, postgresUrl, urlList } from "../core/config.ts";
import { bool, busPrefix, bytes, cidrList, duration, int, loadConfig, logLevel, natsAuth, optionalStr, str, url } from "../core/config.ts";

/** ADMIN_API_KEY: `we_` and 29-125 of A-Za-z0-9_- (32-128 characters in all), like the keys the API generates. */
export const ADMIN_API_KEY_PATTERN = /^we_[A-Za-z0-9_-]{29,125}$/;
const ADMIN_API_KEY_RULE = "must start with we_ followed by 29-125 letters, digits, '_' or '-' (32-128 characters in all, e.g. `echo we_$(openssl rand -hex 20)`): API keys are recognized by that prefix";

export const kernelConfigEntries = {
  /** Several hosts with target_session_attrs=read-write follow a PostgreSQL failover (docs/ha.md). */
  DATABASE_URL: v.optional(postgresUrl()),
  /** One URL, or a cluster's URLs separated by commas. */
  NATS_URL: v.optional(urlList(["nats", "tls", "ws", "wss"])),
  DATA_DIR: str("./data"),
  PLUGIN_DIR: str("./plugins"),
  /** How often PLUGIN_DIR binaries are checked for replacement (hot reload, docs/plugins.md); 0 turns it off. */
  PLUGIN_WATCH_INTERVAL: duration("2s"),
  PORT: int(8080, 0, 65535),
  /** Default: 127.0.0.1 in standalone mode (a laptop's platform is not a network service), 0.0.0.0 when distributed. */
  HOST: v.optional(listenHost()),
  /** Base URL clients use to reach the API (download/playback links); default http://127.0.0.1:PORT. */
  PUBLIC_URL: v.optional(url(["http", "https"])),
  LOG_LEVEL: logLevel(),
  BUS_PREFIX: busPrefix(),
  MIGRATE_ON_START: bool(true),
  /** Default: on when the bus is in-process (no NATS_URL), since no other worker could reach it. */
  EMBEDDED_WORKER: v.optional(bool(false)),
  MAX_BODY_SIZE: bytes("1MiB"),
  /** Largest file accepted by POST /v1/files. */
  UPLOAD_MAX_SIZE: bytes("20GiB"),
  /** Uploads no job uses are deleted once older than this (0 keeps them forever). */
  UPLOAD_RETENTION: duration("168h"),
  SHUTDOWN_TIMEOUT: duration("15s"),
  /** Ack deadline of a work delivery; the worker signals progress to the bus every third of it. */
  BUS_ACK_WAIT: duration("60s"),
  /** Replicas of the JetStream streams and KV buckets: 3 on a 3-node NATS cluster (docs/ha.md). Unset: new
   *  streams get 1 and existing ones keep theirs. */
  BUS_REPLICAS: optionalInt(1, 5),
  /** A task attempt whose worker sends nothing for this long is requeued (its worker is presumed dead). */
  LEASE_TTL: duration("30s"),
  /** Attempts per task before the job fails (permanent errors fail at once). */
  TASK_MAX_ATTEMPTS: int(3, 1, 20),
  /** Chunk length bounds; below SPLIT_MIN_DURATION a source is encoded as one chunk. */
  CHUNK_MIN_DURATION: duration("10s"),
  CHUNK_MAX_DURATION: duration("60s"),
  SPLIT_MIN_DURATION: duration("30s"),
  /** Tasks one job may have (analyze, video chunks, audio, package); longer chunks instead of more of them. */
  MAX_TASKS_PER_JOB: int(200, 10, 100_000),
  ...natsAuth(),

  // ---- security (docs/security.md) ----
  /** Key for encrypting secrets at rest (plugin secrets, webhook secrets). Required in distributed mode;
   *  standalone mode generates one into DATA_DIR/secret.key on first start. At least 32 characters. */
  SECRET_KEY: v.optional(v.pipe(v.string(), v.minLength(32, "must be at least 32 characters (e.g. `openssl rand -hex 32`)"))),
  /** The key being replaced during a SECRET_KEY rotation (docs/security.md): still accepted for decryption. */
  SECRET_KEY_PREVIOUS: v.optional(v.pipe(v.string(), v.minLength(32, "must be at least 32 characters"))),
  /** Used as the first admin API key instead of a generated one (automation); at least 32 characters. */
  /** Must look like the keys the API makes (we_ prefix): the auth middleware routes bearer tokens by that prefix. */
  ADMIN_API_KEY: v.optional(v.pipe(v.string(), v.regex(ADMIN_API_KEY_PATTERN, ADMIN_API_KEY_RULE))),
  /** Development only: no authentication (every caller is admin). Refused unless HOST is a loopback address. */
  AUTH_DEV_MODE: bool(false),
  /** Require credentials (viewer) for GET /metrics; health endpoints stay open. */
  METRICS_REQUIRE_AUTH: bool(false),
  /** Comma-separated origins allowed by CORS (e.g. https://app.example.com); empty = no cross-origin access. */
  CORS_ORIGINS: originList(""),
  /** Origins allowed to fetch signed media links (HLS players on other sites); `*` by default: the link is the credential. */
  MEDIA_CORS_ORIGINS: originList("*", true),
  /** Requests per second per client (token bucket refill; 0 disables) and the bucket size. */
  RATE_LIMIT_RPS: int(50, 0, 100_000),
  RATE_LIMIT_BURST: int(200, 1, 1_000_000),
  /** Proxies (CIDRs) whose X-Forwarded-For is believed when finding the client IP; empty = none. */
  TRUSTED_PROXIES: cidrList(),
  /** Private networks (CIDRs) that source URLs and webhooks may reach; loopback/private/link-local are refused otherwise. */
  OUTBOUND_ALLOW_CIDRS: cidrList(),
  /** Failed password logins per client and username within LOGIN_FAILURE_WINDOW before logins are refused (429). */
  LOGIN_MAX_FAILURES: int(5, 1, 1000),
  LOGIN_FAILURE_WINDOW: duration("15m"),
  /** Deepest nesting accepted in a JSON request body. */
  JSON_MAX_DEPTH: int(32, 2, 1000),
  /** Serve HTTPS with this certificate chain and key (PEM files). */
  TLS_CERT_FILE: optionalStr(),
  TLS_KEY_FILE: optionalStr(),
  /** OpenID Connect issuer; when set the auth-oidc plugin is enabled by default (it reads the variable itself). */
  OIDC_ISSUER_URL: v.optional(url(["https", "http"])),
  /** The client id at the OIDC provider (auth-oidc reads it too): the dashboard signs users in as this client. */
  OIDC_CLIENT_ID: optionalStr(),
  /** The provider's name on the dashboard's "Sign in with …" button. */
  OIDC_PROVIDER_NAME: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(64)), "single sign-on"),
  /** How long audit entries are kept in the database (the bus's audit stream keeps the same). */
  AUDIT_RETENTION: duration("2160h"),

  // ---- events and webhooks (docs/operations.md) ----
  /** How long platform events are kept for SSE resume (Last-Event-ID) and webhook redelivery. */
  EVENT_RETENTION: duration("168h"),
  /** How often open SSE streams re-check the API key they were opened with (a revoked key ends them). */
  EVENTS_AUTH_RECHECK: duration("30s"),
  /** How long a failed job keeps its intermediate parts in storage, so that a retry resumes from them. */
  FAILED_JOB_RETENTION: duration("168h"),
  /**
   * Finished jobs (completed, failed, cancelled) whose rows — with their tasks, attempts, timeline, logs and
   * output records — are deleted once they ended longer ago than this; 0 (the default) keeps them until
   * DELETE /v1/jobs/<id>. Files in storage are not touched (docs/operations.md, "Pruning finished jobs").
   */
  JOB_RETENTION: duration("0"),
  /** Connect+read timeout of one webhook delivery attempt, and how long failed deliveries are retried. */
  WEBHOOK_TIMEOUT: duration("10s"),
  WEBHOOK_RETRY_WINDOW: duration("24h"),
  /** Consecutive failures after which a webhook is muted until an admin unmutes it. */
  WEBHOOK_MUTE_AFTER: int(10, 1, 1000),
  /** First retry delay of a failed webhook delivery; each further retry doubles it (with jitter), up to 1 h. */
  WEBHOOK_RETRY_BASE: duration("5s"),

  // ---- live streaming (docs/live.md) ----
  /** RTMP ingest port (OBS: rtmp://host:1935/live); 0 disables live ingest on this kernel. */
  LIVE_RTMP_PORT: int(1935, 0, 65535),
  /** Base URL workers use to reach this kernel's internal live endpoints (source pull, segment push);
   *  default http://127.0.0.1:PORT (standalone, embedded worker). Set it to an address workers can reach. */
  LIVE_INTERNAL_URL: v.optional(url(["http", "https"])),
  /** A publisher that reconnects within this time continues the same live session. */
  LIVE_RECONNECT_GRACE: duration("10s"),
  /** Live streams one kernel ingests at once; further publishers are refused. */
  LIVE_MAX_STREAMS: int(10, 1, 10_000),
  /** Ingest bitrate above which a publisher is disconnected (averaged by the RTMP server). */
  LIVE_MAX_BITRATE_KBPS: int(20_000, 100, 1_000_000),
  /** A publisher that sends nothing for this long is disconnected. */
  LIVE_IDLE_TIMEOUT: duration("10s"),
};

export type KernelConfig = ReturnType<typeof loadKernelConfig>;

export function loadKernelConfig(env?: Record<string, string | undefined>) {
  // Relative paths mean "from where the kernel was started" (`npm start` in the clone): made absolute here, once.
  const loaded = loadConfig(kernelConfigEntries, env);
  const standaloneMode = loaded.NATS_URL === undefined && loaded.DATABASE_URL === undefined;
  const c = absolutePaths({ ...loaded, HOST: loaded.HOST ?? (standaloneMode ? "127.0.0.1" : "0.0.0.0") }, ["DATA_DIR", "PLUGIN_DIR", "TLS_CERT_FILE", "TLS_KEY_FILE", ...NATS_FILE_KEYS], process.cwd());
  const embeddedWorker = c.EMBEDDED_WORKER ?? c.NATS_URL === undefined;
  const standalone = standaloneMode;
  if (c.AUTH_DEV_MODE && !isLoopbackHost(c.HOST))
    throw new ConfigError(`invalid configuration: AUTH_DEV_MODE turns authentication off and is only allowed when HOST is a loopback address (127.0.0.1, ::1 or localhost), not ${JSON.stringify(c.HOST)}`);
  if ((c.TLS_CERT_FILE === undefined) !== (c.TLS_KEY_FILE === undefined))
    throw new ConfigError("invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  return Object.freeze({
    ...c,
    EMBEDDED_WORKER: embeddedWorker,
    standalone,
  });
}

/**
 * What serving (and re-encrypting secrets) needs beyond a valid configuration: in distributed mode every kernel
 * must encrypt and decrypt secrets with the same key. Not checked by `migrate` or `admin create-key`, which
 * touch no secrets.
 */
export function assertSecretKey(config: Pick<KernelConfig, "standalone" | "SECRET_KEY">): void {
  if (!config.standalone && config.SECRET_KEY === undefined)
    throw new ConfigError("invalid configuration: SECRET_KEY is required in distributed mode (DATABASE_URL or NATS_URL set): every kernel must encrypt and decrypt secrets with the same key; generate one with `openssl rand -hex 32`");
}

export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}
