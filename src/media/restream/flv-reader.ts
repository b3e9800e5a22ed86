/**
 * Reads an FLV byte stream into tags as bytes arrive (the restream's one input reader feeds them into the
 * fan-out, which re-frames them per destination). Pure and incremental: chunks may split a tag anywhere.
 */
import { concatBytes } from "../../core/bytes.ts";

const FILE_HEADER_BYTES = 9 + 4; // "FLV" header + PreviousTagSize0
const TAG_HEADER_BYTES = 11;

export interface FlvTagRead {
  type: number;
  timestamp: number;
  body: Uint8Array;
}

export class FlvFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlvFormatError";
  }
}

export class FlvReader {
  private buffer: Uint8Array = new Uint8Array(0);
  private headerRead = false;

  /** Bytes in; the whole tags they complete out. Throws FlvFormatError when the stream is not FLV. */
  push(chunk: Uint8Array): FlvTagRead[] {
    this.buffer = this.buffer.length === 0 ? chunk : concatBytes(this.buffer, chunk);
    const tags: FlvTagRead[] = [];
    if (!this.headerRead) {
      if (this.buffer.length < FILE_HEADER_BYTES) return tags;
      if (this.buffer[0] !== 0x46 || this.buffer[1] !== 0x4c || this.buffer[2] !== 0x56) throw new FlvFormatError("input is not FLV (no FLV signature)");
      const headerSize = ((this.buffer[5]! << 24) | (this.buffer[6]! << 16) | (this.buffer[7]! << 8) | this.buffer[8]!) >>> 0;
      if (this.buffer.length < headerSize + 4) return tags;
      this.buffer = this.buffer.subarray(headerSize + 4);
      this.headerRead = true;
    }
    let offset = 0;
    while (this.buffer.length - offset >= TAG_HEADER_BYTES) {
      const b = this.buffer;
      const size = (b[offset + 1]! << 16) | (b[offset + 2]! << 8) | b[offset + 3]!;
      const total = TAG_HEADER_BYTES + size + 4;
      if (b.length - offset < total) break;
      const timestamp = ((b[offset + 7]! << 24) | (b[offset + 4]! << 16) | (b[offset + 5]! << 8) | b[offset + 6]!) >>> 0;
      tags.push({ type: b[offset]! & 0x1f, timestamp, body: b.slice(offset + TAG_HEADER_BYTES, offset + TAG_HEADER_BYTES + size) });
      offset += total;
    }
    this.buffer = offset === 0 ? this.buffer : this.buffer.slice(offset);
    return tags;
  }
}
