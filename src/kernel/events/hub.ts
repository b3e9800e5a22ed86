/**
 * The event hub of one kernel: reads new events from the events table and fans them out to this kernel's
 * SSE clients, relays job progress from the bus and keeps connections alive (retention: src/kernel/retention.ts).
 *
 * Multi-kernel delivery: every kernel's hub reads the shared events table, so any kernel serves any client
 * and sees every event whichever kernel (or transaction) wrote it. How a hub learns that there is something
 * new: it polls (`id > cursor`, one indexed statement) every POLL_MS while it has at least one client, and
 * not at all otherwise. We chose this over an "events.new" bus notification after each commit because the
 * poll is needed for correctness anyway (a missing id is only settled by a later read, cursor.ts) and it
 * couples to nothing: a notification would have to be published after every transaction that records an
 * event — job creation, claims, results, the reconciler, cancel/retry, worker sync, drain, plugin states,
 * and every future one — and a forgotten call site would be a silent delay nobody notices. What it costs:
 * up to POLL_MS of latency and four cheap queries a second per kernel with clients.
 * Job progress is not stored: it comes over the bus (JOB_PROGRESS_SUBJECT) straight to the clients.
 */
import { activeApiKeyIds } from "../auth/api-keys.ts";
import { JOB_PROGRESS_SUBJECT } from "../../bus/subjects.ts";
import type { Unsubscribe } from "../../bus/types.ts";
import { AppError, errorMessage } from "../../core/errors.ts";
import type { KernelContext } from "../context.ts";
import { advance, type Cursor } from "./cursor.ts";
import { type EventFilter, matches } from "./filters.ts";
import type { JobProgressUpdate } from "./progress.ts";
import { type SseLimits, SseClient, formatComment, formatEvent } from "./sse.ts";
import { currentHead, currentXmin, type EventView, readAfter, replayPage, resumeGap } from "./store.ts";

export interface HubOptions {
  pollMs: number;
  /** Rows read per poll and per replay page. */
  batch: number;
  heartbeatMs: number;
  /** How long a missing event id may hold back the ones after it (a transaction running this long). */
  maxGapWaitMs: number;
  /** How long the first client waits for transactions running at the hub's start to end. */
  startWaitMs: number;
  /** How often streams opened with an API key (or a stream token issued for one) re-check it. */
  authRecheckMs: number;
  limits: SseLimits;
}

export const DEFAULT_HUB_OPTIONS: HubOptions = {
  pollMs: 250,
  batch: 500,
  heartbeatMs: 15_000,
  maxGapWaitMs: 60_000,
  startWaitMs: 5_000,
  authRecheckMs: 30_000,
  limits: { highWaterBytes: 64 * 1024, maxBacklogBytes: 4 * 1024 * 1024, maxHeldEvents: 10_000, retryMs: 2_000 },
};

type HubContext = Pick<KernelContext, "db" | "bus" | "logger" | "config">;

export class EventHub {
  private readonly clients = new Set<SseClient>();
  /** The API key behind each client opened with one; the stream ends when the key is revoked or expires. */
  private readonly keyOf = new Map<SseClient, string>();
  /** Where live delivery stands; undefined while no client is connected (re-read on the next one). */
  private cursor: Cursor | undefined;
  private starting: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private timers: Array<ReturnType<typeof setInterval>> = [];
  private unsubscribe: Unsubscribe | undefined;
  private stopped = false;
  private readonly o: HubOptions;

  constructor(
    private readonly ctx: HubContext,
    opts: Partial<HubOptions> = {},
  ) {
    this.o = { ...DEFAULT_HUB_OPTIONS, authRecheckMs: ctx.config.EVENTS_AUTH_RECHECK ?? DEFAULT_HUB_OPTIONS.authRecheckMs, ...opts };
  }

  /** Connected SSE clients (a closed connection leaves this set at once: no leaked subscriptions). */
  get clientCount(): number {
    return this.clients.size;
  }

