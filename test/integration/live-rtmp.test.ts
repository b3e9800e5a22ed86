/**
 * The RTMP ingest against real publishers: FFmpeg (`-re -f lavfi … -f flv rtmp://…`) for the media paths, and
 * a small RTMP client written here (with the product's chunk encoder) for what FFmpeg 5.1 cannot send: a
 * publisher that goes silent, an Enhanced-RTMP (HEVC) frame, an oversized chunk size. What the subscribers
 * received is checked with ffprobe/ffmpeg.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { decodeAmf0, encodeAmf0, type Amf0Value } from "../../src/live/rtmp/amf0.ts";
import { ChunkReader, encodeChunks, MessageType, type RtmpMessage } from "../../src/live/rtmp/chunks.ts";
import { HANDSHAKE_SIZE } from "../../src/live/rtmp/handshake.ts";
import { SlowSubscriberError } from "../../src/live/ingest/fanout.ts";
import { startRtmpServer, type IngestEndReason, type IngestLimits, type IngestSession, type PublishDecision, type PublishRequest, type RtmpServer } from "../../src/live/ingest/server.ts";
import { killAllProcs, runProc, spawnProc, type Proc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const LIMITS: IngestLimits = { maxSessions: 4, maxBitrateKbps: 0, maxChunkSize: 65536, maxMessageBytes: 4 * 1024 * 1024, idleTimeoutMs: 10_000 };
const VIDEO_KBPS = 600;
const AUDIO_KBPS = 64;

interface Harness {
  server: RtmpServer;
  authorized: PublishRequest[];
  published: IngestSession[];
  ended: Array<{ session: IngestSession; reason: IngestEndReason; message?: string }>;
  logs: string[];
}

let dir: string;
const servers: RtmpServer[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "live-rtmp-"));
  return () => rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  await killAllProcs();
});

/** Keys "good-*" are accepted (stream id = the key), every other key is refused as unknown. */
async function harness(limits: Partial<IngestLimits> = {}, onPublish?: (session: IngestSession) => void, decide?: (request: PublishRequest) => Promise<PublishDecision>): Promise<Harness> {
  const logs: string[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(line) });
  const h: Omit<Harness, "server"> = { authorized: [], published: [], ended: [], logs };
  const server = await startRtmpServer({
    host: "127.0.0.1",
    port: 0,
    limits: { ...LIMITS, ...limits },
    logger,
    authorize: async (request): Promise<PublishDecision> => {
      h.authorized.push(request);
      if (decide) return decide(request);
      return request.streamKey.startsWith("good-") ? { accept: true, streamId: request.streamKey } : { accept: false, code: "NetStream.Publish.BadName", description: "unknown stream key" };
    },
    onPublish: (session) => {
      h.published.push(session);
      onPublish?.(session);
    },
    onEnd: (session, reason, message) => void h.ended.push({ session, reason, message }),
  });
  servers.push(server);
  return { ...h, server };
}

/** A CBR H.264 + AAC publisher (nal-hrd=cbr pads to the exact bitrate, so "the publisher's bitrate" is known). */
function publish(port: number, key: string, seconds: number, videoKbps = VIDEO_KBPS): Proc {
  return spawnProc([
    "ffmpeg", "-hide_banner", "-loglevel", "warning", "-re",
    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
    "-t", String(seconds),
    "-c:v", "libx264", "-preset", "veryfast", "-g", "50",
    "-b:v", `${videoKbps}k`, "-minrate", `${videoKbps}k`, "-maxrate", `${videoKbps}k`, "-bufsize", `${videoKbps / 2}k`, "-x264-params", "nal-hrd=cbr",
    "-c:a", "aac", "-b:a", `${AUDIO_KBPS}k`,
    "-f", "flv", `rtmp://127.0.0.1:${port}/live/${key}`,
  ]);
}

/** Writes a subscriber's stream to a file; resolves when the stream ends (rejects if it errors). */
async function record(stream: ReadableStream<Uint8Array>, path: string): Promise<number> {
  const sink = Bun.file(path).writer();
  let bytes = 0;
  const reader = stream.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    sink.write(next.value);
    bytes += next.value.length;
  }
  await sink.end();
  return bytes;
}

