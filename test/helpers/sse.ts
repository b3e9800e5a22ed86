/**
 * Reading GET /v1/events from a test: each Server-Sent Event's `data:` (the event's JSON view) is pushed to
 * the returned array as it arrives, until the response ends or its request is aborted. The parsing is the
 * CLI's (src/cli/sse.ts).
 */
import { SseParser } from "../../src/cli/sse.ts";

export function collectSse<T = { type: string }>(response: Promise<Response>): T[] {
  const events: T[] = [];
  void (async () => {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    for await (const chunk of (await response).body as unknown as AsyncIterable<Uint8Array>) {
      for (const message of parser.push(decoder.decode(chunk, { stream: true }))) if (message.data) events.push(JSON.parse(message.data) as T);
    }
  })().catch(() => {});
  return events;
}
