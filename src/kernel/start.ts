/**
 * Starts a kernel: database (migrated), bus, HTTP API, background loops, and in standalone mode an
 * embedded worker. Returns a handle whose `stop()` drains in the right order. Used by the executable
 * (src/kernel/main.ts) and by integration tests that run a kernel in-process.
 */
import { openBus } from "../bus/factory.ts";
import type { Bus } from "../bus/types.ts";
import { errorMessage } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { assertCanListen, listen } from "../core/listen.ts";
import { createRegistry } from "../core/metrics.ts";
import { VERSION } from "../core/version.ts";
import { type Database, openDatabase } from "../db/client.ts";
import { MigrationError, migrate, migrationStatus } from "../db/migrate.ts";
import { startEmbeddedWorker, type EmbeddedWorker } from "../worker/embedded.ts";
import { createApp } from "./api/app.ts";
import { loadKernelTls } from "./tls.ts";
import type { KernelConfig } from "./config.ts";
import type { KernelContext } from "./context.ts";
import { createKernelMetrics } from "./metrics.ts";
import { PluginHost } from "../plugin-runtime/host/host.ts";
import { createPluginMetrics } from "../plugin-runtime/host/metrics.ts";
import { PLUGIN_CHANGED, type PluginChanged, servePluginSettings } from "../plugin-runtime/remote-settings.ts";
import { builtinDefaults } from "./plugin-registry/defaults.ts";
import { PluginSettingsStore } from "./plugin-registry/settings-store.ts";
import { busAuthenticatesClients, workerPluginInfo } from "./plugin-registry/worker-settings.ts";
import { startOrchestrator } from "./orchestrator/index.ts";
import { eventHubOf } from "./events/hub.ts";
import { startRetention } from "./retention.ts";
import { startPublishResumer } from "./publishers/publish-resumer.ts";
import { pluginStateRecorder } from "./events/plugin-events.ts";
import { startWebhookSender } from "./webhooks/sender.ts";
import { startLiveIngest } from "./live/ingest.ts";
import { liveInternalBase } from "./live/internal-url.ts";
import { startRestreams } from "./restream/runtime.ts";
import { createAdvance } from "./pipeline/advance.ts";
import { createCleanup } from "./pipeline/cleanup.ts";
import { tasks } from "../db/schema.ts";
import { kernelSecretBox } from "./secrets.ts";
import { ensureFirstAdmin } from "./auth/bootstrap.ts";
import { join } from "node:path";
import { and, eq, sql } from "drizzle-orm";

export interface KernelHandle {
  ctx: KernelContext;
  /** The base URL the API listens on (with the real port when PORT=0). */
  url: string;
  stop(): Promise<void>;
}


