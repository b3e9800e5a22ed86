/**
 * Server-Sent Events over fetch (Bun has no EventSource): a parser (eventsource-parser, the WHATWG rules the
 * kernel's stream uses: `id:`, `event:`, `data:`, `retry:`, `:` comments, blank line = dispatch) and a reader that
 * reconnects with `Last-Event-ID` when the connection drops, so no stored event is lost or seen twice
 * (docs/events.md, "Resume after a disconnect").
 */
import { createParser, type EventSourceParser } from "eventsource-parser";
import type { ApiClient } from "./client.ts";
import { EXIT } from "./errors.ts";

/** How long after its last successful connection an unreachable server is still waited for. */
const RECONNECT_WINDOW_MS = 60_000;

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/**
 * Feed it decoded text as it arrives; it returns the messages completed by that text. The parsing (fields,
 * comments, CRLF, chunk boundaries) is eventsource-parser's.
 */
export class SseParser {
  private readonly parser: EventSourceParser;
  private pending: SseMessage[] = [];
  /** The server's `retry:` advice in ms. */
  retryMs: number | undefined;

  constructor() {
    this.parser = createParser({
      onEvent: (e) => {
        // The id is sticky per the spec, but each stored event of this API carries its own; progress has none,
        // so only an id sent with the event itself is kept (eventsource-parser reports exactly that).
        this.pending.push({ event: e.event || "message", data: e.data, ...(e.id !== undefined ? { id: e.id } : {}) });
      },
      onRetry: (ms) => {
        this.retryMs = ms;
      },
    });
  }

  push(text: string): SseMessage[] {
    this.parser.feed(text);
    const out = this.pending;
    this.pending = [];
    return out;
  }
}

/** One event of the API's stream (docs/events.md). */
export interface ApiEvent {
  id: number | null;
  type: string;
  job_id: string | null;
  worker_id: string | null;
  data: Record<string, unknown>;
  created_at: string;
}

export interface StreamOptions {
  /** Filters: job_id, types, stream_id. */
  query: Record<string, string | undefined>;
  /** Resume after this id (`last_event_id`); "0" replays everything stored that matches. */
  lastEventId?: string;
  signal?: AbortSignal;
  /**
   * Called once each connection is open, before its events are read: a client takes its snapshot of the
   * state here (subscribe first, then read), so nothing that happens in between is missed.
   */
  onOpen?: () => Promise<void>;
  /** Called when a connection dropped and is about to be retried. */
  onReconnect?: (error: string) => void;
}

/**
 * The events matching the filters, reconnecting after a drop with the last id seen. An HTTP refusal (bad
 * filter, revoked key) is thrown, not retried; the generator ends only when the caller stops reading or aborts.
 */
export async function* streamEvents(client: ApiClient, opts: StreamOptions): AsyncGenerator<ApiEvent> {
  let last = opts.lastEventId;
  let retryMs = 2000;
  // Once connected, an unreachable server (a kernel restarting) is retried for a while, not fatal.
  let connectedAt: number | undefined;
  for (;;) {
    const query = { ...opts.query, ...(last !== undefined ? { last_event_id: last } : {}) };
    let dropped: string;
    try {
      const res = await client.check(await client.fetch("GET", "/v1/events", { query, signal: opts.signal, headers: { accept: "text/event-stream" } }));
      if (!res.body) throw new Error("the event stream has no body");
      connectedAt = Date.now();
      await opts.onOpen?.();
      if (opts.signal?.aborted) return;
      const parser = new SseParser();
      const decoder = new TextDecoder();
      for await (const chunk of res.body) {
        for (const msg of parser.push(decoder.decode(chunk, { stream: true }))) {
          if (msg.id !== undefined) last = msg.id;
          yield JSON.parse(msg.data) as ApiEvent;
        }
        retryMs = parser.retryMs ?? retryMs;
      }
      dropped = "the server closed the event stream";
    } catch (e) {
      if (opts.signal?.aborted) return;
      // A refusal (CliError from check) is final; so is an unreachable server, unless it answered in the last minute.
      const exit = (e as { exitCode?: number }).exitCode;
      const restarting = exit === EXIT.unreachable && connectedAt !== undefined && Date.now() - connectedAt < RECONNECT_WINDOW_MS;
      if (exit !== undefined && !restarting) throw e;
      dropped = (e as Error).message;
    }
    opts.onReconnect?.(dropped);
    await Bun.sleep(retryMs);
    if (opts.signal?.aborted) return;
  }
}
