/**
 * Metrics as an operator sees them, scraped from real processes before and after real work:
 *
 * 1. A kernel with its embedded worker (PostgreSQL, in-process bus, FFmpeg on a lavfi clip): a job moves
 *    jobs_total{status="completed"} by one; task duration and encode speed are observed for its video task with
 *    the profile label; the queue drains back to 0; the embedded worker's metrics appear on the kernel's
 *    /metrics. With the worker drained, a queued task shows in queue depth and age; a lease granted to a worker
 *    that never reports expires and is counted as a lease expiry and a redelivery. `promtool check metrics`.
 * 2. Standalone worker processes (`bun src/worker/main.ts`) on NATS: one whose WORKER_METRICS_PORT is taken
 *    logs an error naming the variable and still runs a job; one with a free port serves /metrics with the
 *    worker metrics, which count the job it ran.
 * 3. docs/grafana-dashboard.json only queries metrics those scrapes contain.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { CLAIM_SUBJECT, type ClaimReply } from "../../src/core/messages.ts";
import { tasks } from "../../src/db/schema.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { makeClip } from "../helpers/media.ts";
import { natsUrl } from "../helpers/nats.ts";
import { BUN, freePort, type Proc, spawnProc } from "../helpers/proc.ts";
import { promtoolCheckMetrics, type Scrape, scrape, series, value } from "../helpers/prom.ts";
import { waitFor } from "../helpers/wait.ts";

const PROFILE = "360p_h264";
const hasPromtool = Bun.which("promtool") !== null;
const scratch = mkdtempSync(join(tmpdir(), "webencode-metrics-ops-"));
let clip = "";
/** Every scrape taken, for the dashboard check. */
const scrapes: Scrape[] = [];

