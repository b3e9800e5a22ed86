/**
 * One SSE connection: the wire format, and a stream with a bounded buffer. Events are pushed by the hub; a
 * client that does not read falls behind until its buffer limit, then it is disconnected (it resumes with
 * Last-Event-ID and replays what it missed, at its own pace, instead of holding memory on the kernel).
 *
 * Replay/live boundary: while the stored events after the client's Last-Event-ID are replayed, live events
 * are held back (`buffering`); going live sends the held ones that come after the last replayed id. Every
 * stored event is sent at most once and in id order (ids ≤ the last one sent are dropped).
 */
import type { EventView, StoredEvent } from "./store.ts";

const encoder = new TextEncoder();

/** `id:` (stored events only), `event:`, `data:` (one line: JSON never contains a raw newline). */
export function formatEvent(view: EventView): string {
  return `${view.id !== null ? `id: ${view.id}\n` : ""}event: ${view.type}\ndata: ${JSON.stringify(view)}\n\n`;
}

export function formatComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, " ")}\n\n`;
}

export interface SseLimits {
  /** Bytes the stream holds before it counts as backed up (the reader pulls below this). */
  highWaterBytes: number;
  /** Bytes beyond highWaterBytes at which the client is disconnected as too slow. */
  maxBacklogBytes: number;
  /** Live events held during the replay before the client is disconnected. */
  maxHeldEvents: number;
  /** The reconnect delay hint (`retry:`) in ms. */
  retryMs: number;
}

export type CloseReason = "client" | "slow" | "shutdown" | "error" | "done" | "revoked";

export class SseClient {
  readonly stream: ReadableStream<Uint8Array>;
  /** The highest stored event id sent (or skipped as already known); live events at or below it are dropped. */
  lastSent: number;
  closed = false;
  closeReason: CloseReason | undefined;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private buffering = true;
  private held: StoredEvent[] = [];
  private drainWaiters: Array<() => void> = [];
  private readonly onClose: Array<(reason: CloseReason) => void> = [];

  constructor(
    readonly matches: (e: EventView) => boolean,
    lastSent: number,
    private readonly limits: SseLimits,
  ) {
    this.lastSent = lastSent;
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          this.controller = c;
          c.enqueue(encoder.encode(`retry: ${limits.retryMs}\n\n`));
        },
        pull: () => this.wakeDrain(),
        // The client went away (Bun calls this, and aborts request.signal, when the connection closes).
        cancel: () => this.finish("client"),
      },
      { highWaterMark: limits.highWaterBytes, size: (chunk) => chunk?.byteLength ?? 0 },
    );
  }

  /** Registers a callback run once when the connection ends, for whatever reason. */
  whenClosed(fn: (reason: CloseReason) => void): void {
    if (this.closed) fn(this.closeReason!);
    else this.onClose.push(fn);
  }

  /** A stored event from the hub (live). Held during the replay. */
  pushLive(event: StoredEvent): void {
    if (this.closed || !this.matches(event)) return;
    if (this.buffering) {
      this.held.push(event);
      if (this.held.length > this.limits.maxHeldEvents) this.close("slow");
      return;
    }
    this.sendStored(event);
  }

  /** A progress update (not stored): only once live; during the replay the next update will do. */
  pushVolatile(event: EventView): void {
    if (this.closed || this.buffering || !this.matches(event)) return;
    this.write(formatEvent(event));
  }

  /** A replayed stored event (already filtered by the query). */
  sendStored(event: StoredEvent): void {
    if (event.id <= this.lastSent) return;
    this.lastSent = event.id;
    this.write(formatEvent(event));
  }

  /** The replay is done: send what was held, then stream live. */
  goLive(): void {
    const held = this.held;
    this.held = [];
    this.buffering = false;
    for (const e of held) this.sendStored(e);
  }

  write(text: string): void {
    if (this.closed) return;
    try {
      this.controller.enqueue(encoder.encode(text));
    } catch {
      this.finish("client"); // the stream was cancelled under us
      return;
    }
    if ((this.controller.desiredSize ?? 0) < -this.limits.maxBacklogBytes) this.close("slow");
  }

  /** True when the reader keeps up (used to pace the replay). */
  get ready(): boolean {
    return (this.controller.desiredSize ?? 0) > 0;
  }

  /** Resolves when the stream wants more data, or the client is gone. */
  async drained(): Promise<void> {
    while (!this.closed && !this.ready) await new Promise<void>((r) => this.drainWaiters.push(r));
  }

  /** Ends the response (the client's EventSource reconnects with Last-Event-ID). */
  close(reason: CloseReason): void {
    if (this.closed) return;
    try {
      if (reason === "slow") this.controller.enqueue(encoder.encode(formatComment("disconnected: this client reads too slowly; reconnect with Last-Event-ID to resume")));
      if (reason === "revoked") this.controller.enqueue(encoder.encode(formatComment("disconnected: the API key of this stream has been revoked or has expired")));
      this.controller.close();
    } catch {
      /* already closed or cancelled */
    }
    this.finish(reason);
  }

  private finish(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    this.held = [];
    this.wakeDrain();
    for (const fn of this.onClose.splice(0)) fn(reason);
  }

  private wakeDrain(): void {
    for (const w of this.drainWaiters.splice(0)) w();
  }
}
