/**
 * The command side of a publish-only RTMP connection as a pure state machine: messages in, actions out.
 *
 * connect → window ack size, peer bandwidth, chunk size, `_result` NetConnection.Connect.Success;
 * releaseStream / FCPublish / createStream → `_result`; publish → an `authorize` action FIRST — nothing of the
 * publisher's media is accepted and no status is sent until `decide()` is called — then Stream Begin and
 * NetStream.Publish.Start, or the refusal status and the end of the connection. deleteStream / FCUnpublish /
 * closeStream end the session. Media (audio, video, data) is passed on only while publishing.
 */
import { decodeAmf0, encodeAmf0, isAmf0Object, type Amf0Value } from "./amf0.ts";
import { control, MessageType, ProtocolError, type RtmpMessage } from "./chunks.ts";

/** What the server announces and uses when sending. */
export const SERVER_WINDOW_ACK_SIZE = 2_500_000;
export const SERVER_PEER_BANDWIDTH = 2_500_000;
export const SERVER_CHUNK_SIZE = 4096;
/** The message stream `createStream` hands out (one publish per connection). */
export const PUBLISH_STREAM_ID = 1;

/** Chunk stream ids of what the server sends. */
export const CHUNK_STREAM = { control: 2, command: 3, status: 5 } as const;

export type StatusCode =
  | "NetStream.Publish.Start"
  | "NetStream.Publish.BadName"
  | "NetStream.Publish.Denied"
  | "NetStream.Publish.Rejected"
  | "NetStream.Play.Failed"
  | "NetStream.Unpublish.Success";

export type ProtocolAction =
  | { kind: "send"; message: RtmpMessage; chunkStreamId: number }
  /** The server's outgoing chunk size changes after the Set Chunk Size just sent. */
  | { kind: "out-chunk-size"; size: number }
  /** Ask the key check; stop reading from the socket until `decide()`. */
  | { kind: "authorize"; app: string; streamKey: string }
  | { kind: "publishing" }
  | { kind: "media"; message: RtmpMessage }
  | { kind: "end"; reason: "publisher_closed" | "protocol_error" | "refused"; detail: string };

export type PublishVerdict = { accept: true } | { accept: false; code: StatusCode; description: string };

type Phase = "connecting" | "connected" | "authorizing" | "publishing" | "ended";

export function commandMessage(streamId: number, ...values: Amf0Value[]): RtmpMessage {
  return { type: MessageType.commandAmf0, streamId, timestamp: 0, payload: encodeAmf0(...values) };
}

/** An `onStatus` for the publish stream: level "status" for success, "error" for a refusal. */
export function statusMessage(level: "status" | "error", code: StatusCode, description: string, streamId = PUBLISH_STREAM_ID): RtmpMessage {
  return commandMessage(streamId, "onStatus", 0, null, { level, code, description });
}

/** The app part of a connect's `app` (OBS may send `live/`, some tools `live?token`). */
export function appName(raw: string): string {
  return raw.split("?")[0]!.replace(/\/+$/, "");
}

export class PublishProtocol {
  private phase: Phase = "connecting";
  private app = "";
  private streamKey = "";

  get currentPhase(): Phase {
    return this.phase;
  }
  get publishedApp(): string {
    return this.app;
  }
  get publishedKey(): string {
    return this.streamKey;
  }

  /** The actions one received message calls for. Throws ProtocolError on a malformed command. */
  handle(message: RtmpMessage): ProtocolAction[] {
    if (this.phase === "ended") return [];
    switch (message.type) {
      case MessageType.commandAmf0:
        return this.command(decodeCommand(message.payload));
      case MessageType.commandAmf3:
        // AMF3 command messages start with a format byte and carry AMF0 values (FFmpeg and OBS never send them).
        return this.command(decodeCommand(message.payload.subarray(1)));
      case MessageType.audio:
      case MessageType.video:
      case MessageType.dataAmf0:
        return this.phase === "publishing" ? [{ kind: "media", message }] : [];
      case MessageType.dataAmf3:
        return this.phase === "publishing" ? [{ kind: "media", message: { ...message, type: MessageType.dataAmf0, payload: message.payload.subarray(1) } }] : [];
      case MessageType.aggregate:
        return this.phase === "publishing" ? splitAggregate(message).map((inner) => ({ kind: "media" as const, message: inner })) : [];
      default:
        // Acknowledgements, window sizes, user control (pings) and chunk size (applied by the reader): nothing to answer.
        return [];
    }
  }

  /** The answer to an `authorize` action. */
  decide(verdict: PublishVerdict): ProtocolAction[] {
    if (this.phase !== "authorizing") return [];
    if (!verdict.accept) {
      this.phase = "ended";
      return [
        { kind: "send", message: statusMessage("error", verdict.code, verdict.description), chunkStreamId: CHUNK_STREAM.status },
        { kind: "end", reason: "refused", detail: `${verdict.code}: ${verdict.description}` },
      ];
    }
    this.phase = "publishing";
    return [
      { kind: "send", message: control.streamBegin(PUBLISH_STREAM_ID), chunkStreamId: CHUNK_STREAM.control },
      { kind: "send", message: statusMessage("status", "NetStream.Publish.Start", "Stream is now published." /* never echo the key: it is a secret and would land in logs */), chunkStreamId: CHUNK_STREAM.status },
      { kind: "publishing" },
    ];
  }