beforeAll(async () => {
  clip = await makeClip(scratch, "clip", { width: 320, height: 180, rate: "25", duration_s: 2, audio: true, gop: 25 });
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

async function json<T>(r: Response): Promise<T> {
  const text = await r.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${r.status}: ${text.slice(0, 300)}`);
  }
}

/** Uploads the clip and submits a job on it; returns the job id. */
async function submitJob(k: TestKernel): Promise<string> {
  const up = await k.fetch("/v1/files?filename=clip.mp4", { method: "POST", headers: { "content-type": "video/mp4" }, body: Bun.file(clip) });
  const file = await json<{ source_url: string }>(up);
  if (up.status !== 201) throw new Error(`POST /v1/files → ${up.status}: ${JSON.stringify(file)}`);
  const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: file.source_url, profiles: [PROFILE], outputs: ["mp4"] }) });
  const job = await json<{ id: string }>(r);
  if (r.status !== 201) throw new Error(`POST /v1/jobs → ${r.status}: ${JSON.stringify(job)}`);
  return job.id;
}

async function waitJob(k: TestKernel, id: string, status: string, timeoutMs: number): Promise<void> {
  let last: { status?: string; error?: unknown } = {};
  await waitFor(
    async () => {
      last = await json(await k.fetch(`/v1/jobs/${id}`));
      if (last.status === "failed" && status !== "failed") throw new Error(`job ${id} failed: ${JSON.stringify(last)}`);
      return last.status === status;
    },
    timeoutMs,
    `job ${id} to be ${status} (last: ${JSON.stringify(last).slice(0, 300)})`,
    100,
  );
}

async function kernelScrape(k: TestKernel): Promise<Scrape> {
  const s = await scrape(`${k.url}/metrics`);
  scrapes.push(s);
  return s;
}

async function expectPromtoolAccepts(text: string): Promise<void> {
  if (!hasPromtool) return;
  const r = await promtoolCheckMetrics(text);
  // 0, or 3 with only the accepted naming-lint findings (helpers/prom.ts); 1 would be a parse error.
  expect({ code: r.code === 3 ? 0 : r.code, problems: r.problems }).toEqual({ code: 0, problems: [] });
}

describe("kernel /metrics with the embedded worker (PostgreSQL, in-process bus, FFmpeg)", () => {
  let k: TestKernel;

  beforeAll(async () => {
    k = await startTestKernel({ env: { EMBEDDED_WORKER: "true", LEASE_TTL: "2s" } });
    await waitFor(async () => value(await scrape(`${k.url}/metrics`), "webencode_workers_healthy") === 1, 90_000, "the embedded worker to be healthy", 200);
  });

  afterAll(async () => {
    await k?.stop();
  });

  test("a real job moves the job, task, queue and worker metrics", async () => {
    const before = await kernelScrape(k);
    expect(value(before, "webencode_jobs_total", { status: "completed" })).toBe(0);
    expect(value(before, "webencode_worker_slots")).toBe(1);

    const id = await submitJob(k);
    await waitJob(k, id, "completed", 90_000);
    const after = await kernelScrape(k);

    // Jobs by status, straight from the database.
    expect(value(after, "webencode_jobs_total", { status: "completed" })).toBe(1);
    expect(value(after, "webencode_jobs_total", { status: "queued" })).toBe(0);
    expect(value(after, "webencode_tasks_processing")).toBe(0);
    expect(value(after, "webencode_workers_healthy")).toBe(1);
    expect(series(after, "webencode_streams_live")).toHaveLength(1);

    // Task duration and encode speed: one observation per completed media task, with the job's profile.
    const rows = await k.handle.ctx.db.select({ type: tasks.type, mediaSeconds: tasks.mediaSeconds }).from(tasks).where(eq(tasks.jobId, id));
    const videoTasks = rows.filter((t) => t.type === "video");
    expect(videoTasks.length).toBeGreaterThan(0);
    const video = { type: "video", profile: PROFILE };
    expect(value(after, "webencode_task_duration_seconds_count", { ...video, outcome: "completed" })).toBe(videoTasks.length);
    expect(value(after, "webencode_task_duration_seconds_sum", { ...video, outcome: "completed" })).toBeGreaterThan(0);
    expect(value(after, "webencode_task_encode_speed_count", video)).toBe(videoTasks.length);
    const speed = value(after, "webencode_task_encode_speed_sum", video) / videoTasks.length;
    expect(speed).toBeGreaterThan(0);
    expect(Number.isFinite(speed)).toBe(true);
    expect(value(after, "webencode_task_encode_speed_count", { type: "audio", profile: PROFILE })).toBe(rows.filter((t) => t.type === "audio").length);
    // Analyze and package run too, but have no speed.
    expect(value(after, "webencode_task_duration_seconds_count", { type: "analyze", outcome: "completed" })).toBe(1);
    expect(value(after, "webencode_task_encode_speed_count", { type: "analyze" })).toBe(0);

    // The queue is empty again; the pool's series stays, at 0.
    expect(series(after, "webencode_queue_depth", { pool: "cpu" })).toHaveLength(1);
    expect(value(after, "webencode_queue_depth", { pool: "cpu" })).toBe(0);
    expect(value(after, "webencode_queue_oldest_age_seconds", { pool: "cpu" })).toBe(0);
    expect(value(after, "webencode_task_redeliveries_total")).toBe(0);

    // HTTP by route pattern and status.
    expect(value(after, "webencode_http_requests_total", { method: "POST", route: "/v1/jobs", status: "201" }) - value(before, "webencode_http_requests_total", { method: "POST", route: "/v1/jobs", status: "201" })).toBe(1);

    // The embedded worker's own metrics, on the kernel's /metrics.
    expect(value(after, "webencode_worker_tasks_total", { type: "video", outcome: "completed" })).toBe(videoTasks.length);
    expect(value(after, "webencode_worker_task_duration_seconds_count", { type: "video" })).toBe(videoTasks.length);
    expect(value(after, "webencode_worker_slots_busy")).toBe(0);
    expect(value(after, "webencode_worker_ffmpeg_processes")).toBe(0);
    expect(series(after, "webencode_worker_encode_fps", { type: "video" })).toHaveLength(1);

    // Plugins and the database.
    expect(value(after, "webencode_plugin_healthy", { plugin: "storage-fs", pillar: "storage" })).toBe(1);
    expect(value(after, "webencode_db_max_connections")).toBeGreaterThan(0);
    expect(value(after, "webencode_db_server_connections")).toBeGreaterThanOrEqual(value(after, "webencode_db_connections"));
    expect(value(after, "webencode_db_connections", { state: "active" })).toBeGreaterThanOrEqual(1); // the scrape's own query
    expect(value(after, "webencode_db_probe_duration_seconds")).toBeGreaterThan(0);

    await expectPromtoolAccepts(after.text);
  }, 120_000);

  test("a queued task shows in depth and age; an expired lease counts as a lease expiry and a redelivery", async () => {
    const drained = await k.fetch("/v1/workers/embedded/drain", { method: "POST" });
    expect(drained.status).toBe(200);
    const id = await submitJob(k);
    // Nobody takes the analyze task: it waits in the cpu pool, and its age grows.
    await waitFor(async () => {
      const s = await kernelScrape(k);
      return value(s, "webencode_queue_depth", { pool: "cpu" }) === 1 && value(s, "webencode_queue_oldest_age_seconds", { pool: "cpu" }) >= 1;
    }, 15_000, "queue depth 1 with an age of at least 1 s in the cpu pool", 200);
    const before = await kernelScrape(k);
    expect(value(before, "webencode_jobs_total", { status: "queued" })).toBe(1);

    // A worker claims the task (a real lease grant) and dies before reporting anything.
    const [task] = await k.handle.ctx.db.select().from(tasks).where(eq(tasks.jobId, id));
    const claim = await k.handle.ctx.bus.request<ClaimReply>(CLAIM_SUBJECT, { task_id: task!.id, attempt: task!.attempt, worker_id: "ghost" }, 5_000);
    expect(claim.granted).toBe(true);
    const leased = await kernelScrape(k);
    expect(value(leased, "webencode_tasks_processing")).toBe(1);
    expect(value(leased, "webencode_queue_depth", { pool: "cpu" })).toBe(0);
    // LEASE_TTL is 2 s: the reconciler requeues it.
    await waitFor(async () => value(await kernelScrape(k), "webencode_task_lease_expiries_total", { pool: "cpu" }) === 1, 15_000, "one lease expiry in the cpu pool", 200);
    const after = await kernelScrape(k);
    expect(value(after, "webencode_task_redeliveries_total", { pool: "cpu" }) - value(before, "webencode_task_redeliveries_total", { pool: "cpu" })).toBe(1);
    expect(value(after, "webencode_errors_total", { source: "task", code: "WE-WRK-003" })).toBe(1);
    expect(value(after, "webencode_queue_depth", { pool: "cpu" })).toBe(1);

    // Back to work: the job completes and the queue empties.
    expect((await k.fetch("/v1/workers/embedded/undrain", { method: "POST" })).status).toBe(200);
    await waitJob(k, id, "completed", 90_000);
    const done = await kernelScrape(k);
    expect(value(done, "webencode_queue_depth", { pool: "cpu" })).toBe(0);
    expect(value(done, "webencode_jobs_total", { status: "completed" })).toBe(2);
    await expectPromtoolAccepts(done.text);
  }, 150_000);
});

describe("standalone worker /metrics (bun src/worker/main.ts on NATS)", () => {
  let k: TestKernel;
  const procs: Proc[] = [];
  let blocker: { port: number; stop(closeActive?: boolean): void } | undefined;

  const startWorker = (id: string, metricsPort: number): Proc => {
    const dir = join(scratch, id);
    mkdirSync(join(dir, "plugins"), { recursive: true });
    const p = spawnProc([BUN, "src/worker/main.ts"], {
      env: {
        NATS_URL: natsUrl(),
        BUS_PREFIX: k.prefix,
        WORKER_ID: id,
        WORKER_CONCURRENCY: "2",
        HEARTBEAT_INTERVAL: "1s",
        WORK_DIR: join(dir, "work"),
        PLUGIN_DIR: join(dir, "plugins"),
        LOG_LEVEL: "info",
        WORKER_METRICS_PORT: String(metricsPort),
        WORKER_METRICS_HOST: "127.0.0.1",
        ...(process.env.FFMPEG_PATH ? { FFMPEG_PATH: process.env.FFMPEG_PATH } : {}),
        ...(process.env.FFPROBE_PATH ? { FFPROBE_PATH: process.env.FFPROBE_PATH } : {}),
      },
    });
    procs.push(p);
    return p;
  };

  const waitHealthy = (id: string) =>
    waitFor(
      async () => {
        const body = await json<{ items: Array<{ id: string; status: string }> }>(await k.fetch("/v1/workers"));
        return body.items.some((w) => w.id === id && w.status === "healthy");
      },
      60_000,
      `worker ${id} to be healthy`,
      200,
    );

  beforeAll(async () => {
    // The kernel shares DATA_DIR's storage with the workers through storage-fs on this host.
    k = await startTestKernel({ nats: true });
  });

  afterAll(async () => {
    for (const p of procs) await p.stop("SIGTERM", 15_000).catch(() => {});
    blocker?.stop(true);
    await k?.stop();
  });

  test("a taken WORKER_METRICS_PORT stops the worker at once (exit 3) with a line naming the variable and the port", async () => {
    const taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    blocker = taken;
    const a = startWorker(`metrics-a-${process.pid}`, taken.port);
    const status = await Promise.race([a.exited, Bun.sleep(60_000).then(() => "still running" as const)]);
    expect(status).toEqual({ code: 3, signal: null });
    const line = await a.waitForLine(/WORKER_METRICS_PORT/, 5_000);
    expect(line).toContain(String(taken.port));
    // It never registered: a worker that cannot serve its metrics takes no work.
    const body = await json<{ items: Array<{ id: string }> }>(await k.fetch("/v1/workers"));
    expect(body.items.some((w) => w.id === `metrics-a-${process.pid}`)).toBe(false);
  }, 90_000);

  test("a worker with a free port serves /metrics with its slots, FFmpeg and task metrics", async () => {
    const port = await freePort();
    const idB = `metrics-b-${process.pid}`;
    const b = startWorker(idB, port);
    await b.waitForHttp200(`http://127.0.0.1:${port}/metrics`, 30_000);
    await waitHealthy(idB);
    const idle = await scrape(`http://127.0.0.1:${port}/metrics`);
    scrapes.push(idle);
    expect(value(idle, "webencode_worker_slots")).toBe(2);
    expect(value(idle, "webencode_worker_slots_busy")).toBe(0);
    expect(value(idle, "webencode_worker_ffmpeg_processes")).toBe(0);
    expect(value(idle, "webencode_worker_tasks_total")).toBe(0);
    expect(series(idle, "process_cpu_seconds_total", { service: "worker" })).toHaveLength(1);
    // The worker's plugin host reports its plugins (the encoder runs only on workers).
    expect(series(idle, "webencode_plugin_healthy", { pillar: "encoder" }).some((s) => s.value === 1)).toBe(true);
    await expectPromtoolAccepts(idle.text);

    // Only B is left: the next job runs there.
    await procs[0]!.stop("SIGTERM", 20_000);
    const id = await submitJob(k);
    await waitJob(k, id, "completed", 90_000);
    const rows = await k.handle.ctx.db.select({ type: tasks.type }).from(tasks).where(eq(tasks.jobId, id));
    const videoTasks = rows.filter((t) => t.type === "video").length;
    const after = await scrape(`http://127.0.0.1:${port}/metrics`);
    scrapes.push(after);
    expect(value(after, "webencode_worker_tasks_total", { type: "video", outcome: "completed" })).toBe(videoTasks);
    expect(value(after, "webencode_worker_tasks_total", { outcome: "completed" })).toBe(rows.length);
    expect(value(after, "webencode_worker_task_duration_seconds_count", { type: "video" })).toBe(videoTasks);
    expect(value(after, "webencode_worker_task_duration_seconds_sum", { type: "video" })).toBeGreaterThan(0);
    expect(series(after, "webencode_worker_encode_fps", { type: "video" })).toHaveLength(1);
    expect(value(after, "webencode_worker_ffmpeg_processes")).toBe(0);
    expect(value(after, "webencode_worker_slots_busy")).toBe(0);
    expect(value(after, "webencode_plugin_rpc_duration_seconds_count", { method: "transcode" })).toBeGreaterThan(0);
    await expectPromtoolAccepts(after.text);
    // 404 for anything but /metrics.
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
  }, 180_000);
});

