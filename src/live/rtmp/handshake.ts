/**
 * The server side of the RTMP handshake (C0+C1 → S0+S1+S2, then C2). Pure apart from the random bytes of S1,
 * which the caller may pass in.
 *
 * The "simple" handshake: S1 carries our time and random bytes, S2 echoes C1. FFmpeg and OBS (librtmp) accept
 * it when they publish; only a Flash player playing a stream checks the digest of the "complex" handshake, and
 * this server accepts publishers only.
 */

export const RTMP_VERSION = 3;
export const HANDSHAKE_SIZE = 1536;

export class HandshakeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HandshakeError";
  }
}

export type HandshakeProgress =
  /** Nothing to do until more bytes arrive. */
  | { done: false; reply?: Uint8Array }
  /** C2 arrived: `rest` are the first bytes of the chunk stream (a client may send `connect` right after C2). */
  | { done: true; reply?: Uint8Array; rest: Uint8Array };

/** S0+S1+S2 for a given C1 (S2 echoes C1). */
export function serverHello(c1: Uint8Array, nowMs: number, random: Uint8Array = crypto.getRandomValues(new Uint8Array(HANDSHAKE_SIZE - 8))): Uint8Array {
  if (c1.length !== HANDSHAKE_SIZE) throw new HandshakeError(`C1 must be ${HANDSHAKE_SIZE} bytes, got ${c1.length}`);
  const out = new Uint8Array(1 + HANDSHAKE_SIZE * 2);
  out[0] = RTMP_VERSION;
  const view = new DataView(out.buffer);
  view.setUint32(1, nowMs >>> 0); // S1 time; bytes 5..8 stay zero
  out.set(random.subarray(0, HANDSHAKE_SIZE - 8), 9);
  out.set(c1, 1 + HANDSHAKE_SIZE);
  return out;
}

/** Feeds received bytes through the two steps of the handshake. */
export class ServerHandshake {
  private buffered: Uint8Array = new Uint8Array(0);
  private step: "c0c1" | "c2" | "done" = "c0c1";
  private readonly startedAt: number;

  constructor(private readonly now: () => number = Date.now) {
    this.startedAt = now();
  }

  push(data: Uint8Array): HandshakeProgress {
    if (this.step === "done") return { done: true, rest: data };
    const joined = new Uint8Array(this.buffered.length + data.length);
    joined.set(this.buffered);
    joined.set(data, this.buffered.length);
    this.buffered = joined;
    let reply: Uint8Array | undefined;
    if (this.step === "c0c1") {
      if (this.buffered.length < 1 + HANDSHAKE_SIZE) return { done: false };
      const version = this.buffered[0]!;
      if (version !== RTMP_VERSION) {
        // 6 and 8 are encrypted RTMPE; anything else is not RTMP at all (an HTTP client on the wrong port).
        throw new HandshakeError(`unsupported RTMP version ${version} (only plain RTMP version 3; RTMPE and RTMPS are not supported)`);
      }
      reply = serverHello(this.buffered.slice(1, 1 + HANDSHAKE_SIZE), this.now() - this.startedAt);
      this.buffered = this.buffered.slice(1 + HANDSHAKE_SIZE);
      this.step = "c2";
    }
    if (this.buffered.length < HANDSHAKE_SIZE) return { done: false, reply };
    const rest = this.buffered.slice(HANDSHAKE_SIZE);
    this.buffered = new Uint8Array(0);
    this.step = "done";
    return { done: true, reply, rest };
  }
}
