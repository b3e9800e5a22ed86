/** Reading a byte stream whole, but never more than a limit: request bodies, live playlists. */
import { AppError } from "./errors.ts";

/**
 * Reads `body` to the end, or cancels it and throws WE-REQ-003 as soon as more than `limit` bytes arrived.
 * `tooLarge` words the message for what is being read (default: a request body over MAX_BODY_SIZE).
 */
export async function readLimited(
  body: ReadableStream<Uint8Array>,
  limit: number,
  tooLarge: (limit: number) => string = (max) => `request body too large: more than ${max} bytes (MAX_BODY_SIZE)`,
): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new AppError("WE-REQ-003", tooLarge(limit), { limit });
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}