describe("docs/grafana-dashboard.json", () => {
  type Dashboard = {
    panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ name: string; type: string; query?: string }> };
  };
  let dashboard: Dashboard;
  beforeAll(() => {
    dashboard = JSON.parse(readFileSync(join(import.meta.dir, "../../docs/grafana-dashboard.json"), "utf8")) as Dashboard;
  });

  test("has a Prometheus datasource variable and every panel uses it", () => {
    const ds = dashboard.templating.list.find((v) => v.type === "datasource");
    expect(ds?.query).toBe("prometheus");
    for (const p of dashboard.panels.filter((x) => x.targets)) {
      expect({ panel: p.title, datasource: (p as { datasource?: { uid?: string } }).datasource?.uid }).toEqual({ panel: p.title, datasource: `\${${ds!.name}}` });
    }
  });

  test("every PromQL expression queries only metrics the kernel or the worker exports", () => {
    expect(scrapes.length).toBeGreaterThan(1); // the scrapes of the tests above
    const exported = new Set<string>();
    for (const s of scrapes) {
      for (const [name, type] of s.types) {
        exported.add(name);
        if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) exported.add(name + suffix);
      }
    }
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(15);
    const unknown = exprs.flatMap(({ panel, expr }) => metricNames(expr).filter((m) => !exported.has(m)).map((m) => `${panel}: ${m}`));
    expect(unknown).toEqual([]);
  });
});

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or label values. */
function metricNames(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const noMatchers = noStrings.replace(/\{[^}]*\}/g, "{}");
  const noGrouping = noMatchers.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const noRanges = noGrouping.replace(/\[[^\]]*\]/g, "");
  const names = noRanges.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => n.includes("_") && !/^(histogram_quantile|label_replace|max_over_time|min_over_time|avg_over_time|sum_over_time|count_over_time|last_over_time|clamp_min|clamp_max|label_values)$/.test(n)))];
}