  /** Marks the connection ended (socket gone, kicked): later messages are ignored. */
  end(): void {
    this.phase = "ended";
  }

  private command(values: Amf0Value[]): ProtocolAction[] {
    const [name, transaction, , ...args] = values;
    if (typeof name !== "string") throw new ProtocolError("command message without a command name");
    const txn = typeof transaction === "number" ? transaction : 0;
    switch (name) {
      case "connect":
        return this.connect(txn, values[2]);
      case "releaseStream":
      case "FCPublish":
      case "_checkbw":
        return this.phase === "connecting" ? [] : [this.result(txn, null, undefined)];
      case "createStream":
        if (this.phase === "connecting") throw new ProtocolError("createStream before connect");
        return [this.result(txn, null, PUBLISH_STREAM_ID)];
      case "publish":
        return this.publish(args[0]);
      case "play":
        this.phase = "ended";
        return [
          { kind: "send", message: statusMessage("error", "NetStream.Play.Failed", "this server accepts publishers only; play the stream over HLS"), chunkStreamId: CHUNK_STREAM.status },
          { kind: "end", reason: "refused", detail: "a client tried to play over RTMP" },
        ];
      case "deleteStream":
      case "FCUnpublish":
      case "closeStream": {
        const wasPublishing = this.phase === "publishing";
        this.phase = "ended";
        return [{ kind: "end", reason: "publisher_closed", detail: wasPublishing ? `the publisher sent ${name}` : `${name} before publishing` }];
      }
      default:
        return [];
    }
  }

  private connect(txn: number, commandObject: Amf0Value): ProtocolAction[] {
    if (this.phase !== "connecting") throw new ProtocolError("a second connect on one connection");
    if (!isAmf0Object(commandObject) || typeof commandObject.app !== "string") throw new ProtocolError("connect without an app name");
    this.app = appName(commandObject.app);
    this.phase = "connected";
    return [
      { kind: "send", message: control.windowAckSize(SERVER_WINDOW_ACK_SIZE), chunkStreamId: CHUNK_STREAM.control },
      { kind: "send", message: control.setPeerBandwidth(SERVER_PEER_BANDWIDTH), chunkStreamId: CHUNK_STREAM.control },
      { kind: "send", message: control.setChunkSize(SERVER_CHUNK_SIZE), chunkStreamId: CHUNK_STREAM.control },
      { kind: "out-chunk-size", size: SERVER_CHUNK_SIZE },
      this.result(txn, { fmsVer: "FMS/3,0,1,123", capabilities: 31 }, { level: "status", code: "NetConnection.Connect.Success", description: "Connection succeeded.", objectEncoding: 0 }),
    ];
  }

  private publish(name: Amf0Value): ProtocolAction[] {
    if (this.phase === "connecting") throw new ProtocolError("publish before connect");
    if (this.phase !== "connected") return []; // a repeated publish while deciding or publishing changes nothing
    if (typeof name !== "string" || name.length === 0) {
      this.phase = "ended";
      return [
        { kind: "send", message: statusMessage("error", "NetStream.Publish.BadName", "a stream key is required: publish to rtmp://<host>/live/<stream key>"), chunkStreamId: CHUNK_STREAM.status },
        { kind: "end", reason: "refused", detail: "publish without a stream key" },
      ];
    }
    this.streamKey = name;
    this.phase = "authorizing";
    return [{ kind: "authorize", app: this.app, streamKey: name }];
  }

  private result(txn: number, ...values: Amf0Value[]): ProtocolAction {
    return { kind: "send", message: commandMessage(0, "_result", txn, ...values), chunkStreamId: CHUNK_STREAM.command };
  }
}

function decodeCommand(payload: Uint8Array): Amf0Value[] {
  try {
    return decodeAmf0(payload);
  } catch (error) {
    throw new ProtocolError(`malformed command: ${(error as Error).message}`);
  }
}

/**
 * The sub-messages of an aggregate message: FLV-tag-shaped records (type, size, timestamp, stream id, data,
 * back pointer) whose timestamps are rebased onto the aggregate's own.
 */
export function splitAggregate(message: RtmpMessage): RtmpMessage[] {
  const data = message.payload;
  const out: RtmpMessage[] = [];
  let offset = 0;
  let base: number | undefined;
  while (data.length - offset >= 11) {
    const type = data[offset]!;
    const size = (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!;
    const stamp = ((data[offset + 7]! << 24) | (data[offset + 4]! << 16) | (data[offset + 5]! << 8) | data[offset + 6]!) >>> 0;
    if (data.length - offset < 11 + size) throw new ProtocolError("truncated aggregate message");
    base ??= stamp;
    out.push({ type, streamId: message.streamId, timestamp: (message.timestamp + stamp - base) >>> 0, payload: data.subarray(offset + 11, offset + 11 + size) });
    offset += 11 + size + 4;
  }
  return out;
}
