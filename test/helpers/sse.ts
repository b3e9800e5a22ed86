/**
 * Reading GET /v1/events from a test: each Server-Sent Event's `data:` (the event's JSON view) is pushed to
 * the returned array as it arrives, until the response ends or its request is aborted.
 */
export function collectSse<T = { type: string }>(response: Promise<Response>): T[] {
  const events: T[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of (await response).body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
        buffer = buffer.slice(end + 2);
        if (data) events.push(JSON.parse(data) as T);
      }
    }
  })().catch(() => {});
  return events;
}