  start(): void {
    this.unsubscribe = this.ctx.bus.subscribe<JobProgressUpdate>(JOB_PROGRESS_SUBJECT, (p) => this.relayProgress(p));
    this.timers.push(setInterval(() => this.heartbeat(), this.o.heartbeatMs));
    this.timers.push(setInterval(() => void this.recheckCredentials(), Math.max(100, this.o.authRecheckMs)));
  }

  /** Ends every SSE response (so a graceful HTTP stop does not wait on them) and stops the loops. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.unsubscribe?.();
    for (const c of [...this.clients]) c.close("shutdown");
    this.wake?.();
    await this.loop;
  }

  /**
   * Opens an SSE stream: replays the stored events after `lastEventId` that match the filter (or says
   * `reset` when they are no longer kept), then streams live events. Resolves once the stream is set up.
   */
  async open(filter: EventFilter, lastEventId: number | undefined, signal?: AbortSignal, credential?: { apiKeyId?: string }): Promise<Response> {
    if (this.stopped) throw new AppError("WE-SYS-004", "the kernel is shutting down; reconnect (to another kernel)");
    while (!this.cursor) {
      this.starting ??= this.init().finally(() => (this.starting = undefined));
      await this.starting;
      if (this.stopped) throw new AppError("WE-SYS-004", "the kernel is shutting down; reconnect (to another kernel)");
    }
    // From here to the end, synchronous: no poll can deliver between reading the horizon and subscribing.
    const horizon = this.cursor.last;
    const client = new SseClient((e) => matches(filter, e), lastEventId ?? horizon, this.o.limits);
    this.clients.add(client);
    if (credential?.apiKeyId) this.keyOf.set(client, credential.apiKeyId);
    client.whenClosed((reason) => {
      this.clients.delete(client);
      this.keyOf.delete(client);
      if (reason === "slow") this.ctx.logger.info({ filter: describe(filter), last_sent: client.lastSent }, "SSE client disconnected: it read too slowly");
    });
    signal?.addEventListener("abort", () => client.close("client"), { once: true });
    if (signal?.aborted) client.close("client"); // gone while we waited for the start

    this.loop ??= this.run();
    void this.replay(client, filter, lastEventId, horizon);
    return new Response(client.stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        // nginx buffers responses by default, which would hold events back.
        "x-accel-buffering": "no",
      },
    });
  }

  /**
   * Ends the streams whose API key was revoked or expired since they opened (one query for all of them). Runs
   * every EVENTS_AUTH_RECHECK, and at once when a key is revoked through this kernel; other kernels' streams
   * follow at their next check.
   */
  async recheckCredentials(): Promise<number> {
    if (!this.keyOf.size) return 0;
    try {
      const active = await activeApiKeyIds(this.ctx.db, [...new Set(this.keyOf.values())]);
      let closed = 0;
      for (const [client, keyId] of [...this.keyOf]) {
        if (active.has(keyId)) continue;
        client.close("revoked");
        closed++;
      }
      if (closed) this.ctx.logger.info({ closed }, "SSE streams ended: their API key was revoked or expired");
      return closed;
    } catch (error) {
      this.ctx.logger.warn({ error: errorMessage(error) }, "SSE credential re-check failed; retrying at the next interval");
      return 0;
    }
  }

  /**
   * The starting point of live delivery: the newest event id, once every transaction running when it was read
   * has ended (one of them may hold a smaller id that is not visible yet).
   */
  private async init(): Promise<void> {
    const head = await currentHead(this.ctx.db);
    const deadline = Date.now() + this.o.startWaitMs;
    while (head.snap.xmin < head.snap.xmax && !this.stopped) {
      if ((await currentXmin(this.ctx.db)) >= head.snap.xmax) break;
      if (Date.now() > deadline) {
        this.ctx.logger.warn({ wait_ms: this.o.startWaitMs }, "events: a database transaction is still running after the start wait; starting live delivery anyway");
        break;
      }
      await Bun.sleep(20);
    }
    this.cursor = { last: head.maxId, marks: [] };
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.clients.size > 0) {
      let more = false;
      try {
        more = await this.poll();
      } catch (error) {
        this.ctx.logger.warn({ error: errorMessage(error) }, "events: reading new events failed; retrying");
      }
      if (!more) await this.sleep(this.o.pollMs);
    }
    // Synchronously with the loop's last check: a client arriving later re-reads the head.
    if (this.clients.size === 0) this.cursor = undefined;
    this.loop = undefined;
  }

  /** One read; returns true when it hit the batch limit and more rows are waiting. */
  private async poll(): Promise<boolean> {
    const from = this.cursor;
    if (!from) return false;
    const { rows, snap } = await readAfter(this.ctx.db, from.last, this.o.batch);
    if (this.cursor !== from) return false; // reset meanwhile (all clients left)
    const truncated = rows.length === this.o.batch;
    const r = advance(from, rows, snap, truncated, Date.now(), this.o.maxGapWaitMs);
    for (const m of r.abandoned) {
      this.ctx.logger.warn({ up_to: m.upTo, waited_ms: Date.now() - m.at }, "events: gave up waiting for a transaction holding an earlier event id; if it commits, live clients miss that event");
    }
    this.cursor = r.cursor;
    const clients = [...this.clients];
    for (const e of r.deliver) for (const c of clients) c.pushLive(e);
    return truncated && r.deliver.length > 0;
  }

  private async replay(client: SseClient, filter: EventFilter, lastEventId: number | undefined, horizon: number): Promise<void> {
    try {
      if (lastEventId !== undefined && lastEventId < horizon) {
        const gap = await resumeGap(this.ctx.db, lastEventId);
        if (gap) {
          client.lastSent = horizon;
          client.write(formatEvent(resetView(gap, horizon)));
        } else {
          let after = lastEventId;
          while (!client.closed) {
            const page = await replayPage(this.ctx.db, filter, after, horizon, this.o.batch);
            for (const e of page) client.sendStored(e);
            if (page.length < this.o.batch) break;
            after = page[page.length - 1]!.id;
            await client.drained();
          }
        }
      } else if (lastEventId !== undefined && lastEventId > horizon) {
        // Ahead of this kernel (it came from a faster one) or never issued: the latter needs a reset.
        const gap = await resumeGap(this.ctx.db, lastEventId);
        if (gap) {
          client.lastSent = horizon;
          client.write(formatEvent(resetView(gap, horizon)));
        }
      }
      client.goLive();
    } catch (error) {
      this.ctx.logger.warn({ error: errorMessage(error) }, "SSE replay failed; closing the stream (the client resumes with Last-Event-ID)");
      client.close("error");
    }
  }

  private relayProgress(update: JobProgressUpdate): void {
    if (!this.clients.size || typeof update?.job_id !== "string") return;
    const e: EventView = { id: null, type: "job.progress", job_id: update.job_id, stream_id: null, worker_id: null, data: { job_id: update.job_id, progress: update.progress, eta_seconds: update.eta_seconds ?? null }, created_at: new Date().toISOString() };
    for (const c of [...this.clients]) c.pushVolatile(e);
  }

  private heartbeat(): void {
    const line = formatComment(`keep-alive ${new Date().toISOString()}`);
    for (const c of [...this.clients]) c.write(line);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}

/** `event: reset`: the client missed events that are gone and must reload its state (GET /v1/jobs…). */
function resetView(reason: string, horizon: number): EventView {
  return {
    id: null,
    type: "reset",
    job_id: null,
    stream_id: null,
    worker_id: null,
    data: { reason, resume_from: horizon, action: "reload the state you track (GET /v1/jobs/…), then keep reading this stream" },
    created_at: new Date().toISOString(),
  };
}

function describe(filter: EventFilter): Record<string, unknown> {
  return { job_id: filter.jobId, stream_id: filter.streamId, types: filter.types ? [...filter.types.exact, ...filter.types.prefixes.map((p) => `${p}*`)] : undefined };
}

const hubs = new WeakMap<object, EventHub>();

/** The hub of a kernel (one per kernel context; created on first use, started by start.ts). */
export function eventHubOf(ctx: HubContext): EventHub {
  let hub = hubs.get(ctx);
  if (!hub) hubs.set(ctx, (hub = new EventHub(ctx)));
  return hub;
}
