/**
 * A live stream's restream destinations through the compiled executables (issue 16, "Done when": the isolation
 * test through the platform). One kernel ingesting RTMP and one worker with two live slots (the session's
 * live transcode and its restream) on a real NATS JetStream and PostgreSQL. The stream has three destinations:
 * a healthy local RTMP receiver (the project's own ingest server, in this process, recording every FLV tag),
 * a server that accepts TCP and never answers, and a closed port. FFmpeg publishes to the kernel; the kernel
 * starts the session's restream by itself.
 *
 * The healthy receiver records continuous media (no step over 1 s between video timestamps) while
 * GET /v1/streams/:id/destinations shows the two others `retrying`; the healthy receiver killed and started
 * again on its port → `live` again within the backoff; `restream.destination.failed` and `…recovered` arrive
 * on the SSE stream filtered by the stream (/v1/events?stream_id=…). The publisher reconnecting within the
 * grace keeps the restream and the healthy destination's connection; disabling a destination while live
 * restarts the restream without it; the session's end stops the restream.
 *
 * Build first: `bun scripts/build.ts --plugins --outdir DIR`, run with E2E_DIST=DIR.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import pino from "pino";
import { FlvTagType } from "../../src/live/flv/tags.ts";
import { DEFAULT_INGEST_LIMITS, startRtmpServer, type RtmpServer } from "../../src/live/ingest/server.ts";
import { DEFAULT_BACKOFF } from "../../src/media/restream/backoff.ts";
import { FlvReader } from "../../src/media/restream/flv-reader.ts";
import { Cluster, type KernelProc } from "../helpers/cluster.ts";
import { binary, freePort, type Proc, spawnProc } from "../helpers/proc.ts";
import { collectSse } from "../helpers/sse.ts";
import { waitFor } from "../helpers/wait.ts";

const logger = pino({ level: "silent" });

interface ReceivedTag {
  session: number;
  type: number;
  timestamp: number;
}

let cluster: Cluster;
let publisher: Proc | undefined;
let healthy: RtmpServer | undefined;
let silent: Server | undefined;
const silentSockets: Socket[] = [];
const received: ReceivedTag[] = [];
let sessions = 0;

/** The healthy receiver: accepts the key "good"; records the timestamp of every tag it gets, per session. */
function receiver(port: number): Promise<RtmpServer> {
  return startRtmpServer({
    host: "127.0.0.1",
    port,
    limits: DEFAULT_INGEST_LIMITS,
    logger,
    authorize: async (request) => (request.streamKey === "good" ? { accept: true, streamId: "healthy" } : { accept: false, code: "NetStream.Publish.BadName", description: "unknown stream key" }),
    onPublish: (session) => {
      const number = ++sessions;
      const reader = new FlvReader();
      void (async () => {
        try {
          for await (const chunk of session.subscribe()) for (const tag of reader.push(chunk)) received.push({ session: number, type: tag.type, timestamp: tag.timestamp });
        } catch {
          // the session ended
        }
      })();
    },
    onEnd: () => {},
  });
}

/** Largest step between consecutive video timestamps of one receiver session, ms, and how many frames. */
function videoOf(session: number): { gap: number; frames: number } {
  const video = received.filter((tag) => tag.session === session && tag.type === FlvTagType.video).map((tag) => tag.timestamp);
  let gap = 0;
  for (let i = 1; i < video.length; i++) gap = Math.max(gap, video[i]! - video[i - 1]!);
  return { gap, frames: video.length };
}

interface EventView {
  type: string;
  stream_id: string | null;
  data: Record<string, unknown>;
}

beforeAll(async () => {
  binary("webencode-kernel");
  binary("webencode-worker");
  cluster = await Cluster.create({ name: "restream-destinations" });
});

afterAll(async () => {
  publisher?.kill("SIGKILL");
  await publisher?.exited.catch(() => {});
  await healthy?.stop();
  for (const socket of silentSockets) socket.destroy();
  await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
  await cluster?.dispose();
});