async function ffprobeJson(path: string, ...args: string[]): Promise<any> {
  const r = await runProc(["ffprobe", "-v", "error", "-of", "json", ...args, path], { timeoutMs: 60_000 });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe("RTMP ingest with FFmpeg publishing", () => {
  test("a wrong key is refused before any media: FFmpeg exits with the refusal, no session starts", async () => {
    const h = await harness();
    const publisher = publish(h.server.port, "wrong-key", 3);
    const status = await publisher.exited;
    expect(status.code).not.toBe(0);
    expect(publisher.stderr).toContain("unknown stream key");
    expect(h.authorized).toEqual([{ app: "live", streamKey: "wrong-key", remoteAddress: "127.0.0.1" }]);
    expect(h.published).toEqual([]);
    expect(h.server.sessions()).toEqual([]);
  });

  test("a good key: subscribers get playable FLV (late one from a keyframe), stats match the publisher, a slow subscriber is dropped alone", async () => {
    const early = join(dir, "early.flv");
    const late = join(dir, "late.flv");
    const recordings: Array<Promise<number>> = [];
    let slow: ReadableStream<Uint8Array> | undefined;
    const h = await harness({}, (session) => {
      recordings.push(record(session.subscribe(), early));
      slow = session.subscribe({ maxQueueBytes: 64 * 1024 }); // never read
    });
    const seconds = 5;
    const publisher = publish(h.server.port, "good-main", seconds);
    await waitFor(() => h.published.length === 1, 20_000, "the session to start");
    const session = h.published[0]!;
    expect(session.streamId).toBe("good-main");
    // Two keyframes seen = 2 s of media in: the stats window is full; join late, mid-GOP.
    await waitFor(() => session.stats().keyframeIntervalS !== null, 20_000, "the second keyframe");
    const atKeyframe = session.stats().bytesIn;
    await waitFor(() => session.stats().bytesIn > atKeyframe + 20_000, 10_000, "a quarter second of media past the keyframe");
    recordings.push(record(session.subscribe(), late));
    const samples: Array<ReturnType<IngestSession["stats"]>> = [];
    while (h.ended.length === 0 && publisher.status === undefined) {
      samples.push(session.stats());
      await Bun.sleep(200);
    }
    expect((await publisher.exited).code).toBe(0);
    await waitFor(() => h.ended.length === 1, 10_000, "the session to end");
    expect(h.ended[0]!.reason).toBe("publisher_closed");
    await Promise.all(recordings);

    // What the early subscriber got: the whole publish, H.264 + AAC.
    const probe = await ffprobeJson(early, "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames:format=duration");
    const [video, audio] = probe.streams;
    expect(video).toMatchObject({ codec_name: "h264", width: 320, height: 240 });
    expect(audio).toMatchObject({ codec_name: "aac" });
    expect(Math.abs(Number(probe.format.duration) - seconds)).toBeLessThan(0.3);
    expect(Math.abs(Number(video.nb_read_frames) - seconds * 25)).toBeLessThanOrEqual(2);

    // Stats against the publisher's real bitrate (media bytes over the duration) and frame rate.
    const packets = await ffprobeJson(early, "-show_entries", "packet=size");
    const realKbps = (packets.packets.reduce((sum: number, p: { size: string }) => sum + Number(p.size), 0) * 8) / Number(probe.format.duration) / 1000;
    const steady = samples.filter((s) => s.keyframeIntervalS !== null);
    expect(steady.length).toBeGreaterThanOrEqual(3);
    const measured = median(steady.map((s) => s.bitrateKbps));
    expect(Math.abs(measured - realKbps) / realKbps).toBeLessThan(0.1);
    expect(Math.abs(median(steady.map((s) => s.fps)) - 25)).toBeLessThan(2.5);
    const last = steady.at(-1)!;
    expect(last).toMatchObject({ videoCodec: "h264", audioCodec: "aac", width: 320, height: 240, audioSampleRate: 48000, audioChannels: 1, keyframeIntervalS: 2 });
    expect(last.bytesIn).toBeGreaterThan(0);

    // The late subscriber starts at a keyframe after the join and decodes without a single error.
    const latePackets = await ffprobeJson(late, "-select_streams", "v", "-show_entries", "packet=pts_time,flags");
    expect(latePackets.packets[0].flags).toStartWith("K");
    expect(Number(latePackets.packets[0].pts_time)).toBeGreaterThanOrEqual(1.9);
    const decode = await runProc(["ffmpeg", "-v", "error", "-i", late, "-f", "null", "-"], { timeoutMs: 60_000 });
    expect({ code: decode.code, errors: decode.stderr }).toEqual({ code: 0, errors: "" });

    // The slow subscriber was cut off with its own error; the others were not slowed (checked above).
    await expect(slow!.getReader().read()).rejects.toBeInstanceOf(SlowSubscriberError);
  }, 60_000);

  test("two publishers at once are independent (one killed, the other unaffected); a third beyond max sessions is refused", async () => {
    const files = { a: join(dir, "a.flv"), b: join(dir, "b.flv") };
    const recordings: Array<Promise<number>> = [];
    const h = await harness({ maxSessions: 2 }, (session) => recordings.push(record(session.subscribe(), session.streamId === "good-a" ? files.a : files.b)));
    const a = publish(h.server.port, "good-a", 4);
    const b = publish(h.server.port, "good-b", 4);
    await waitFor(() => h.published.length === 2 && h.published.every((s) => s.stats().fps > 0), 20_000, "both sessions publishing");

    const third = publish(h.server.port, "good-c", 2);
    expect((await third.exited).code).not.toBe(0);
    expect(third.stderr).toContain("server is full");
    expect(h.authorized.map((r) => r.streamKey).sort()).toEqual(["good-a", "good-b"]); // the key check was not even asked

    a.kill("SIGKILL");
    await waitFor(() => h.ended.some((e) => e.session.streamId === "good-a"), 10_000, "the killed publisher's session to end");
    expect(h.ended.find((e) => e.session.streamId === "good-a")!.reason).toBe("publisher_closed");
    expect((await b.exited).code).toBe(0);
    await waitFor(() => h.ended.length === 2, 10_000, "the second session to end");
    expect(h.ended.find((e) => e.session.streamId === "good-b")!.reason).toBe("publisher_closed");
    await Promise.all(recordings);
    const probe = await ffprobeJson(files.b, "-count_frames", "-select_streams", "v", "-show_entries", "stream=nb_read_frames");
    expect(Math.abs(Number(probe.streams[0].nb_read_frames) - 100)).toBeLessThanOrEqual(2);
  }, 60_000);

  test("a bitrate above the limit for a few seconds ends the session (bitrate_exceeded) and tells the publisher", async () => {
    const h = await harness({ maxBitrateKbps: 200 });
    const publisher = publish(h.server.port, "good-fat", 15);
    await waitFor(() => h.ended.length === 1, 30_000, "the session to be ended");
    expect(h.ended[0]!.reason).toBe("bitrate_exceeded");
    expect((await publisher.exited).code).not.toBe(0);
    expect(publisher.stderr).toContain("bitrate is above the server's limit");
    expect(h.logs.join("")).toContain("bitrate above the limit");
  }, 60_000);
});

/** A minimal RTMP publisher speaking through the product's chunk encoder, for what FFmpeg cannot send. */
class RawPublisher {
  private readonly reader = new ChunkReader({ maxChunkSize: 1 << 24, maxMessageBytes: 1 << 24, maxChunkStreams: 64 });
  private handshakeBytes = 0;
  readonly received: Amf0Value[][] = [];
  /** Sequence numbers of the server's Acknowledgement messages. */
  readonly acknowledgements: number[] = [];
  sentBytes = 0;
  closed = false;
  private constructor(private readonly socket: Socket) {
    socket.on("data", (data: Buffer) => this.onData(new Uint8Array(data)));
    socket.on("close", () => (this.closed = true));
    socket.on("error", () => (this.closed = true));
  }

  static async open(port: number): Promise<RawPublisher> {
    const socket = connect({ port, host: "127.0.0.1" });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const client = new RawPublisher(socket);
    client.write(Uint8Array.from([3, ...new Uint8Array(HANDSHAKE_SIZE)]));
    await waitFor(() => client.handshakeBytes >= 1 + 2 * HANDSHAKE_SIZE, 10_000, "S0+S1+S2");
    client.write(new Uint8Array(HANDSHAKE_SIZE)); // C2
    return client;
  }

  private onData(data: Uint8Array): void {
    const needed = 1 + 2 * HANDSHAKE_SIZE - this.handshakeBytes;
    if (needed > 0) {
      this.handshakeBytes += Math.min(needed, data.length);
      data = data.subarray(Math.min(needed, data.length));
    }
    for (const message of this.reader.push(data)) {
      if (message.type === MessageType.commandAmf0) this.received.push(decodeAmf0(message.payload));
      if (message.type === MessageType.acknowledgement) this.acknowledgements.push(new DataView(message.payload.buffer, message.payload.byteOffset).getUint32(0));
    }
  }

  private write(bytes: Uint8Array): void {
    this.sentBytes += bytes.length;
    this.socket.write(bytes);
  }

  send(message: RtmpMessage, chunkStreamId = 3): void {
    this.write(encodeChunks(message, chunkStreamId, 128));
  }

  command(streamId: number, ...values: Amf0Value[]): void {
    this.send({ type: MessageType.commandAmf0, streamId, timestamp: 0, payload: encodeAmf0(...values) }, streamId === 0 ? 3 : 8);
  }

  async status(code: string): Promise<Record<string, Amf0Value>> {
    const find = () => this.received.find((m) => m[0] === "onStatus" && (m[3] as Record<string, Amf0Value>)?.code === code);
    await waitFor(() => find() !== undefined, 10_000, `onStatus ${code}`);
    return find()![3] as Record<string, Amf0Value>;
  }

  /** connect → createStream → publish, up to NetStream.Publish.Start. */
  async publish(key: string): Promise<void> {
    this.command(0, "connect", 1, { app: "live", type: "nonprivate", tcUrl: "rtmp://127.0.0.1/live" });
    this.command(0, "createStream", 2, null);
    this.command(1, "publish", 3, null, key, "live");
    await this.status("NetStream.Publish.Start");
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe("RTMP ingest limits and refusals (a hand-made publisher)", () => {
  test("the server acknowledges what it read at least once per window the publisher announced (or the publisher would stop sending)", async () => {
    const h = await harness();
    const client = await RawPublisher.open(h.server.port);
    client.send({ type: MessageType.windowAckSize, streamId: 0, timestamp: 0, payload: Uint8Array.of(0, 0, 0x10, 0) }, 2); // 4096 bytes
    await client.publish("good-acked");
    for (let i = 0; i < 10; i++) client.send({ type: MessageType.audio, streamId: 1, timestamp: i * 20, payload: Uint8Array.from({ length: 1000 }, () => 0x2f) }, 4);
    // Everything sent was read, so the last acknowledgement is less than one window behind the total sent.
    await waitFor(() => (client.acknowledgements.at(-1) ?? 0) > client.sentBytes - 4096, 10_000, "an acknowledgement within a window of all bytes sent");
    expect(client.acknowledgements[0]).toBeGreaterThanOrEqual(4096);
    await waitFor(() => h.published[0]!.stats().audioCodec === "mp3", 10_000, "the audio to be counted");
    client.destroy();
  });

  test("a publisher that goes silent is ended by the idle timeout", async () => {
    const h = await harness({ idleTimeoutMs: 1000 });
    const client = await RawPublisher.open(h.server.port);
    await client.publish("good-quiet");
    await waitFor(() => h.ended.length === 1, 10_000, "the idle session to end");
    expect(h.ended[0]!.reason).toBe("idle_timeout");
    await waitFor(() => client.closed, 10_000, "the server to close the connection");
    expect((await client.status("NetStream.Publish.Denied")).description).toContain("idle timeout");
  });

  test("Enhanced RTMP (HEVC) is refused with a status naming the codec, and the session ends with protocol_error", async () => {
    const h = await harness();
    const client = await RawPublisher.open(h.server.port);
    await client.publish("good-hevc");
    // IsExHeader | keyframe | PacketTypeSequenceStart, FourCC "hvc1", then a (truncated) HEVC config record.
    client.send({ type: MessageType.video, streamId: 1, timestamp: 0, payload: Uint8Array.from([0x90, ...new TextEncoder().encode("hvc1"), 1, 0, 0, 0]) }, 6);
    const refusal = await client.status("NetStream.Publish.Rejected");
    expect(refusal).toMatchObject({ level: "error", description: "HEVC (hvc1) over Enhanced RTMP is not supported: FFmpeg 5.1 cannot demux it; set OBS to H.264" });
    await waitFor(() => h.ended.length === 1 && client.closed, 10_000, "the session to end and the connection to close");
    expect(h.ended[0]).toMatchObject({ reason: "protocol_error", message: refusal.description });
  });

  test("a chunk size above the cap is a protocol error with a log line; stop() ends live sessions (server_stopped)", async () => {
    const h = await harness({ maxChunkSize: 65536 });
    const greedy = await RawPublisher.open(h.server.port);
    await greedy.publish("good-greedy");
    greedy.send({ type: MessageType.setChunkSize, streamId: 0, timestamp: 0, payload: Uint8Array.of(0, 0x10, 0, 0) }, 2);
    await waitFor(() => h.ended.length === 1 && greedy.closed, 10_000, "the over-cap session to end");
    expect(h.ended[0]!.reason).toBe("protocol_error");
    expect(h.logs.join("")).toContain("chunk size 1048576 exceeds the limit of 65536 bytes");

    const steady = await RawPublisher.open(h.server.port);
    await steady.publish("good-steady");
    await h.server.stop();
    expect(h.ended.at(-1)).toMatchObject({ reason: "server_stopped" });
    await waitFor(() => steady.closed, 10_000, "stop() to close the connection");
    servers.splice(servers.indexOf(h.server), 1);
  });

  test("close(): kicked tells the publisher why; replaced closes quietly; both end the session with that reason", async () => {
    const h = await harness();
    const kicked = await RawPublisher.open(h.server.port);
    await kicked.publish("good-kicked");
    const replaced = await RawPublisher.open(h.server.port);
    await replaced.publish("good-replaced");
    const byKey = (key: string) => h.published.find((s) => s.streamId === key)!;
    byKey("good-kicked").close("kicked");
    byKey("good-replaced").close("replaced");
    await waitFor(() => kicked.closed && replaced.closed && h.ended.length === 2, 10_000, "both connections to close");
    expect((await kicked.status("NetStream.Publish.Denied")).description).toBe("the stream was stopped by an operator");
    expect(replaced.received.some((m) => m[0] === "onStatus" && (m[3] as Record<string, Amf0Value>).level === "error")).toBe(false);
    expect(h.ended.map((e) => [e.session.streamId, e.reason]).sort()).toEqual([
      ["good-kicked", "kicked"],
      ["good-replaced", "replaced"],
    ]);
    expect(h.server.sessions()).toEqual([]);
  });

  test("a publisher gone while its key is checked: an accepted session starts and ends at once, so the caller sees both", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const h = await harness({}, undefined, async (request) => {
      await gate;
      return { accept: true, streamId: request.streamKey };
    });
    const client = await RawPublisher.open(h.server.port);
    client.command(0, "connect", 1, { app: "live" });
    client.command(0, "createStream", 2, null);
    client.command(1, "publish", 3, null, "good-impatient", "live");
    await waitFor(() => h.authorized.length === 1, 10_000, "the key check to be asked");
    client.destroy();
    release();
    await waitFor(() => h.ended.length === 1, 10_000, "the session to end");
    expect(h.published.map((s) => s.streamId)).toEqual(["good-impatient"]);
    expect(h.ended[0]).toMatchObject({ reason: "publisher_closed" });
    expect(h.server.sessions()).toEqual([]);
  });

  test("a key check that does not answer in time refuses the publisher; a late acceptance still shows a session that began and ended", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const h = await harness({}, undefined, async (request) => {
      await gate;
      return { accept: true, streamId: request.streamKey };
    });
    const client = await RawPublisher.open(h.server.port);
    client.command(0, "connect", 1, { app: "live" });
    client.command(0, "createStream", 2, null);
    client.command(1, "publish", 3, null, "good-slow-check", "live");
    const refusal = await waitFor(() => client.received.some((m) => m[0] === "onStatus"), 30_000, "the refusal after the key check's timeout").then(() => client.status("NetStream.Publish.Denied"));
    expect(refusal.description).toBe("the stream key could not be checked in time; try again in a moment");
    await waitFor(() => client.closed, 10_000, "the connection to close");
    expect(h.published).toEqual([]);
    release();
    await waitFor(() => h.ended.length === 1, 10_000, "the late acceptance to be ended");
    expect(h.published.map((s) => s.streamId)).toEqual(["good-slow-check"]);
    expect(h.server.sessions()).toEqual([]);
  }, 60_000);

  test("a taken port rejects startRtmpServer with an error naming LIVE_RTMP_PORT; the process goes on", async () => {
    const h = await harness();
    const second = startRtmpServer({
      host: "127.0.0.1",
      port: h.server.port,
      limits: LIMITS,
      logger: pino({ level: "silent" }),
      authorize: async () => ({ accept: false, code: "NetStream.Publish.Denied", description: "unused" }),
      onPublish: () => {},
      onEnd: () => {},
    });
    await expect(second).rejects.toThrow(`port ${h.server.port} is already in use by another process (another WebEncode installation?); stop it or set LIVE_RTMP_PORT to a free port`);
    // The first server still takes publishers.
    const client = await RawPublisher.open(h.server.port);
    await client.publish("good-still-here");
    client.destroy();
  });
});
