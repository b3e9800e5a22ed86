/**
 * One continuous FLV out of the successive publishers of a live session. A reconnecting publisher's FLV starts
 * with its own file header and timestamps from ~0; the live task's FFmpeg reads one HTTP response and would
 * see a second header (garbage) and time going backwards. The splicer passes the first publisher's bytes
 * through, and for each later one drops the file header and its onMetaData, and shifts its tag timestamps so
 * they continue after the last one sent (one frame later). The new publisher's codec sequence headers pass
 * as ordinary tags: FFmpeg's FLV demuxer takes a new AVC/AAC sequence header mid-stream as new extradata.
 *
 * Pure (no I/O): `push` takes bytes as they arrive and returns the bytes to send.
 */
import { concatBytes } from "../../core/bytes.ts";

const FILE_HEADER_BYTES = 9 + 4; // "FLV" header + PreviousTagSize0
const TAG_HEADER_BYTES = 11;
const SCRIPT_TAG = 18;
/** The gap left between the last tag of one publisher and the first of the next (one frame at 25 fps). */
export const SPLICE_GAP_MS = 40;

export class FlvSplicer {
  private buffer: Uint8Array = new Uint8Array(0);
  private headerPending = true;
  private first = true;
  /** Added to the current publisher's timestamps. */
  private offset = 0;
  /** The current publisher's first timestamp (its stream may start at a keyframe well after 0). */
  private base: number | null = null;
  private lastSent = 0;

  /** The next bytes belong to a new publisher (its own header, its own clock). Drops a half-received tag. */
  nextPublisher(): void {
    this.buffer = new Uint8Array(0);
    this.headerPending = true;
    this.first = false;
    this.offset = this.lastSent + SPLICE_GAP_MS;
    this.base = null;
  }

  /** Bytes of the current publisher in; bytes to forward out (whole tags only, the file header once). */
  push(chunk: Uint8Array): Uint8Array[] {
    this.buffer = concatBytes(this.buffer, chunk);
    const out: Uint8Array[] = [];
    if (this.headerPending) {
      if (this.buffer.length < FILE_HEADER_BYTES) return out;
      if (this.first) out.push(this.buffer.slice(0, FILE_HEADER_BYTES));
      this.buffer = this.buffer.subarray(FILE_HEADER_BYTES);
      this.headerPending = false;
    }
    for (;;) {
      if (this.buffer.length < TAG_HEADER_BYTES) break;
      const dataSize = (this.buffer[1]! << 16) | (this.buffer[2]! << 8) | this.buffer[3]!;
      const total = TAG_HEADER_BYTES + dataSize + 4;
      if (this.buffer.length < total) break;
      const tag = this.buffer.slice(0, total);
      this.buffer = this.buffer.subarray(total);
      const forwarded = this.retime(tag);
      if (forwarded) out.push(forwarded);
    }
    return out;
  }

  private retime(tag: Uint8Array): Uint8Array | null {
    const type = tag[0]! & 0x1f;
    const timestamp = ((tag[7]! << 24) | (tag[4]! << 16) | (tag[5]! << 8) | tag[6]!) >>> 0;
    if (!this.first && type === SCRIPT_TAG) return null;
    if (this.first) {
      this.lastSent = Math.max(this.lastSent, timestamp);
      return tag;
    }
    this.base ??= timestamp;
    const shifted = Math.max(0, timestamp - this.base) + this.offset;
    tag[4] = (shifted >>> 16) & 0xff;
    tag[5] = (shifted >>> 8) & 0xff;
    tag[6] = shifted & 0xff;
    tag[7] = (shifted >>> 24) & 0xff;
    this.lastSent = Math.max(this.lastSent, shifted);
    return tag;
  }
}
