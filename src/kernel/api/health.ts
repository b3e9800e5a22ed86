/**
 * Liveness (`/v1/health`: the process answers, no dependencies), readiness (`/v1/system/health`: database,
 * bus, workers; 503 naming the failing part) and `/metrics`.
 */
import { Elysia } from "elysia";
import { COMMIT, VERSION, workerVersionCheck } from "../../core/version.ts";
import type { KernelContext } from "../context.ts";
import { refreshDbGauges } from "../metrics-db.ts";
import { onlineWorkerVersions } from "../workers/lookup.ts";
import { healthyWorkerCount } from "../workers/registry.ts";

type Check = { status: "ok" | "fail" | "warn"; detail: string };

export function healthRoutes(ctx: KernelContext) {
  return new Elysia({ tags: ["system"] } as never)
    .get("/v1/health", () => ({ status: "ok", version: VERSION }), { detail: { summary: "Liveness: the process is up" } })
    .get(
      "/v1/system/health",
      async ({ set }) => {
        const { status, body } = await readiness(ctx);
        set.status = status;
        return body;
      },
      { detail: { summary: "Readiness: database, bus, workers" } },
    )
    .get(
      "/metrics",
      async () => {
        await refreshDbGauges(ctx).catch((error) => ctx.logger.warn({ error }, "metrics: database gauges not refreshed"));
        return new Response(await ctx.metrics.registry.metrics(), { headers: { "content-type": ctx.metrics.registry.contentType } });
      },
      { detail: { summary: "Prometheus metrics", hide: true } },
    );
}

/** The readiness checks: 503 when a dependency fails (warnings do not make the kernel unready). */
async function readiness(ctx: KernelContext) {
  const checks: Record<string, Check> = {};
  const dbOk = await ctx.database.ping(2000);
  checks.database = dbOk ? { status: "ok", detail: `${ctx.database.driver} reachable` } : { status: "fail", detail: `${ctx.database.driver} not reachable` };
  const bus = ctx.bus.health();
  checks.bus = { status: bus.ok ? "ok" : "fail", detail: bus.detail };
  if (dbOk) Object.assign(checks, await workerChecks(ctx));
  if (ctx.state.stopping) checks.kernel = { status: "fail", detail: "shutting down" };
  // Development mode is reported as a warning on every readiness check, so no one runs it unknowingly.
  checks.auth = ctx.config.AUTH_DEV_MODE
    ? { status: "warn", detail: "AUTH_DEV_MODE: authentication is DISABLED (every caller is admin); never use in production" }
    : { status: "ok", detail: "authentication required" };
  const failing = Object.entries(checks)
    .filter(([, c]) => c.status === "fail")
    .map(([k]) => k);
  const body = {
    status: failing.length ? "unavailable" : "ok",
    ...(failing.length ? { error: { code: ctx.state.stopping ? "WE-SYS-004" : dbOk ? "WE-SYS-003" : "WE-SYS-002", failing } } : {}),
    version: VERSION,
    commit: COMMIT,
    mode: ctx.config.standalone ? "standalone" : "distributed",
    uptime_seconds: Math.round((Date.now() - ctx.state.startedAt.getTime()) / 1000),
    checks,
  };
  return { status: failing.length ? 503 : 200, body };
}

async function workerChecks(ctx: KernelContext): Promise<Record<string, Check>> {
  const n = await healthyWorkerCount(ctx.db).catch(() => 0);
  // No workers does not make the API unready (jobs can still be submitted and will wait), but it is
  // the first thing an operator needs to see when jobs stay queued.
  const workers: Check = n > 0 ? { status: "ok", detail: `${n} healthy` } : { status: "warn", detail: "no healthy workers: jobs will stay queued" };
  // Kernel N works with workers N-1 and N (docs/deployment.md): a worker outside that shows here.
  const online = await onlineWorkerVersions(ctx).catch(() => []);
  return { workers, worker_versions: workerVersionCheck(VERSION, online) };
}