describe("live stream destinations", () => {
  test("three destinations: the healthy one receives continuous media while the others retry; it reconnects after a restart; events on the stream's SSE; a publisher reconnect keeps it; a change restarts it", async () => {
    const rtmpPort = await freePort();
    const kernel = await cluster.startKernel("k1", { LIVE_RTMP_PORT: String(rtmpPort) });
    await cluster.startWorker("rd-a", { LIVE_SLOTS: "2" });
    await cluster.waitWorkerStatus("rd-a", "healthy");

    healthy = await receiver(0);
    const healthyPort = healthy.port;
    // Accepts TCP and never reads a byte: the RTMP handshake hangs until the engine's watchdog.
    silent = createServer({ pauseOnConnect: true }, (socket) => void silentSockets.push(socket));
    await new Promise<void>((resolve) => silent!.listen(0, "127.0.0.1", () => resolve()));
    const silentPort = (silent.address() as { port: number }).port;
    // Nothing listens there: connections are refused.
    const closedPort = await freePort();

    const post = (path: string, body: unknown) => kernel.fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const stream = (await (await post("/v1/streams", { name: "simulcast", ladder: "light" })).json()) as { id: string; key: string };
    const ids: Record<string, string> = {};
    for (const [name, port, key] of [["healthy", healthyPort, "good"], ["silent", silentPort, "silent-key"], ["refused", closedPort, "refused-key"]] as const) {
      const created = await post(`/v1/streams/${stream.id}/destinations`, { name, url: `rtmp://127.0.0.1:${port}/live`, key });
      expect(created.status).toBe(201);
      ids[name] = ((await created.json()) as { id: string }).id;
    }
    const nameOf = (id: unknown) => Object.keys(ids).find((name) => ids[name] === id);
    const states = async () => {
      const response = await kernel.fetch(`/v1/streams/${stream.id}/destinations`);
      const text = await response.text();
      for (const key of ["good", "silent-key", "refused-key"]) expect(text).not.toContain(key);
      const items = (JSON.parse(text) as { items: Array<{ id: string; status: string; reconnects: number; last_error: string | null; bitrate_kbps: number }> }).items;
      return Object.fromEntries(items.map((item) => [nameOf(item.id)!, item]));
    };
    const sse = new AbortController();
    const events = collectSse<EventView>(kernel.fetch(`/v1/events?stream_id=${stream.id}&types=restream.*`, { signal: sse.signal }));

    const publish = () =>
      spawnProc([
        ...["ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-re"],
        ...["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "120"],
        ...["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p", "-b:v", "400k", "-c:a", "aac", "-b:a", "64k"],
        ...["-f", "flv", `rtmp://127.0.0.1:${rtmpPort}/live/${stream.key}`],
      ]);
    publisher = publish();
    const restreamRows = () => cluster.sql<{ id: string; status: string }[]>`select id, status from restreams where input->>'stream_id' = ${stream.id} order by created_at`;

    try {
      // The session's restream runs: healthy live, the silent one caught by the watchdog, the closed port retried.
      let latest: Awaited<ReturnType<typeof states>> = {};
      await waitFor(async () => {
        latest = await states();
        return latest.healthy?.status === "live" && latest.silent?.status === "retrying" && latest.refused?.status === "retrying";
      }, 60_000, "healthy live, silent and refused retrying", 250).catch((error: unknown) => {
        throw new Error(`${(error as Error).message}: ${JSON.stringify(latest)}\nkernel:\n${kernel.proc.stderr.split("\n").filter((line) => /restream|warn|error/i.test(line)).slice(-15).join("\n")}`);
      });
      expect(latest.refused!.last_error).toContain("Connection refused");
      expect(latest.healthy).toMatchObject({ reconnects: 0, last_error: null });
      const [row] = await cluster.sql<{ origin: string; status: string }[]>`select origin, status from restreams where input->>'stream_id' = ${stream.id}`;
      expect(row).toEqual({ origin: "stream", status: "live" });

      // Continuous media on the healthy receiver while the others hang and retry.
      await waitFor(() => videoOf(1).frames > 100, 30_000, "four seconds of media on the healthy receiver");
      expect(videoOf(1).gap).toBeLessThanOrEqual(1000);

      // The healthy receiver killed: retrying; started again on its port: live again within the backoff.
      await healthy.stop();
      await waitFor(async () => (await states()).healthy?.status === "retrying", 30_000, "the healthy destination retrying", 250);
      healthy = await receiver(healthyPort);
      const restartedAt = performance.now();
      await waitFor(async () => (await states()).healthy?.status === "live" && sessions >= 2, DEFAULT_BACKOFF.maxMs, "the healthy destination live again", 250);
      console.log(`restream destinations: the healthy destination live again ${((performance.now() - restartedAt) / 1000).toFixed(1)} s after its receiver restarted`);
      await waitFor(() => videoOf(2).frames > 50, 30_000, "media on the restarted receiver");
      expect(videoOf(2).gap).toBeLessThanOrEqual(1000);
      expect((await states()).healthy!.reconnects).toBeGreaterThanOrEqual(1);

      // The events, on the stream's own SSE stream.
      await waitFor(() => events.some((event) => event.type === "restream.destination.recovered" && nameOf(event.data.destination_id) === "healthy"), 15_000, "the recovered event on SSE").catch(async (error: unknown) => {
        const stored = await cluster.sql`select type, stream_id, data from events where type like 'restream.%' order by id`;
        throw new Error(`${(error as Error).message}\nSSE: ${JSON.stringify(events)}\nstored: ${JSON.stringify(stored)}`);
      });
      const summary = events.map((event) => `${event.type}:${nameOf(event.data.destination_id)}`);
      expect(summary).toContain("restream.destination.failed:silent");
      expect(summary).toContain("restream.destination.failed:refused");
      expect(summary).toContain("restream.destination.failed:healthy");
      expect(events.every((event) => event.stream_id === stream.id && event.data.stream_id === stream.id)).toBe(true);
      expect(JSON.stringify(events)).not.toContain("refused-key");

      // The publisher drops and comes back within LIVE_RECONNECT_GRACE: same session, same restream, and the
      // healthy destination's connection is kept (no new session on its receiver); media flows on.
      const [first] = await restreamRows();
      const sessionsBefore = sessions;
      publisher.kill("SIGKILL");
      await publisher.exited;
      publisher = publish();
      const framesBefore = videoOf(sessionsBefore).frames;
      await waitFor(() => videoOf(sessionsBefore).frames > framesBefore + 75, 30_000, "media from the reconnected publisher on the same receiver session");
      expect(sessions).toBe(sessionsBefore);
      expect((await restreamRows()).map((row) => ({ id: row.id, status: row.status }))).toEqual([{ id: first!.id, status: "live" }]);

      // A change while live restarts the restream with the enabled destinations: the silent one disabled.
      expect((await kernel.fetch(`/v1/streams/${stream.id}/destinations/${ids.silent}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ enabled: false }) })).status).toBe(200);
      await waitFor(async () => {
        const now = await states();
        return now.silent?.status === "stopped" && now.healthy?.status === "live" && sessions > sessionsBefore;
      }, 30_000, "the restream restarted without the silent destination", 250);
      const rows = await restreamRows();
      expect(rows.map((row) => row.status)).toEqual(["stopped", "live"]);
    } finally {
      sse.abort();
    }

    // The session ends (publisher stopped by the API): the restream stops, the destinations show stopped.
    expect((await post(`/v1/streams/${stream.id}/stop`, {})).status).toBe(200);
    await waitFor(async () => Object.values(await states()).every((state) => state.status === "stopped"), 30_000, "every destination stopped with the session", 250);
    expect((await restreamRows()).map((row) => row.status)).toEqual(["stopped", "stopped"]);
  }, 150_000);
});
