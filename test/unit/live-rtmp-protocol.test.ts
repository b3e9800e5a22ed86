import { describe, expect, test } from "bun:test";
import { Amf0Error, decodeAmf0, encodeAmf0 } from "../../src/live/rtmp/amf0.ts";
import { ChunkReader, encodeChunks, MessageType, ProtocolError, type RtmpMessage } from "../../src/live/rtmp/chunks.ts";
import { appName, PublishProtocol, splitAggregate, type ProtocolAction } from "../../src/live/rtmp/commands.ts";
import { HANDSHAKE_SIZE, HandshakeError, ServerHandshake } from "../../src/live/rtmp/handshake.ts";
import { prng } from "../helpers/fuzz-gen.ts";

const limits = { maxChunkSize: 65536, maxMessageBytes: 1 << 20, maxChunkStreams: 4 };
const bytes = (...parts: Array<number[] | Uint8Array>) => Uint8Array.from(parts.flatMap((p) => [...p]));
const u24 = (v: number) => [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
const filled = (length: number, seed = 0) => Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);

describe("RTMP handshake", () => {
  test("C0+C1 in pieces → S0+S1+S2 (S2 echoes C1); C2 and the first chunk bytes after it", () => {
    const handshake = new ServerHandshake(() => 1000);
    const c1 = filled(HANDSHAKE_SIZE, 3);
    expect(handshake.push(bytes([3], c1.subarray(0, 100)))).toEqual({ done: false });
    const step = handshake.push(c1.subarray(100));
    expect(step.done).toBe(false);
    expect(step.reply!.length).toBe(1 + 2 * HANDSHAKE_SIZE);
    expect(step.reply![0]).toBe(3);
    expect([...step.reply!.subarray(1 + HANDSHAKE_SIZE)]).toEqual([...c1]);
    const c2 = filled(HANDSHAKE_SIZE, 9);
    const done = handshake.push(bytes(c2, [0x03, 0xaa]));
    expect(done.done).toBe(true);
    expect(done.done && [...done.rest]).toEqual([0x03, 0xaa]);
  });

  test("a client that is not plain RTMP 3 (RTMPE, an HTTP request) is refused", () => {
    expect(() => new ServerHandshake().push(bytes([6], filled(HANDSHAKE_SIZE)))).toThrow(HandshakeError);
    expect(() => new ServerHandshake().push(new TextEncoder().encode("GET / HTTP/1.1\r\n".padEnd(1600, "x")))).toThrow("unsupported RTMP version 71");
  });
});

describe("RTMP chunk stream", () => {
  test("a written message reads back whole, fed one byte at a time, at chunk size 128", () => {
    const message: RtmpMessage = { type: MessageType.video, streamId: 1, timestamp: 1234, payload: filled(1000) };
    const wire = encodeChunks(message, 6, 128);
    expect(wire.length).toBe(12 + 1000 + 7); // one fmt 0 header, seven fmt 3 continuation bytes
    const reader = new ChunkReader(limits);
    const out: RtmpMessage[] = [];
    for (const byte of wire) out.push(...reader.push(Uint8Array.of(byte)));
    expect(out).toHaveLength(1);
    expect(out[0]!.timestamp).toBe(1234);
    expect(out[0]!.streamId).toBe(1);
    expect([...out[0]!.payload]).toEqual([...message.payload]);
  });

  test("fmt 1, 2 and 3 headers add their deltas to the previous timestamp and reuse length, type and stream", () => {
    const wire = bytes(
      [0x04, ...u24(1000), ...u24(3), 9, 1, 0, 0, 0, 1, 2, 3], // fmt 0: t=1000, video, stream 1
      [0x44, ...u24(40), ...u24(2), 8, 4, 5], // fmt 1: +40, audio, 2 bytes
      [0x84, ...u24(40), 6, 7], // fmt 2: +40, same length and type
      [0xc4, 8, 9], // fmt 3 starting a message: +40 again
    );
    const out = new ChunkReader(limits).push(wire);
    expect(out.map((m) => [m.type, m.streamId, m.timestamp, [...m.payload]])).toEqual([
      [9, 1, 1000, [1, 2, 3]],
      [8, 1, 1040, [4, 5]],
      [8, 1, 1080, [6, 7]],
      [8, 1, 1120, [8, 9]],
    ]);
  });

  test("two- and three-byte chunk stream ids", () => {
    const wire = bytes([0x00, 10, ...u24(5), ...u24(1), 20, 0, 0, 0, 0, 0x05], [0x01, 44, 1, ...u24(6), ...u24(1), 20, 0, 0, 0, 0, 0x06]);
    const out = new ChunkReader(limits).push(wire);
    expect(out.map((m) => m.timestamp)).toEqual([5, 6]);
  });

  test("extended timestamps: read from the fmt 0 header and skipped again on its fmt 3 continuation", () => {
    const message: RtmpMessage = { type: MessageType.audio, streamId: 1, timestamp: 0x01000000, payload: filled(300) };
    const wire = encodeChunks(message, 4, 128);
    expect([...wire.subarray(1, 4)]).toEqual([0xff, 0xff, 0xff]);
    const [read] = new ChunkReader(limits).push(wire);
    expect(read!.timestamp).toBe(0x01000000);
    expect([...read!.payload]).toEqual([...message.payload]);
  });

  test("Set Chunk Size applies to the chunks after it", () => {
    const reader = new ChunkReader(limits);
    const setSize: RtmpMessage = { type: MessageType.setChunkSize, streamId: 0, timestamp: 0, payload: Uint8Array.of(0, 0, 0x10, 0) };
    const big: RtmpMessage = { type: MessageType.video, streamId: 1, timestamp: 0, payload: filled(3000) };
    const out = reader.push(bytes(encodeChunks(setSize, 2, 128), encodeChunks(big, 6, 4096)));
    expect(reader.currentChunkSize).toBe(4096);
    expect(out.map((m) => m.payload.length)).toEqual([4, 3000]);
  });

  test("caps: message size, chunk size, chunk streams in flight, and a chunk stream that starts mid-way", () => {
    const tooBig = bytes([0x04, ...u24(0), ...u24(2 << 20), 9, 1, 0, 0, 0]);
    expect(() => new ChunkReader(limits).push(bytes(tooBig, filled(128)))).toThrow("exceeds the limit of 1048576 bytes");
    const hugeChunks: RtmpMessage = { type: MessageType.setChunkSize, streamId: 0, timestamp: 0, payload: Uint8Array.of(0x01, 0, 0, 0) };
    expect(() => new ChunkReader(limits).push(encodeChunks(hugeChunks, 2, 128))).toThrow("chunk size 16777216 exceeds the limit of 65536");
    // Five chunk streams each with a 200-byte message half sent (128 of 200 bytes) against a cap of four.
    const halves = [3, 4, 5, 6, 7].map((csid) => bytes([csid, ...u24(0), ...u24(200), 9, 1, 0, 0, 0], filled(128)));
    const reader = new ChunkReader(limits);
    for (const half of halves.slice(0, 4)) expect(reader.push(half)).toEqual([]);
    expect(() => reader.push(halves[4]!)).toThrow(ProtocolError);
    expect(() => new ChunkReader(limits).push(bytes([0x44, ...u24(0), ...u24(1), 9, 0]))).toThrow("must start with fmt 0");
  });
});

