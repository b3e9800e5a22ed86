/**
 * A live stream's destinations put to work by a real kernel (PostgreSQL, in-process bus, RTMP ingest; no
 * worker: the restream's task stays queued, which is all this test needs) with publisher-youtube talking to a
 * local stand-in for YouTube's OAuth and Data API endpoints (the only mock, a third-party platform):
 *
 * - going live starts ONE restream (origin `stream`) of the session with the enabled destinations; a YouTube
 *   destination without url and key gets its ingest from the plugin (`prepare_live`: a broadcast on the
 *   stand-in, its key sealed in the restream row); a publisher whose plugin is off is shown `failed` with the
 *   reason; a disabled destination is `stopped`;
 * - a change while live (a destination enabled) restarts the restream with the destinations as they are now,
 *   ending the previous broadcast (`end_live`);
 * - the session's end stops the restream and ends the broadcast;
 * - a session ended by another kernel because its ingesting kernel was lost (`kernel_lost`) has its restream
 *   stopped by that kernel.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import pino from "pino";
import { rowsOf } from "../../src/db/exec.ts";
import { endLostSessions } from "../../src/kernel/live/lost-sessions.ts";
import { startRestream } from "../../src/kernel/restream/service.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { type YouTubeStandIn, startYouTubeStandIn } from "../helpers/platform-standins.ts";
import { freePort, type Proc, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

let k: TestKernel;
let standIn: YouTubeStandIn;
let port = 0;
let publisher: Proc | undefined;

const query = async <T>(text: ReturnType<typeof sql>) => rowsOf<T>(await k.handle.ctx.db.execute(text));
const send = (path: string, method: string, body?: unknown) =>
  k.fetch(path, { method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

beforeAll(async () => {
  standIn = startYouTubeStandIn();
  port = await freePort();
  k = await startTestKernel({ env: { LIVE_RTMP_PORT: String(port), LIVE_RECONNECT_GRACE: "2s" } });
  const config = { client_id: standIn.clientId, client_secret: standIn.clientSecret, api_base_url: standIn.url, authorization_endpoint: `${standIn.url}/auth`, token_endpoint: `${standIn.url}/token` };
  expect((await send("/v1/plugins/publisher-youtube/config", "PUT", { config })).status).toBe(200);
  expect((await send("/v1/plugins/publisher-youtube/enable", "POST")).status).toBe(200);
  // An admin connects the account (connect → the stand-in's consent → the callback).
  const start = await k.fetch("/v1/publishers/publisher-youtube/connect", { redirect: "manual" });
  const back = new URL(standIn.consent(start.headers.get("location")!));
  expect((await fetch(`${k.url}${back.pathname}${back.search}`)).status).toBe(200);
  await waitFor(async () => ((await (await k.fetch("/v1/plugins/publisher-youtube")).json()) as { state: string }).state === "healthy", 30_000, "publisher-youtube connected");
}, 120_000);

afterAll(async () => {
  publisher?.kill("SIGKILL");
  await publisher?.exited.catch(() => {});
  await k?.stop();
  await standIn?.stop();
});

interface RestreamRow {
  id: string;
  status: string;
  origin: string;
  destinations: Array<{ id: string; url: string; key_sealed: string }>;
}

describe("a live stream's destinations on its session (local stand-in for YouTube)", () => {
  test("go live → one restream with the enabled destinations (YouTube's ingest from the plugin); a change restarts it; the end stops it", async () => {
    const stream = (await (await send("/v1/streams", "POST", { name: "Launch day", ladder: "light" })).json()) as { id: string; key: string };
    const add = async (body: Record<string, unknown>) => ((await (await send(`/v1/streams/${stream.id}/destinations`, "POST", body)).json()) as { id: string }).id;
    const youtube = await add({ name: "YouTube", publisher: "publisher-youtube" });
    const twitch = await add({ name: "Twitch", publisher: "publisher-twitch" });
    const own = await add({ name: "Own", url: "rtmp://127.0.0.1:9/app", key: "own-key", enabled: false });
    const rows = () => query<RestreamRow>(sql`select id, status, origin, destinations from restreams where input->>'stream_id' = ${stream.id} order by created_at`);
    const states = async () => {
      const items = ((await (await k.fetch(`/v1/streams/${stream.id}/destinations`)).json()) as { items: Array<{ id: string; status: string; last_error: string | null }> }).items;
      return Object.fromEntries(items.map((item) => [item.id, item]));
    };

    publisher = spawnProc([
      ...["ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-re"],
      ...["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=15", "-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-g", "15", "-pix_fmt", "yuv420p"],
      ...["-f", "flv", `rtmp://127.0.0.1:${port}/live/${stream.key}`],
    ]);

    await waitFor(async () => (await rows()).length === 1 && (await rows())[0]!.status === "starting", 30_000, "the session's restream started (its task queued)", 100);
    const [first] = await rows();
    expect(first).toMatchObject({ origin: "stream", status: "starting" });
    // Only the YouTube destination: Twitch's plugin is off, the own server disabled.
    expect(first!.destinations.map((destination) => destination.id)).toEqual([youtube]);
    expect(first!.destinations[0]!.url).toBe("rtmps://a.rtmps.youtube.com/live2");
    expect(k.handle.ctx.secrets.decrypt(first!.destinations[0]!.key_sealed)).toMatch(/^[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}$/);
    expect([...standIn.broadcasts.values()].map((broadcast) => broadcast.title)).toEqual(["Launch day"]);

    const live = await states();
    expect(live[youtube]!.status).toBe("connecting");
    expect(live[twitch]!.status).toBe("failed");
    expect(live[twitch]!.last_error).toContain("publisher-twitch");
    expect(live[own]!.status).toBe("stopped");

    // Enabling the own server while live restarts the restream with both; the first broadcast is ended.
    expect((await send(`/v1/streams/${stream.id}/destinations/${own}`, "PATCH", { enabled: true })).status).toBe(200);
    await waitFor(async () => (await rows()).length === 2 && (await rows())[1]!.status === "starting", 30_000, "the restarted restream", 100);
    const [stopped, second] = await rows();
    expect(stopped!.status).toBe("stopped");
    expect(second!.destinations.map((destination) => destination.id)).toEqual([youtube, own]);
    expect(k.handle.ctx.secrets.decrypt(second!.destinations[1]!.key_sealed)).toBe("own-key");
    await waitFor(() => [...standIn.broadcasts.values()].map((broadcast) => broadcast.status).join() === "complete,ready", 15_000, "the first broadcast ended, the second ready");
    expect((await states())[own]!.status).toBe("connecting");

    // The session ends: the restream stops, the broadcast ends, every destination shows stopped.
    expect((await send(`/v1/streams/${stream.id}/stop`, "POST")).status).toBe(200);
    await waitFor(async () => (await rows()).every((row) => row.status === "stopped"), 15_000, "the restream stopped with the session", 100);
    await waitFor(() => [...standIn.broadcasts.values()].every((broadcast) => broadcast.status === "complete"), 15_000, "every broadcast ended");
    const after = await states();
    expect([after[youtube]!.status, after[twitch]!.status, after[own]!.status]).toEqual(["stopped", "stopped", "stopped"]);
  }, 120_000);

  test("a session ended as kernel_lost by another kernel: its restream is stopped there", async () => {
    const stream = (await (await send("/v1/streams", "POST", { name: "Lost kernel" })).json()) as { id: string };
    // A session opened by a kernel that is gone (no telemetry), with its restream running.
    const [session] = await query<{ id: string }>(sql`insert into stream_sessions (stream_id, kernel_id, started_at) values (${stream.id}, 'gone-kernel', now() - interval '1 hour') returning id`);
    const restream = await startRestream(k.handle.ctx, { name: "Lost kernel (live)", input: { live_session: { stream_id: stream.id, session_id: session!.id } }, destinations: [], origin: "stream" });
    expect(restream.status).toBe("starting");
    expect(await endLostSessions(k.handle.ctx, pino({ level: "silent" }), 1_000)).toContain(session!.id);
    const [row] = await query<{ status: string }>(sql`select status from restreams where id = ${restream.id}`);
    expect(row!.status).toBe("stopped");
  }, 60_000);
});
