/**
 * Live ingest on this kernel: the RTMP server (src/live/ingest/server.ts) on LIVE_RTMP_PORT with the session
 * manager deciding every publish, the runtime around sessions (runtime.ts: live task, delivery, telemetry,
 * recording), and a tick every TELEMETRY_INTERVAL_MS that saves byte counts, ends sessions that were stopped
 * through another kernel (POST /v1/streams/:id/stop closes the row wherever it runs) and sends telemetry.
 * In distributed mode every kernel, ingest on or off, also ends the sessions of kernels that died
 * (lost-sessions.ts, reason `kernel_lost`).
 *
 * A taken port rejects with the server's ListenError naming LIVE_RTMP_PORT (main.ts exits 3, like for PORT).
 */
import { eq, isNull } from "drizzle-orm";
import type { Logger } from "pino";
import { streamSessions } from "../../db/schema.ts";
import { startRtmpServer } from "../../live/ingest/server.ts";
import type { RtmpServer } from "../../live/ingest/types.ts";
import type { KernelContext } from "../context.ts";
import { setLiveManager } from "./registry.ts";
import { LIVE_PROGRESS_EVENT, LiveRuntime } from "./runtime.ts";
import { LiveSessionManager } from "./sessions.ts";
import { closeSession } from "./streams-store.ts";
import { lostAfterMs, watchLostSessions } from "./lost-sessions.ts";

export const TELEMETRY_INTERVAL_MS = 2_000;
/** RTMP defaults every encoder handles: chunks up to 64 KiB, one message (a keyframe) up to 16 MiB. */
const MAX_CHUNK_SIZE = 65_536;
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface LiveIngest {
  /** Absent when this kernel does not ingest (LIVE_RTMP_PORT=0). */
  readonly manager?: LiveSessionManager;
  readonly server?: RtmpServer;
  stop(): Promise<void>;
}

/** `internalBase`: where workers reach this kernel's internal live endpoints (internal-url.ts). */
export async function startLiveIngest(ctx: KernelContext, logger: Logger, internalBase: string): Promise<LiveIngest | undefined> {
  const config = ctx.config;
  // Any kernel may handle a live task's progress (the results queue is shared): each forwards the transcode
  // report on the bus to the kernel that ingests the session, ingest on or off.
  ctx.orchestrator.deps.onLiveProgress = (update) => void ctx.bus.publish(LIVE_PROGRESS_EVENT, update).catch(() => {});
  // Sessions of dead kernels, ingest on or off here; standalone has one kernel (closeLeftoverSessions).
  const unwatch = config.standalone ? () => {} : watchLostSessions(ctx, logger, lostAfterMs(config.LIVE_RECONNECT_GRACE, TELEMETRY_INTERVAL_MS), 2 * TELEMETRY_INTERVAL_MS);
  if (config.LIVE_RTMP_PORT === 0) return { stop: async () => unwatch() };
  const manager = new LiveSessionManager({ db: ctx.db, logger, kernelId: ctx.instanceId, graceMs: config.LIVE_RECONNECT_GRACE, maxStreams: config.LIVE_MAX_STREAMS });
  if (config.standalone) await closeLeftoverSessions(ctx);
  let server: RtmpServer;
  try {
    server = await startRtmpServer({
      host: config.HOST,
      port: config.LIVE_RTMP_PORT,
      limits: { maxSessions: config.LIVE_MAX_STREAMS, maxBitrateKbps: config.LIVE_MAX_BITRATE_KBPS, maxChunkSize: MAX_CHUNK_SIZE, maxMessageBytes: MAX_MESSAGE_BYTES, idleTimeoutMs: config.LIVE_IDLE_TIMEOUT },
      authorize: (request) => manager.authorize(request),
      onPublish: (session) => manager.onPublish(session),
      onEnd: (session, reason) => manager.onEnd(session, reason),
      logger,
    });
  } catch (error) {
    unwatch();
    throw error;
  }
  const runtime = new LiveRuntime(ctx, manager, internalBase, logger);
  setLiveManager(ctx, manager, runtime);
  const closedElsewhere = async (sessionId: string): Promise<string | null> => {
    const [row] = await ctx.db.select({ endedAt: streamSessions.endedAt, endReason: streamSessions.endReason }).from(streamSessions).where(eq(streamSessions.id, sessionId));
    if (row && row.endedAt === null) return null;
    return row?.endReason ?? "kicked";
  };
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    manager
      .flush(closedElsewhere)
      .then(() => runtime.tick())
      .catch((error) => logger.warn({ err: error }, "live ingest: tick failed"))
      .finally(() => (ticking = false));
  }, TELEMETRY_INTERVAL_MS);
  return {
    manager,
    server,
    async stop() {
      clearInterval(timer);
      unwatch();
      await server.stop();
      await manager.stopAll("server_stopped");
      runtime.stop();
    },
  };
}

/**
 * Standalone mode has one kernel: a session still open at start was left by a previous process that died
 * (its publisher is gone with it). Closed so the stream can go live again.
 */
async function closeLeftoverSessions(ctx: KernelContext): Promise<void> {
  for (const row of await ctx.db.select().from(streamSessions).where(isNull(streamSessions.endedAt))) await closeSession(ctx.db, row.id, "kernel_restarted", row.bytesIn);
}