function sentCommands(actions: ProtocolAction[]): unknown[][] {
  return actions.flatMap((a) => (a.kind === "send" && a.message.type === MessageType.commandAmf0 ? [decodeAmf0(a.message.payload)] : []));
}
const command = (streamId: number, ...values: Parameters<typeof encodeAmf0>): RtmpMessage => ({ type: MessageType.commandAmf0, streamId, timestamp: 0, payload: encodeAmf0(...values) });
const video: RtmpMessage = { type: MessageType.video, streamId: 1, timestamp: 0, payload: Uint8Array.of(0x17, 1, 0, 0, 0) };

describe("RTMP commands (publish-only)", () => {
  function connected(): PublishProtocol {
    const protocol = new PublishProtocol();
    const actions = protocol.handle(command(0, "connect", 1, { app: "live/", tcUrl: "rtmp://127.0.0.1/live" }));
    expect(actions.filter((a) => a.kind === "send").map((a) => a.kind === "send" && a.message.type)).toEqual([
      MessageType.windowAckSize,
      MessageType.setPeerBandwidth,
      MessageType.setChunkSize,
      MessageType.commandAmf0,
    ]);
    expect(actions).toContainEqual({ kind: "out-chunk-size", size: 4096 });
    const [result] = sentCommands(actions);
    expect(result!.slice(0, 2)).toEqual(["_result", 1]);
    expect(result![3]).toMatchObject({ level: "status", code: "NetConnection.Connect.Success" });
    expect(sentCommands(protocol.handle(command(0, "releaseStream", 2, null, "key")))).toEqual([["_result", 2, null, undefined]]);
    expect(sentCommands(protocol.handle(command(0, "FCPublish", 3, null, "key")))).toEqual([["_result", 3, null, undefined]]);
    expect(sentCommands(protocol.handle(command(0, "createStream", 4, null)))).toEqual([["_result", 4, null, 1]]);
    return protocol;
  }

  test("publish asks for the key check first: no status and no media before the verdict; a refusal sends the status and ends", () => {
    const protocol = connected();
    expect(protocol.handle(command(1, "publish", 5, null, "wrong-key", "live"))).toEqual([{ kind: "authorize", app: "live", streamKey: "wrong-key" }]);
    expect(protocol.handle(video)).toEqual([]);
    const refused = protocol.decide({ accept: false, code: "NetStream.Publish.BadName", description: "unknown stream key" });
    expect(sentCommands(refused)).toEqual([["onStatus", 0, null, { level: "error", code: "NetStream.Publish.BadName", description: "unknown stream key" }]]);
    expect(refused.at(-1)).toMatchObject({ kind: "end", reason: "refused" });
    expect(protocol.handle(video)).toEqual([]);
  });

  test("an accepted publish: Stream Begin, NetStream.Publish.Start, media passed on, FCUnpublish ends it", () => {
    const protocol = connected();
    protocol.handle(command(1, "publish", 5, null, "good-key", "live"));
    const accepted = protocol.decide({ accept: true });
    expect(accepted[0]).toMatchObject({ kind: "send", message: { type: MessageType.userControl } });
    expect(sentCommands(accepted)[0]![3]).toMatchObject({ level: "status", code: "NetStream.Publish.Start" });
    expect(JSON.stringify(sentCommands(accepted))).not.toContain("good-key");
    expect(accepted.at(-1)).toEqual({ kind: "publishing" });
    expect(protocol.handle(video)).toEqual([{ kind: "media", message: video }]);
    expect(protocol.handle(command(0, "FCUnpublish", 6, null, "good-key"))).toEqual([{ kind: "end", reason: "publisher_closed", detail: "the publisher sent FCUnpublish" }]);
  });

  test("out-of-order or malformed commands are protocol errors; a player is told this server only ingests", () => {
    expect(() => new PublishProtocol().handle(command(1, "publish", 5, null, "key"))).toThrow("publish before connect");
    expect(() => new PublishProtocol().handle(command(0, "connect", 1, null))).toThrow("connect without an app name");
    expect(() => new PublishProtocol().handle({ type: MessageType.commandAmf0, streamId: 0, timestamp: 0, payload: Uint8Array.of(0x02, 0, 9) })).toThrow(ProtocolError);
    const played = connected().handle(command(1, "play", 5, null, "key"));
    expect(sentCommands(played)[0]![3]).toMatchObject({ code: "NetStream.Play.Failed" });
    expect(played.at(-1)).toMatchObject({ kind: "end", reason: "refused" });
    expect(connected().handle(command(1, "publish", 5, null, ""))).toContainEqual({ kind: "end", reason: "refused", detail: "publish without a stream key" });
  });

  test("app names: query strings and trailing slashes are dropped", () => {
    expect(appName("live/")).toBe("live");
    expect(appName("live?token=1")).toBe("live");
  });

  test("aggregate messages split into their FLV-shaped sub-messages, rebased on the aggregate's time", () => {
    const sub = (type: number, stamp: number, body: number[]) => [type, ...u24(body.length), ...u24(stamp), 0, 0, 0, 0, ...body, 0, 0, 0, 11 + body.length];
    const aggregate: RtmpMessage = { type: MessageType.aggregate, streamId: 1, timestamp: 5000, payload: bytes(sub(9, 100, [0x17, 1]), sub(8, 120, [0xaf, 1, 9])) };
    expect(splitAggregate(aggregate).map((m) => [m.type, m.timestamp, [...m.payload]])).toEqual([
      [9, 5000, [0x17, 1]],
      [8, 5020, [0xaf, 1, 9]],
    ]);
  });
});