export async function startKernel(config: KernelConfig, logger: Logger): Promise<KernelHandle> {
  // Certificate problems stop the start before anything else is opened (tls.ts).
  const tls = loadKernelTls(config);
  const listenTarget = { portVariable: "PORT", hostVariable: "HOST", port: config.PORT, host: config.HOST };
  const timeline = startTimeline();
  await assertCanListen(listenTarget);
  const database = await openDatabase({ url: config.DATABASE_URL, dataDir: config.DATA_DIR });
  timeline.mark("database open");
  let bus: Bus | undefined;
  let plugins: PluginHost | undefined;
  /** What was started before a failure later in the start (a taken port): stopped in reverse order. */
  const undo: (() => unknown)[] = [];
  try {
    await prepareSchema(database, config, logger);
    timeline.mark("schema checked");
    bus = await openBus(config, logger, `webencode-kernel-${process.pid}`);
    timeline.mark("bus open");
    const metrics = createKernelMetrics(createRegistry("kernel"));
    const secrets = kernelSecretBox(config);
    const pluginSettings = new PluginSettingsStore(database.db, builtinDefaults(config), secrets);
    const seeded = await pluginSettings.seedFromToml(config.PLUGIN_DIR, logger);
    if (seeded.length) logger.info({ plugins: seeded }, "plugin settings seeded from plugins.toml");
    // Generated once per deployment, shared by every kernel: storage-fs signs download URLs, auth-basic sessions.
    await pluginSettings.ensureGeneratedSecret("storage-fs", "storage", "url_signing_key", 32);
    await pluginSettings.ensureGeneratedSecret("auth-basic", "auth", "session_secret", 48);
    await ensureFirstAdmin(database.db, { dataDir: config.DATA_DIR, adminKey: config.ADMIN_API_KEY, logger });
    if (config.AUTH_DEV_MODE) warnDevMode(logger);
    timeline.mark("settings and first admin");
    const instanceId = crypto.randomUUID();
    plugins = new PluginHost({
      logger,
      pluginDir: config.PLUGIN_DIR,
      pillars: ["storage", "auth", "live", "publisher"],
      catalogPillars: ["encoder"],
      settings: pluginSettings,
      metrics: createPluginMetrics(metrics.registry),
      onStateChange: pluginStateRecorder(database.db, logger, instanceId),
      watchIntervalMs: config.PLUGIN_WATCH_INTERVAL,
    });
    // Plugins are found (manifests, routing) now; their processes are started once the API listens, and a
    // request that needs one meanwhile waits for it (bounded: supervisor.ts readyWaitMs, then 503 WE-PLG-005).
    // The API's readiness is the database and the bus, not the plugins (docs/operations.md).
    await plugins.discover();
    timeline.mark("plugins found");
    const ctx: KernelContext = {
      config,
      logger,
      database,
      db: database.db,
      bus,
      metrics,
      state: { stopping: false, startedAt: new Date() },
      plugins,
      pluginSettings,
      secrets,
      instanceId,
      orchestrator: undefined as never,
    };
    if (bus.kind === "memory") await forgetInProcessDeliveries(ctx);
    ctx.orchestrator = startOrchestrator(ctx, { advance: createAdvance({ minChunkS: config.CHUNK_MIN_DURATION / 1000, maxChunkS: config.CHUNK_MAX_DURATION / 1000, minSplitDurationS: config.SPLIT_MIN_DURATION / 1000, allowUpscale: false, maxTasksPerJob: config.MAX_TASKS_PER_JOB }), onJobEnded: createCleanup(ctx) });
    undo.push(() => ctx.orchestrator.stop());
    const events = eventHubOf(ctx);
    events.start();
    undo.push(() => events.stop());
    const stopRetention = startRetention(ctx);
    undo.push(stopRetention);
    // VOD uploads to publishers (docs/publishers.md): resumes those whose kernel died; stop hands ours back.
    const stopPublishing = startPublishResumer(ctx);
    undo.push(stopPublishing);
    const unserve = servePluginSettings(bus, pluginSettings, workerPluginInfo(plugins, pluginSettings), { sendSecrets: busAuthenticatesClients(config, bus), logger });
    const unsubscribe = bus.subscribe<PluginChanged>(PLUGIN_CHANGED, (ev) => {
      pluginSettings.invalidate(ev.id);
      if (ev.origin === ctx.instanceId) return;
      if (ev.action === "reload") void plugins!.hotReload(ev.id).catch((error) => logger.error({ plugin: ev.id, error: errorMessage(error) }, errorMessage(error)));
      else void plugins!.reload(ev.id);
    });
    undo.push(unserve, unsubscribe);

    // Through listen(): no port sharing, and a taken port is a ListenError naming PORT (main.ts exits 3).
    const app = listen(listenTarget, (bind) =>
      createApp(ctx).listen({
        ...bind,
        // No cap in Bun itself: its own 413 has no body (not the envelope). Every body is limited where it is read:
        // Content-Length and while reading (api/app.ts, api/body-limit.ts: MAX_BODY_SIZE), uploads (UPLOAD_MAX_SIZE).
        maxRequestBodySize: Number.MAX_SAFE_INTEGER,
        ...(tls ? { tls } : {}),
      }),
    );
    const server = app.server!;
    timeline.mark("listening");
    void plugins.launch().catch(() => {}); // never rejects in practice; failures are logged by the host (started())
    const pluginsUp = plugins.started().then(() => timeline.mark("plugins ready"));
    const url = `${tls ? "https" : "http"}://${urlHost(config.HOST)}:${server.port}`;
    // Live ingest (docs/live.md): a taken LIVE_RTMP_PORT is a ListenError like a taken PORT (main.ts exits 3).
    undo.push(() => server.stop(true));
    const live = await startLiveIngest(ctx, logger, liveInternalBase(config, server.port ?? config.PORT));
    // Restreams (docs/restream.md): the schedule tick and the task reports; the claim URL uses the same base.
    const restreams = startRestreams(ctx, liveInternalBase(config, server.port ?? config.PORT));
    undo.pop();


    let worker: EmbeddedWorker | undefined;
    if (config.EMBEDDED_WORKER) worker = await startEmbeddedWorker({ bus, logger, dataDir: config.DATA_DIR, pluginDir: config.PLUGIN_DIR, outboundAllowCidrs: config.OUTBOUND_ALLOW_CIDRS, registry: metrics.registry });

    const webhookSender = startWebhookSender(ctx);
    timeline.mark("started");

    logger.info(
      { port: server.port, mode: config.standalone ? "standalone" : "distributed", database: database.driver, bus: bus.kind, version: VERSION },
      `webencode-kernel listening on ${url}`,
    );
    // The start timeline (LOG_LEVEL=debug) once the plugins are up too: where a slow start goes (docs/BENCHMARKS.md).
    void pluginsUp.then(() => {
      logger.info({ plugins: Object.fromEntries(plugins!.list().map((p) => [p.id, p.state])) }, "plugins started");
      logger.debug({ timeline: timeline.marks }, "start timeline (ms since exec)");
    });

    /** Each shutdown step is bounded: one stuck dependency must not keep the process from exiting. */
    const step = async (name: string, promise: Promise<unknown>, ms: number) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), ms)));
      const r = await Promise.race([promise.then(() => "done" as const, (error) => (logger.warn({ error, step: name }, `shutdown: ${name} failed`), "done" as const)), late]);
      clearTimeout(timer);
      if (r === "late") logger.warn({ step: name, timeout_ms: ms }, `shutdown: ${name} did not finish within ${ms} ms; continuing`);
    };
    return {
      ctx,
      url,
      async stop() {
        ctx.state.stopping = true;
        // Open SSE streams end first: the HTTP drain below would otherwise wait on them until its timeout.
        await step("events", events.stop(), 2_000);
        // Publishers are disconnected and their sessions end (reason server_stopped) while the database is up.
        if (live) await step("live ingest", live.stop(), 3_000);
        // HTTP first: no new connections; requests in flight finish (bounded by SHUTDOWN_TIMEOUT); then idle
        // keep-alive connections are closed, which a graceful stop alone would wait on indefinitely.
        void server.stop(false);
        const deadline = Date.now() + config.SHUTDOWN_TIMEOUT;
        while (server.pendingRequests > 0 && Date.now() < deadline) await Bun.sleep(20);
        await step("http", server.stop(true), 2_000);
        // Attempts in flight get a short grace, then are cut off; their rows are retried when the claim expires.
        await step("webhook sender", webhookSender.stop(), 5_000);
        await step("publications", stopPublishing(), 5_000);
        // The embedded worker hands its running tasks back within its own grace period.
        if (worker) await step("embedded worker", worker.stop(), 15_000);
        await step("restreams", restreams.stop(), 2_000);
        await step("orchestrator", ctx.orchestrator.stop(), 4_000);
        await step("retention", stopRetention(), 4_000);
        unserve();
        unsubscribe();
        await step("plugins", plugins!.stop(), 4_000);
        await step("bus", bus!.close(), 3_000);
        await step("database", database.close(), 3_000);
        logger.info("webencode-kernel stopped");
      },
    };
  } catch (e) {
    for (const fn of undo.reverse()) await Promise.resolve().then(fn).catch(() => {});
    await plugins?.stop().catch(() => {});
    await bus?.close().catch(() => {});
    await database.close().catch(() => {});
    throw e;
  }
}

