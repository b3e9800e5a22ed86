/**
 * The RTMP chunk stream: messages are cut into chunks of at most `chunkSize` bytes, interleaved over chunk
 * stream ids, with headers compressed against the previous chunk of the same id (fmt 0–3). Pure.
 *
 * The reader enforces caps, because every byte count in a header is chosen by the peer: a message length
 * above `maxMessageBytes`, a chunk size above `maxChunkSize`, or more than `maxChunkStreams` ids with a
 * message half received would otherwise let one publisher make the server allocate without bound.
 */

export const MessageType = {
  setChunkSize: 1,
  abort: 2,
  acknowledgement: 3,
  userControl: 4,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  audio: 8,
  video: 9,
  dataAmf3: 15,
  commandAmf3: 17,
  dataAmf0: 18,
  commandAmf0: 20,
  aggregate: 22,
} as const;

export interface RtmpMessage {
  type: number;
  /** Message stream id (0 for the connection, the created stream's id for publish/media). */
  streamId: number;
  /** Absolute timestamp in milliseconds (32 bits, wraps). */
  timestamp: number;
  payload: Uint8Array;
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

export interface ChunkReaderLimits {
  maxChunkSize: number;
  maxMessageBytes: number;
  /** Chunk stream ids that may have a message half received at once. */
  maxChunkStreams: number;
}

export const DEFAULT_CHUNK_SIZE = 128;

interface ChunkStreamState {
  timestamp: number;
  /** The last timestamp field read: a delta after fmt 1/2, the absolute time after fmt 0 (FFmpeg's reading). */
  timestampField: number;
  length: number;
  type: number;
  streamId: number;
  extended: boolean;
  /** The message being assembled, or undefined between messages. */
  payload?: Uint8Array;
  received: number;
}

/** Reassembles messages from chunk bytes. Feed it with `push`; `setChunkSize` messages are applied here. */
export class ChunkReader {
  private buffer: Uint8Array = new Uint8Array(0);
  private chunkSize = DEFAULT_CHUNK_SIZE;
  private readonly streams = new Map<number, ChunkStreamState>();

  constructor(private readonly limits: ChunkReaderLimits) {}

  get currentChunkSize(): number {
    return this.chunkSize;
  }

  /** The complete messages in the bytes received so far. Throws ProtocolError on a broken or over-cap stream. */
  push(data: Uint8Array): RtmpMessage[] {
    if (this.buffer.length === 0) this.buffer = data;
    else {
      const joined = new Uint8Array(this.buffer.length + data.length);
      joined.set(this.buffer);
      joined.set(data, this.buffer.length);
      this.buffer = joined;
    }
    const messages: RtmpMessage[] = [];
    let offset = 0;
    for (;;) {
      const consumed = this.readChunk(offset, messages);
      if (consumed === 0) break;
      offset += consumed;
    }
    // Whatever is left is less than one chunk: copy it so the caller's buffer can be reused.
    this.buffer = offset === 0 ? this.buffer : this.buffer.slice(offset);
    return messages;
  }

