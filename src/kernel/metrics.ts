/**
 * The kernel's metrics (every one is described in docs/metrics.md). Gauges that mirror database state are
 * computed at scrape time by refreshDbGauges (src/kernel/metrics-db.ts); counters and histograms are updated
 * where the work happens (HTTP layer, results handling, reconciler).
 */
import { Counter, Gauge, Histogram, type Registry } from "../core/metrics.ts";

export interface KernelMetrics {
  registry: Registry;
  httpRequests: Counter<"method" | "route" | "status">;
  httpDuration: Histogram<"method" | "route">;
  errors: Counter<"source" | "code">;
  jobsByStatus: Gauge<"status">;
  tasksProcessing: Gauge;
  workersHealthy: Gauge;
  streamsLive: Gauge;
  /** Per live stream on its ingesting kernel (label removed when the session ends). */
  streamIngestBitrate: Gauge<"stream_id">;
  streamViewers: Gauge<"stream_id">;
  taskDuration: Histogram<"type" | "profile" | "outcome">;
  encodeSpeed: Histogram<"type" | "profile">;
  leaseExpiries: Counter<"pool">;
  redeliveries: Counter<"pool">;
  queueDepth: Gauge<"pool">;
  queueOldestAge: Gauge<"pool">;
  dbConnections: Gauge<"state">;
  dbServerConnections: Gauge;
  dbMaxConnections: Gauge;
  dbProbe: Gauge;
  webhookDeliveries: Counter<"result">;
  webhookDeliveryDuration: Histogram;
  webhooksMuted: Gauge;
  /** Per restream destination: 1 for its current status, 0 for the others (issue 16; removed when the restream ends, restream/restream-metrics.ts). */
  restreamDestinationState: Gauge<"restream_id" | "destination_id" | "status">;
  restreamReconnects: Counter<"restream_id" | "destination_id">;
}