async function prepareSchema(database: Database, config: KernelConfig, logger: Logger): Promise<void> {
  if (config.MIGRATE_ON_START) {
    const applied = await migrate(database.db);
    if (applied.length) logger.info({ migrations: applied }, `applied ${applied.length} migration(s)`);
    return;
  }
  const pending = (await migrationStatus(database.db)).filter((m) => !m.applied);
  if (pending.length) {
    throw new MigrationError(
      `database schema is behind this kernel: ${pending.length} pending migration(s) (${pending.map((m) => m.tag).join(", ")}); run \`webencode-kernel migrate\` or set MIGRATE_ON_START=true`,
    );
  }
}

/** Milestones of the start in ms since the process began (performance.now() counts from exec). */
function startTimeline(): { marks: Record<string, number>; mark(name: string): void } {
  const marks: Record<string, number> = { "start called": Math.round(performance.now()) };
  return { marks, mark: (name) => void (marks[name] = Math.round(performance.now())) };
}

/** The host part of a URL that reaches this kernel: a wildcard bind is reached on loopback; IPv6 in brackets. */
export function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/** Development mode must be impossible to miss: every caller is an admin. */
function warnDevMode(logger: Logger): void {
  logger.warn(
    { auth: "disabled" },
    "AUTH_DEV_MODE is on: AUTHENTICATION IS DISABLED and every request acts as an admin. This kernel only listens on loopback; never use development mode (or tokens from it) in production.",
  );
}

/**
 * The in-process bus keeps nothing across restarts: every queued task must be published again, and leases
 * held by the previous process's embedded worker are dead now (expire them, so they are retried at once).
 */
async function forgetInProcessDeliveries(ctx: KernelContext): Promise<void> {
  await ctx.db.update(tasks).set({ publishedAt: null }).where(eq(tasks.status, "queued"));
  await ctx.db.update(tasks).set({ leaseExpiresAt: sql`now()` }).where(and(eq(tasks.status, "leased")));
}
