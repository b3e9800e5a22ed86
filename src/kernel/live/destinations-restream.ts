/**
 * A live stream's destinations put to work (issue 16, docs/restream.md "Live stream destinations"): when a
 * session's first publisher attaches and the stream has enabled destinations, ONE restream is started with
 * the session as its input and those destinations (the restream task of src/kernel/restream/); when the
 * session ends, it is stopped.
 *
 * - A publisher reconnecting within LIVE_RECONNECT_GRACE keeps the session (sessions.ts), so the restream
 *   and its destinations' connections stay up: the platforms see one broadcast.
 * - Adding, changing, removing, enabling or disabling a destination while the stream is live restarts the
 *   restream (stop, then start with the enabled destinations as they are now): simple and always correct;
 *   every destination reconnects once. The change may reach any kernel: it is announced on the bus and the
 *   kernel that ingests the session restarts it.
 * - An OAuth publisher's destination without url and key gets its ingest from the plugin (`prepare_live`,
 *   src/kernel/publishers/call.ts) at each start, and `end_live` at the end. One whose plugin refuses is
 *   shown `failed` with the plugin's message; the others go ahead.
 */
import type { Logger } from "pino";
import { errorMessage } from "../../core/errors.ts";
import type { LiveIngest } from "../../plugin-runtime/pillars.ts";
import type { KernelContext } from "../context.ts";
import { callPublisher } from "../publishers/call.ts";
import type { StoredDestination } from "../restream/request.ts";
import { startRestream, stopRestream } from "../restream/service.ts";
import { enabledDestinations, runningSessionRestreamIds, runningStreamRestream } from "./destinations.ts";
import { type DestinationLiveState, STOPPED_STATE, type StreamDestinationRow } from "./destinations-rules.ts";
import type { LiveSession, LiveSessionManager } from "./sessions.ts";

/** Bus subject (fan-out to every kernel): a stream's destinations changed. */
export const DESTINATIONS_CHANGED_EVENT = "stream.destinations.changed";

/** What this module needs of the restream domain (src/kernel/restream/), injected so it can be tested alone. */
export interface RestreamControl {
  /** Starts a restream of the live session to the destinations; its id. */
  start(input: { streamId: string; sessionId: string; name: string; destinations: StoredDestination[] }): Promise<string>;
  stop(restreamId: string): Promise<void>;
}

/** The restream domain's start and stop (src/kernel/restream/service.ts). */
export function restreamControl(ctx: KernelContext): RestreamControl {
  return {
    start: async ({ streamId, sessionId, name, destinations }) => (await startRestream(ctx, { name, input: { live_session: { stream_id: streamId, session_id: sessionId } }, destinations, origin: "stream" })).id,
    stop: async (restreamId) => void (await stopRestream(ctx, restreamId, "stream ended or its destinations changed")),
  };
}

interface Running {
  restreamId: string | null;
  /** Destinations the kernel could not resolve (their publisher refused): shown `failed`. */
  refused: Map<string, string>;
  /** OAuth broadcasts to end with the session. */
  broadcasts: Array<{ publisher: string; broadcastId: string }>;
}

export class StreamRestreams {
  private readonly running = new Map<string, Running>();
  /** One start/stop at a time per stream: a change during a start waits for it. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly ctx: KernelContext,
    private readonly manager: LiveSessionManager,
    private readonly control: RestreamControl,
    private readonly logger: Logger,
  ) {
    manager.listen({ started: (session) => this.serial(session.stream.id, () => this.start(session)), ended: (session) => this.serial(session.stream.id, () => this.stop(session.stream.id)) });
    this.unsubscribe = ctx.bus.subscribe<{ stream_id: string }>(DESTINATIONS_CHANGED_EVENT, ({ stream_id }) => void this.restart(stream_id));
  }

  private serial(streamId: string, step: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(streamId) ?? Promise.resolve()).then(step).catch((error) => this.logger.warn({ err: error, stream_id: streamId }, "stream restream: step failed"));
    this.chains.set(streamId, next);
    return next;
  }

  /** The restart after a change, when this kernel ingests the stream and its session has started. */
  restart(streamId: string): Promise<void> {
    const session = this.manager.sessionOfStream(streamId);
    if (!session?.started || session.ended) return Promise.resolve();
    return this.serial(streamId, async () => {
      await this.stop(streamId);
      if (!session.ended) await this.start(session);
    });
  }

