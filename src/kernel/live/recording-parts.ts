/**
 * Splits a session's FLV (whole tags, as source.ts/flv-splice.ts produce them) into parts of about
 * `partMs` of media each, every part a playable FLV of its own: a part starts at a video keyframe, with the
 * file header, the stream's metadata and the latest codec sequence headers written first (stream copy, no
 * decoding). Rotation goes by media time, so it is exact and testable; the kernel uses one hour.
 *
 * Pure: `push` takes the FLV bytes in order and returns writes `{ part, bytes }` (part counts from 1).
 */
import { concatBytes } from "../../core/bytes.ts";

const FILE_HEADER_BYTES = 13;
const TAG_HEADER_BYTES = 11;
const AUDIO = 8;
const VIDEO = 9;
const SCRIPT = 18;

export interface PartWrite {
  part: number;
  bytes: Uint8Array;
}

export class RecordingParts {
  private buffer: Uint8Array = new Uint8Array(0);
  private header: Uint8Array | null = null;
  private metadata: Uint8Array | null = null;
  private videoConfig: Uint8Array | null = null;
  private audioConfig: Uint8Array | null = null;
  private part = 1;
  private partStart: number | null = null;

  constructor(private readonly partMs: number) {}

  push(chunk: Uint8Array): PartWrite[] {
    this.buffer = concatBytes(this.buffer, chunk);
    const writes: PartWrite[] = [];
    if (!this.header) {
      if (this.buffer.length < FILE_HEADER_BYTES) return writes;
      this.header = this.buffer.slice(0, FILE_HEADER_BYTES);
      this.buffer = this.buffer.subarray(FILE_HEADER_BYTES);
      writes.push({ part: this.part, bytes: this.header });
    }
    for (;;) {
      if (this.buffer.length < TAG_HEADER_BYTES) break;
      const size = (this.buffer[1]! << 16) | (this.buffer[2]! << 8) | this.buffer[3]!;
      const total = TAG_HEADER_BYTES + size + 4;
      if (this.buffer.length < total) break;
      const tag = this.buffer.slice(0, total);
      this.buffer = this.buffer.subarray(total);
      writes.push(...this.take(tag));
    }
    return writes;
  }

  private take(tag: Uint8Array): PartWrite[] {
    const type = tag[0]! & 0x1f;
    const timestamp = ((tag[7]! << 24) | (tag[4]! << 16) | (tag[5]! << 8) | tag[6]!) >>> 0;
    const first = tag[TAG_HEADER_BYTES] ?? 0;
    const second = tag[TAG_HEADER_BYTES + 1] ?? 0xff;
    if (type === SCRIPT && !this.metadata) this.metadata = tag;
    // AVC (codec 7) sequence header: AVCPacketType 0; AAC (format 10) sequence header: AACPacketType 0.
    if (type === VIDEO && (first & 0x0f) === 7 && second === 0) this.videoConfig = tag;
    if (type === AUDIO && first >> 4 === 10 && second === 0) this.audioConfig = tag;
    const keyframe = type === VIDEO && first >> 4 === 1 && !(second === 0 && (first & 0x0f) === 7);
    this.partStart ??= timestamp;
    const writes: PartWrite[] = [];
    if (keyframe && timestamp - this.partStart >= this.partMs) {
      this.part += 1;
      this.partStart = timestamp;
      for (const opening of [this.header, this.metadata, this.videoConfig, this.audioConfig]) if (opening) writes.push({ part: this.part, bytes: opening });
    }
    writes.push({ part: this.part, bytes: tag });
    return writes;
  }
}