describe("hostile bytes (seeded fuzz)", () => {
  test("random and mutated chunk streams end in ProtocolError or messages within the caps, never another exception", () => {
    const random = prng(15);
    const valid = bytes(
      encodeChunks({ type: MessageType.commandAmf0, streamId: 0, timestamp: 0, payload: encodeAmf0("connect", 1, { app: "live" }) }, 3, 128),
      encodeChunks({ type: MessageType.video, streamId: 1, timestamp: 40, payload: filled(700) }, 6, 128),
      encodeChunks({ type: MessageType.audio, streamId: 1, timestamp: 0x01000005, payload: filled(300) }, 4, 128),
    );
    for (let run = 0; run < 2000; run++) {
      const input = run % 2 === 0 ? Uint8Array.from({ length: 1 + Math.floor(random() * 600) }, () => Math.floor(random() * 256)) : valid.map((b) => (random() < 0.02 ? Math.floor(random() * 256) : b));
      const reader = new ChunkReader(limits);
      const protocol = new PublishProtocol();
      try {
        for (let offset = 0; offset < input.length; ) {
          const step = 1 + Math.floor(random() * 64);
          for (const message of reader.push(input.subarray(offset, offset + step))) {
            expect(message.payload.length).toBeLessThanOrEqual(limits.maxMessageBytes);
            protocol.handle(message);
          }
          offset += step;
        }
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw new Error(`run ${run}: ${(error as Error).name}: ${(error as Error).message}`);
      }
    }
  });

  test("random AMF0 decodes or fails with Amf0Error", () => {
    const random = prng(1935);
    for (let run = 0; run < 5000; run++) {
      const input = Uint8Array.from({ length: 1 + Math.floor(random() * 64) }, () => (random() < 0.5 ? Math.floor(random() * 13) : Math.floor(random() * 256)));
      try {
        decodeAmf0(input);
      } catch (error) {
        if (!(error instanceof Amf0Error)) throw new Error(`run ${run}: ${(error as Error).name}: ${(error as Error).message}`);
      }
    }
  });
});
