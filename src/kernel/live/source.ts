/**
 * The live task's source: `GET /internal/live/<session>/source.flv` streams the session's FLV from this kernel
 * (the ingesting one) to the worker. Across a publisher's reconnect within the grace the response goes on:
 * the next publisher's FLV is spliced in (flv-splice.ts), so the transcode keeps running and the playlists
 * continue without a restart. The response ends when the session ends (publisher gone and grace over, or
 * stopped): the live task then ends with `source_ended`.
 */
import type { IngestSessionLike } from "./ingest-types.ts";
import { FlvSplicer } from "./flv-splice.ts";
import type { LiveSession, LiveSessionManager } from "./sessions.ts";

/** A worker that falls this far behind is cut off (its task restarts) rather than slowing the publisher. */
export const SOURCE_MAX_QUEUE_BYTES = 32 * 1024 * 1024;

export function sessionSource(manager: LiveSessionManager, session: LiveSession): ReadableStream<Uint8Array> {
  const splicer = new FlvSplicer();
  let publisher: IngestSessionLike | null = null;
  let reader: { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> } | null = null;
  let spliced = false;
  const attach = async (): Promise<boolean> => {
    publisher = await manager.nextPublisher(session, publisher);
    if (!publisher) return false;
    if (spliced) splicer.nextPublisher();
    spliced = true;
    reader = publisher.subscribe({ maxQueueBytes: SOURCE_MAX_QUEUE_BYTES }).getReader();
    return true;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        if (!reader && !(await attach())) return controller.close();
        const { done, value } = await reader!.read();
        if (done) {
          // This publisher is gone: wait for the next one within the grace (or the session's end).
          reader = null;
          continue;
        }
        const pieces = value ? splicer.push(value) : [];
        for (const piece of pieces) controller.enqueue(piece);
        if (pieces.length) return;
      }
    },
    async cancel() {
      await reader?.cancel().catch(() => {});
    },
  });
}