  /** Bytes of one chunk at `offset` (0 when it is not complete yet); completed messages go to `out`. */
  private readChunk(start: number, out: RtmpMessage[]): number {
    const data = this.buffer;
    let offset = start;
    if (data.length - offset < 1) return 0;
    const first = data[offset++]!;
    const fmt = first >> 6;
    let csid = first & 0x3f;
    if (csid === 0) {
      if (data.length - offset < 1) return 0;
      csid = 64 + data[offset++]!;
    } else if (csid === 1) {
      if (data.length - offset < 2) return 0;
      csid = 64 + data[offset]! + data[offset + 1]! * 256;
      offset += 2;
    }
    const headerSize = [11, 7, 3, 0][fmt]!;
    if (data.length - offset < headerSize) return 0;
    let state = this.streams.get(csid);
    if (!state) {
      if (fmt !== 0) throw new ProtocolError(`chunk stream ${csid} starts with a fmt ${fmt} header (a new chunk stream must start with fmt 0)`);
      if (this.streams.size >= this.limits.maxChunkStreams * 4) throw new ProtocolError(`more than ${this.limits.maxChunkStreams * 4} chunk stream ids used`);
      state = { timestamp: 0, timestampField: 0, length: 0, type: 0, streamId: 0, extended: false, received: 0 };
    }
    const startsMessage = state.payload === undefined;
    let timestampField = state.timestampField;
    let length = state.length;
    let type = state.type;
    let streamId = state.streamId;
    let extended = state.extended;
    if (fmt <= 2) {
      timestampField = (data[offset]! << 16) | (data[offset + 1]! << 8) | data[offset + 2]!;
      extended = timestampField === 0xffffff;
    }
    if (fmt <= 1) {
      length = (data[offset + 3]! << 16) | (data[offset + 4]! << 8) | data[offset + 5]!;
      type = data[offset + 6]!;
    }
    if (fmt === 0) {
      // The message stream id is the one little-endian field of RTMP.
      streamId = (data[offset + 7]! | (data[offset + 8]! << 8) | (data[offset + 9]! << 16) | (data[offset + 10]! << 24)) >>> 0;
    }
    offset += headerSize;
    if (extended) {
      if (data.length - offset < 4) return 0;
      const value = ((data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!) >>> 0;
      offset += 4;
      // A fmt 3 chunk inside a message repeats the extended field (FFmpeg, librtmp): it carries no new time.
      if (fmt <= 2) timestampField = value;
    }
    if (!startsMessage && fmt !== 3) throw new ProtocolError(`chunk stream ${csid}: a fmt ${fmt} header arrived in the middle of a message`);
    const remainingOfMessage = startsMessage ? length : length - state.received;
    const payloadSize = Math.min(this.chunkSize, remainingOfMessage);
    if (data.length - offset < payloadSize) return 0;

    // The whole chunk is here: commit the header to the stream's state.
    if (startsMessage) {
      if (length > this.limits.maxMessageBytes) {
        throw new ProtocolError(`message of ${length} bytes (type ${type}) exceeds the limit of ${this.limits.maxMessageBytes} bytes`);
      }
      const inFlight = [...this.streams.values()].filter((s) => s.payload !== undefined).length;
      if (length > 0 && inFlight >= this.limits.maxChunkStreams) {
        throw new ProtocolError(`more than ${this.limits.maxChunkStreams} chunk streams with a message in flight`);
      }
      state.timestamp = fmt === 0 ? timestampField : (state.timestamp + timestampField) >>> 0;
      state.payload = new Uint8Array(length);
      state.received = 0;
    }
    state.timestampField = timestampField;
    state.length = length;
    state.type = type;
    state.streamId = streamId;
    state.extended = extended;
    this.streams.set(csid, state);
    state.payload!.set(data.subarray(offset, offset + payloadSize), state.received);
    state.received += payloadSize;
    offset += payloadSize;
    if (state.received >= state.length) {
      const message: RtmpMessage = { type: state.type, streamId: state.streamId, timestamp: state.timestamp, payload: state.payload! };
      state.payload = undefined;
      state.received = 0;
      this.apply(message);
      out.push(message);
    }
    return offset - start;
  }

  /** Protocol control that changes how the following chunks are read. */
  private apply(message: RtmpMessage): void {
    if (message.type === MessageType.setChunkSize) {
      if (message.payload.length < 4) throw new ProtocolError("truncated Set Chunk Size message");
      const size = new DataView(message.payload.buffer, message.payload.byteOffset, 4).getUint32(0) & 0x7fffffff;
      if (size < 1) throw new ProtocolError("Set Chunk Size of 0");
      if (size > this.limits.maxChunkSize) throw new ProtocolError(`chunk size ${size} exceeds the limit of ${this.limits.maxChunkSize} bytes`);
      this.chunkSize = size;
    } else if (message.type === MessageType.abort) {
      if (message.payload.length < 4) throw new ProtocolError("truncated Abort message");
      const csid = new DataView(message.payload.buffer, message.payload.byteOffset, 4).getUint32(0);
      const state = this.streams.get(csid);
      if (state) {
        state.payload = undefined;
        state.received = 0;
      }
    }
  }
}

/**
 * The chunks of one message, all with full information: a fmt 0 header on the first chunk and fmt 3 on the
 * rest (what a small server needs; header compression saves a few bytes on the few messages we send).
 */
export function encodeChunks(message: RtmpMessage, chunkStreamId: number, chunkSize: number): Uint8Array {
  if (chunkStreamId < 2 || chunkStreamId > 63) throw new RangeError("chunk stream id must be 2..63 here");
  const { payload } = message;
  const extended = message.timestamp >= 0xffffff;
  const chunkCount = Math.max(1, Math.ceil(payload.length / chunkSize));
  const size = 12 + (extended ? 4 : 0) + payload.length + (chunkCount - 1) * (1 + (extended ? 4 : 0));
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = chunkStreamId; // fmt 0
  const stampField = extended ? 0xffffff : message.timestamp;
  out[1] = (stampField >> 16) & 0xff;
  out[2] = (stampField >> 8) & 0xff;
  out[3] = stampField & 0xff;
  out[4] = (payload.length >> 16) & 0xff;
  out[5] = (payload.length >> 8) & 0xff;
  out[6] = payload.length & 0xff;
  out[7] = message.type;
  view.setUint32(8, message.streamId, true);
  let offset = 12;
  if (extended) {
    view.setUint32(offset, message.timestamp >>> 0);
    offset += 4;
  }
  for (let sent = 0; sent < payload.length || (sent === 0 && payload.length === 0); ) {
    if (sent > 0) {
      out[offset++] = 0xc0 | chunkStreamId; // fmt 3
      if (extended) {
        view.setUint32(offset, message.timestamp >>> 0);
        offset += 4;
      }
    }
    const piece = payload.subarray(sent, sent + chunkSize);
    out.set(piece, offset);
    offset += piece.length;
    sent += piece.length;
    if (payload.length === 0) break;
  }
  return out;
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value >>> 0);
  return bytes;
}

/** Protocol control messages the server sends (on chunk stream 2, message stream 0). */
export const control = {
  setChunkSize: (size: number): RtmpMessage => ({ type: MessageType.setChunkSize, streamId: 0, timestamp: 0, payload: u32(size) }),
  windowAckSize: (size: number): RtmpMessage => ({ type: MessageType.windowAckSize, streamId: 0, timestamp: 0, payload: u32(size) }),
  acknowledgement: (sequence: number): RtmpMessage => ({ type: MessageType.acknowledgement, streamId: 0, timestamp: 0, payload: u32(sequence) }),
  /** limit type 2 = dynamic. */
  setPeerBandwidth: (size: number, limitType = 2): RtmpMessage => {
    const payload = new Uint8Array(5);
    payload.set(u32(size));
    payload[4] = limitType;
    return { type: MessageType.setPeerBandwidth, streamId: 0, timestamp: 0, payload };
  },
  /** User control event 0: the stream is ready (sent before NetStream.Publish.Start). */
  streamBegin: (streamId: number): RtmpMessage => {
    const payload = new Uint8Array(6);
    const view = new DataView(payload.buffer);
    view.setUint16(0, 0);
    view.setUint32(2, streamId);
    return { type: MessageType.userControl, streamId: 0, timestamp: 0, payload };
  },
};