  private async start(session: LiveSession): Promise<void> {
    const rows = await enabledDestinations(this.ctx.db, session.stream.id);
    if (rows.length === 0) return;
    const run: Running = { restreamId: null, refused: new Map(), broadcasts: [] };
    this.running.set(session.stream.id, run);
    const destinations: StoredDestination[] = [];
    for (const row of rows) {
      const stored = await this.resolve(session, row, run);
      if (stored) destinations.push(stored);
    }
    if (destinations.length === 0) return;
    run.restreamId = await this.control.start({ streamId: session.stream.id, sessionId: session.sessionId, name: `${session.stream.name} (live)`, destinations });
    this.logger.info({ stream_id: session.stream.id, session_id: session.sessionId, restream_id: run.restreamId, destinations: destinations.length }, "stream restream started");
  }

  /** The destination as the restream takes it: its own url and sealed key, or its publisher's ingest. */
  private async resolve(session: LiveSession, row: StreamDestinationRow, run: Running): Promise<StoredDestination | undefined> {
    const base = { id: row.id, publisher: "rtmp" as const, ...(row.transcode ? { transcode: row.transcode } : {}) };
    if (row.url !== null && row.keySealed !== null) return { ...base, url: row.url, key_sealed: row.keySealed };
    try {
      const ingest = await callPublisher<LiveIngest>(this.ctx, row.publisher, "prepare_live", { title: session.stream.name });
      if (ingest.broadcast_id) run.broadcasts.push({ publisher: row.publisher, broadcastId: ingest.broadcast_id });
      return { ...base, url: ingest.url, key_sealed: this.ctx.secrets.encrypt(ingest.key) };
    } catch (error) {
      const message = errorMessage(error);
      run.refused.set(row.id, message);
      this.logger.warn({ stream_id: session.stream.id, destination_id: row.id, publisher: row.publisher, error: message }, "stream restream: the publisher handed out no ingest");
      return undefined;
    }
  }

  private async stop(streamId: string): Promise<void> {
    const run = this.running.get(streamId);
    this.running.delete(streamId);
    if (!run) return;
    if (run.restreamId) await this.control.stop(run.restreamId);
    for (const { publisher, broadcastId } of run.broadcasts)
      await callPublisher(this.ctx, publisher, "end_live", { broadcast_id: broadcastId }).catch((error) => this.logger.warn({ err: error, stream_id: streamId, publisher }, "stream restream: end_live failed"));
    this.logger.info({ stream_id: streamId, restream_id: run.restreamId }, "stream restream stopped");
  }

  /** Destinations refused at the start of this kernel's running restream of the stream. */
  refusedOf(streamId: string): Map<string, string> {
    return this.running.get(streamId)?.refused ?? new Map();
  }

  async stopAll(): Promise<void> {
    this.unsubscribe();
    for (const streamId of [...this.running.keys()]) await this.serial(streamId, () => this.stop(streamId));
  }
}

const instances = new WeakMap<object, StreamRestreams>();

/** This kernel's instance (set by the live runtime when it ingests), for the refused destinations' state. */
export function setStreamRestreams(ctx: object, instance: StreamRestreams): void {
  instances.set(ctx, instance);
}

/** Tells every kernel (this one included) that a stream's destinations changed. */
export async function destinationsChanged(ctx: KernelContext, streamId: string): Promise<void> {
  await ctx.bus.publish(DESTINATIONS_CHANGED_EVENT, { stream_id: streamId }).catch(() => undefined);
}

/**
 * Each destination's live state: the latest report of the stream's running restream (any kernel may answer:
 * it is read from the database), `connecting` for one it runs but has not reported yet, `failed` for one its
 * publisher refused (on the ingesting kernel), none (= stopped) otherwise.
 */
export async function destinationStates(ctx: KernelContext, streamId: string): Promise<Map<string, DestinationLiveState>> {
  const states = new Map<string, DestinationLiveState>();
  const running = await runningStreamRestream(ctx.db, streamId);
  for (const destination of running?.destinations ?? []) states.set(destination.id, { ...STOPPED_STATE, status: "connecting" });
  for (const report of running?.reports ?? []) states.set(report.id, { status: report.status, bitrate_kbps: report.bitrate_kbps, uptime_s: report.uptime_s, reconnects: report.reconnects, last_error: report.last_error });
  for (const [id, message] of instances.get(ctx)?.refusedOf(streamId) ?? []) states.set(id, { status: "failed", bitrate_kbps: 0, uptime_s: 0, reconnects: 0, last_error: message });
  return states;
}

/**
 * A session ended by another kernel than its ingesting one (its kernel was lost: lost-sessions.ts): nothing on
 * the lost kernel will stop the session's restream, so the kernel that ends the session does.
 */
export async function stopSessionRestreams(ctx: KernelContext, sessionId: string): Promise<void> {
  for (const id of await runningSessionRestreamIds(ctx.db, sessionId)) await stopRestream(ctx, id, "the stream's ingesting kernel was lost");
}
