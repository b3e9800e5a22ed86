/** The kernel's metrics. Gauges that mirror database state are computed at scrape time by `collect`. */
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
  webhookDeliveries: Counter<"result">;
  webhookDeliveryDuration: Histogram;
  webhooksMuted: Gauge;
  taskDuration: Histogram<"type">;
  leaseExpiries: Counter;
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
      help: "Errors by source (http, task, plugin, bus) and error code",
      labelNames: ["source", "code"],
      registers: [registry],
    }),
    jobsByStatus: new Gauge({ name: "webencode_jobs_total", help: "Jobs in the database by status", labelNames: ["status"], registers: [registry] }),
    tasksProcessing: new Gauge({ name: "webencode_tasks_processing", help: "Tasks currently leased to a worker", registers: [registry] }),
    workersHealthy: new Gauge({ name: "webencode_workers_healthy", help: "Workers sending heartbeats and accepting work", registers: [registry] }),
    streamsLive: new Gauge({ name: "webencode_streams_live", help: "Live streams currently ingesting", registers: [registry] }),
    // Webhooks (src/kernel/webhooks/): one count per delivery attempt; the muted gauge is read from the database at scrape time.
    webhookDeliveries: new Counter({ name: "webencode_webhook_deliveries_total", help: "Webhook delivery attempts by result (success = 2xx; failure = any other status, timeout, refused address or network error)", labelNames: ["result"], registers: [registry] }),
    webhookDeliveryDuration: new Histogram({ name: "webencode_webhook_delivery_duration_seconds", help: "Time from sending a webhook delivery attempt to its response (or failure)", buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] }),
    webhooksMuted: new Gauge({ name: "webencode_webhooks_muted", help: "Webhooks muted after too many consecutive failures (deliveries wait until an admin unmutes them)", registers: [registry] }),
    leaseExpiries: new Counter({ name: "webencode_task_lease_expiries_total", help: "Task leases that expired (worker died, hung or was cut off) and were requeued", registers: [registry] }),
    taskDuration: new Histogram({
      name: "webencode_task_duration_seconds",
      help: "Wall time of completed task attempts by task type",
      labelNames: ["type"],
      buckets: [1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [registry],
    }),
  };
}