export function createKernelMetrics(registry: Registry): KernelMetrics {
  return {
    registry,
    httpRequests: new Counter({
      name: "webencode_http_requests_total",
      help: "HTTP requests by method, route pattern and status code",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "webencode_http_request_duration_seconds",
      help: "HTTP request duration by method and route pattern",
      labelNames: ["method", "route"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    errors: new Counter({
      name: "webencode_errors_total",
      help: "Errors by source (http: 5xx answers, task: failed task attempts, reconciler: failed ticks, results: worker reports that could not be processed) and WE-* code",
      labelNames: ["source", "code"],
      registers: [registry],
    }),
    jobsByStatus: new Gauge({ name: "webencode_jobs_total", help: "Jobs in the database by status", labelNames: ["status"], registers: [registry] }),
    tasksProcessing: new Gauge({ name: "webencode_tasks_processing", help: "Tasks currently leased to a worker", registers: [registry] }),
    workersHealthy: new Gauge({ name: "webencode_workers_healthy", help: "Workers sending heartbeats and accepting work", registers: [registry] }),
    streamsLive: new Gauge({ name: "webencode_streams_live", help: "Live streams currently ingesting", registers: [registry] }),
    streamIngestBitrate: new Gauge({ name: "webencode_stream_ingest_bitrate_kbps", help: "Ingest bitrate of a live stream (kbit/s), on the kernel that ingests it", labelNames: ["stream_id"], registers: [registry] }),
    streamViewers: new Gauge({ name: "webencode_stream_viewers", help: "Distinct playback sessions of a live stream in the last 30 s, as seen by this kernel", labelNames: ["stream_id"], registers: [registry] }),
    leaseExpiries: new Counter({ name: "webencode_task_lease_expiries_total", help: "Task leases that expired (worker died, hung or was cut off), by pool; the attempt is retried or the job fails", labelNames: ["pool"], registers: [registry] }),
    redeliveries: new Counter({ name: "webencode_task_redeliveries_total", help: "Task attempts queued again (retry after a failure or lease expiry, handed back by a draining worker, republished after 5 min unclaimed), by pool", labelNames: ["pool"], registers: [registry] }),
    // The profile label is the job's requested profile list, sorted and joined with "+" (e.g. "360p_h264+720p_h264"):
    // bounded by the profiles and ladders that exist, and the same for every task of a job.
    taskDuration: new Histogram({
      name: "webencode_task_duration_seconds",
      help: "Wall time of task attempts as reported by the worker, by task type, the job's profiles and outcome (completed, failed, aborted)",
      labelNames: ["type", "profile", "outcome"],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    }),
    encodeSpeed: new Histogram({
      name: "webencode_task_encode_speed",
      help: "Media seconds per wall second of completed video/audio tasks (x realtime), by task type and the job's profiles",
      labelNames: ["type", "profile"],
      buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 128],
      registers: [registry],
    }),
    // Scrape-time gauges (src/kernel/metrics-db.ts): every kernel reports the same database-wide numbers.
    queueDepth: new Gauge({ name: "webencode_queue_depth", help: "Tasks queued (waiting for a worker) per pool", labelNames: ["pool"], registers: [registry] }),
    queueOldestAge: new Gauge({ name: "webencode_queue_oldest_age_seconds", help: "Seconds the oldest queued task of each pool has been waiting since it was (re)queued; 0 when none", labelNames: ["pool"], registers: [registry] }),
    dbConnections: new Gauge({ name: "webencode_db_connections", help: "Client connections to the WebEncode database (all kernels) by state, from pg_stat_activity", labelNames: ["state"], registers: [registry] }),
    dbServerConnections: new Gauge({ name: "webencode_db_server_connections", help: "Client connections to the whole PostgreSQL server (every database), the number max_connections limits", registers: [registry] }),
    dbMaxConnections: new Gauge({ name: "webencode_db_max_connections", help: "PostgreSQL max_connections", registers: [registry] }),
    dbProbe: new Gauge({ name: "webencode_db_probe_duration_seconds", help: "Time for `select 1` through this kernel's connection pool at scrape time (includes waiting for a free pooled connection)", registers: [registry] }),
    // Webhooks (src/kernel/webhooks/): one count per delivery attempt; the muted gauge is read from the database at scrape time.
    webhookDeliveries: new Counter({ name: "webencode_webhook_deliveries_total", help: "Webhook delivery attempts by result (success = 2xx; failure = any other status, timeout, refused address or network error)", labelNames: ["result"], registers: [registry] }),
    webhookDeliveryDuration: new Histogram({ name: "webencode_webhook_delivery_duration_seconds", help: "Time from sending a webhook delivery attempt to its response (or failure)", buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    webhooksMuted: new Gauge({ name: "webencode_webhooks_muted", help: "Webhooks muted after too many consecutive failures (deliveries wait until an admin unmutes them)", registers: [registry] }),
    // Restreams (src/kernel/restream/runtime.ts): set from the task's reports by the kernel that handled them.
    restreamDestinationState: new Gauge({ name: "webencode_restream_destination_state", help: "Restream destination status (connecting, live, retrying, failed, stopped): 1 for the current one", labelNames: ["restream_id", "destination_id", "status"], registers: [registry] }),
    restreamReconnects: new Counter({ name: "webencode_restream_destination_reconnects_total", help: "Reconnect attempts of restream destinations, as reported by their tasks", labelNames: ["restream_id", "destination_id"], registers: [registry] }),
  };
}

/** The `profile` label of task metrics: the job's requested profiles, sorted, joined with "+". */
export function profileLabel(profiles: readonly string[] | null | undefined): string {
  return profiles?.length ? [...profiles].sort().join("+") : "none";
}

/**
 * One accepted attempt report: its wall time, and for a completed media task its speed (media seconds per
 * wall second, × realtime). Analyze and package tasks cover the whole file without encoding it, so a
 * speed for them would mean nothing.
 */
export function observeAttempt(
  m: KernelMetrics | undefined,
  task: { type: string; mediaSeconds: number },
  profiles: readonly string[] | null | undefined,
  outcome: "completed" | "failed" | "aborted",
  elapsedMs: number,
): void {
  if (!m) return;
  const profile = profileLabel(profiles);
  const seconds = Math.max(0, elapsedMs) / 1000;
  m.taskDuration.observe({ type: task.type, profile, outcome }, seconds);
  if (outcome === "completed" && (task.type === "video" || task.type === "audio") && task.mediaSeconds > 0 && seconds > 0) {
    m.encodeSpeed.observe({ type: task.type, profile }, task.mediaSeconds / seconds);
  }
}
