/**
 * What a live task talks to, without a kernel: an HTTP server that serves a session's FLV the way the
 * ingesting kernel does (`GET …/source.flv`, bearer token, 404 once the session ended) and receives the
 * worker's segment and playlist PUTs (`PUT …/<rung>/<file>`), writing them to a folder. The FLV comes from
 * an FFmpeg publisher (`-re` for real-time pacing, like a streamer), piped straight into the response.
 * Used by the live transcode integration test and bench/live.ts.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export interface ReceivedFile {
  rung: string;
  file: string;
  bytes: number;
  /** performance.now() when the PUT's body was complete. */
  at: number;
  /** A playlist's text (segments are only counted). */
  text?: string;
}

export interface LiveSourceServer {
  readonly port: number;
  readonly sourceUrl: string;
  readonly pushUrl: string;
  /** Every accepted PUT, in arrival order. */
  readonly received: ReceivedFile[];
  /** Requests refused for a missing or wrong token (pulls and PUTs). */
  readonly refused: number;
  /** performance.now() when the first byte of the FLV was sent. */
  readonly firstByteAt: number | undefined;
  /** The session is over: the source answers 404 from now on. */
  ended: boolean;
  stop(): Promise<void>;
}

export interface LiveSourceOptions {
  /** Folder the PUT files land in: `<dir>/<rung>/<file>`. */
  dir: string;
  token: string;
  /** FFmpeg arguments that write FLV to stdout (the publisher); run once per pull. */
  publisherArgs: string[];
  /** When the publisher's FLV has been sent in full: mark the session ended (default true). */
  endWithPublisher?: boolean;
}

/** A publisher like `ffmpeg -re -f lavfi …`: test pattern + tone, H.264/AAC in FLV on stdout. */
export function lavfiPublisherArgs(o: { seconds: number; width: number; height: number; fps: number; realtime: boolean; keyframeSeconds?: number }): string[] {
  return [
    "-hide_banner",
    "-loglevel",
    "error",
    ...(o.realtime ? ["-re"] : []),
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}`,
    "-f",
    "lavfi",
    "-i",
    "sine=frequency=440:sample_rate=48000",
    "-t",
    String(o.seconds),
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-tune",
    "zerolatency",
    "-pix_fmt",
    "yuv420p",
    "-g",
    String(Math.round(o.fps * (o.keyframeSeconds ?? 2))),
    "-c:a",
    "aac",
    "-b:a",
    "128k",
    "-f",
    "flv",
    "pipe:1",
  ];
}

const SOURCE_PATH = "/internal/live/ss1/source.flv";
const PUSH_PATH = "/internal/live/ss1";

export function startLiveSourceServer(o: LiveSourceOptions): LiveSourceServer {
  const received: ReceivedFile[] = [];
  const publishers = new Set<ReturnType<typeof Bun.spawn>>();
  let refused = 0;
  let firstByteAt: number | undefined;
  const state = { ended: false };

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 60,
    async fetch(request) {
      const url = new URL(request.url);
      if (request.headers.get("authorization") !== `Bearer ${o.token}`) {
        refused++;
        return new Response("unauthorized", { status: 401 });
      }
      if (request.method === "GET" && url.pathname === SOURCE_PATH) {
        if (state.ended) return new Response("session ended", { status: 404 });
        const publisher = Bun.spawn(["ffmpeg", ...o.publisherArgs], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
        publishers.add(publisher);
        const reader = publisher.stdout.getReader();
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const { done, value } = await reader.read();
            if (done) {
              publishers.delete(publisher);
              if (o.endWithPublisher !== false) state.ended = true;
              controller.close();
              return;
            }
            firstByteAt ??= performance.now();
            controller.enqueue(value);
          },
          cancel() {
            publisher.kill();
            publishers.delete(publisher);
          },
        });
        return new Response(body, { headers: { "content-type": "video/x-flv" } });
      }
      const push = url.pathname.startsWith(`${PUSH_PATH}/`) ? url.pathname.slice(PUSH_PATH.length + 1).split("/") : [];
      if (request.method === "PUT" && push.length === 2 && /^[\w-]+$/.test(push[0]!) && /^[\w.-]+$/.test(push[1]!)) {
        const [rung, file] = push as [string, string];
        const bytes = new Uint8Array(await request.arrayBuffer());
        mkdirSync(join(o.dir, rung), { recursive: true });
        await Bun.write(join(o.dir, rung, file), bytes);
        received.push({ rung, file, bytes: bytes.length, at: performance.now(), ...(file.endsWith(".m3u8") ? { text: new TextDecoder().decode(bytes) } : {}) });
        return new Response(null, { status: 201 });
      }
      return new Response("not found", { status: 404 });
    },
  });
  const base = `http://127.0.0.1:${server.port}`;
  return {
    port: server.port!,
    sourceUrl: `${base}${SOURCE_PATH}`,
    pushUrl: `${base}${PUSH_PATH}`,
    received,
    get refused() {
      return refused;
    },
    get firstByteAt() {
      return firstByteAt;
    },
    get ended() {
      return state.ended;
    },
    set ended(value: boolean) {
      state.ended = value;
    },
    async stop() {
      for (const publisher of publishers) publisher.kill();
      await Promise.all([...publishers].map((publisher) => publisher.exited));
      await server.stop(true);
    },
  };
}
