/**
 * The live session manager on a real kernel with its RTMP server and FFmpeg publishers (`-re -f lavfi … -f
 * flv rtmp://…`): a wrong key is refused before any media (the publisher exits, no session row); a good key
 * opens a session (row, is_live, ingest stats); a healthy duplicate is refused; a publisher killed and
 * coming back within LIVE_RECONNECT_GRACE continues the SAME session; after the grace the session ends;
 * POST /v1/streams/:id/stop kicks the publisher.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../src/db/exec.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { freePort, killAllProcs, type Proc, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const GRACE_S = 4;
let k: TestKernel;
let port = 0;

function publish(key: string, seconds: number): Proc {
  return spawnProc([
    "ffmpeg", "-hide_banner", "-loglevel", "warning", "-re",
    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
    "-t", String(seconds),
    "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-b:v", "400k",
    "-c:a", "aac", "-b:a", "64k",
    "-f", "flv", `rtmp://127.0.0.1:${port}/live/${key}`,
  ]);
}

const json = (method: string, body?: unknown): RequestInit => ({ method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

async function createStream(name: string): Promise<{ id: string; key: string }> {
  return (await (await k.fetch("/v1/streams", json("POST", { name }))).json()) as { id: string; key: string };
}

interface SessionRow {
  id: string;
  ended_at: Date | null;
  end_reason: string | null;
  bytes_in: number;
}
const sessionsOf = async (streamId: string) => rowsOf<SessionRow>(await k.handle.ctx.db.execute(sql`select id, ended_at, end_reason, bytes_in::int as bytes_in from stream_sessions where stream_id = ${streamId} order by started_at`));
const stats = async (streamId: string) => (await (await k.fetch(`/v1/streams/${streamId}/stats`)).json()) as { is_live: boolean; publisher_connected: boolean | null; ingest: { bitrate_kbps: number; video_codec: string | null; width: number | null } | null };

beforeAll(async () => {
  port = await freePort();
  k = await startTestKernel({ env: { LIVE_RTMP_PORT: String(port), LIVE_RECONNECT_GRACE: `${GRACE_S}s` } });
});

afterAll(async () => {
  killAllProcs();
  await k?.stop();
});

describe("live sessions", () => {
  test("a wrong key is refused before any media: the publisher exits, nothing is recorded", async () => {
    const stream = await createStream("refused");
    const wrong = publish("wsk_not-a-real-key-0000000000000000000000", 20);
    const status = await wrong.exited;
    expect(status.code).not.toBe(0);
    expect(await sessionsOf(stream.id)).toEqual([]);
  });

  test("a good key opens a session; a healthy duplicate is refused; a reconnect within the grace continues it; after the grace it ends", async () => {
    const stream = await createStream("main");
    const first = publish(stream.key, 30);
    await waitFor(async () => (await stats(stream.id)).ingest?.video_codec === "h264", 30_000, "ingest stats with the video codec");
    const live = await stats(stream.id);
    expect(live).toMatchObject({ is_live: true, publisher_connected: true, ingest: { video_codec: "h264", width: 320 } });
    const [session] = await sessionsOf(stream.id);
    expect(session!.ended_at).toBeNull();

    const duplicate = publish(stream.key, 20);
    expect((await duplicate.exited).code).not.toBe(0);
    expect((await sessionsOf(stream.id)).map((row) => row.id)).toEqual([session!.id]);

    first.kill("SIGKILL");
    await waitFor(async () => (await stats(stream.id)).publisher_connected === false, 15_000, "the publisher's drop noticed");
    expect((await sessionsOf(stream.id))[0]!.ended_at).toBeNull();
    const second = publish(stream.key, 3);
    await waitFor(async () => (await stats(stream.id)).publisher_connected === true, 15_000, "the reconnected publisher attached");
    expect((await sessionsOf(stream.id)).map((row) => [row.id, row.ended_at])).toEqual([[session!.id, null]]);

    expect((await second.exited).code).toBe(0);
    await waitFor(async () => (await sessionsOf(stream.id))[0]!.ended_at !== null, (GRACE_S + 15) * 1000, "the session ended after the grace");
    const [ended] = await sessionsOf(stream.id);
    expect(ended!.id).toBe(session!.id);
    expect(ended!.end_reason).toBe("publisher_closed");
    expect(ended!.bytes_in).toBeGreaterThan(50_000);
    expect((await stats(stream.id)).is_live).toBe(false);
  }, 90_000);

  test("a second kernel on the same LIVE_RTMP_PORT does not start: the error names the variable", async () => {
    const { ListenError } = await import("../../src/core/listen.ts");
    const failure = await startTestKernel({ env: { LIVE_RTMP_PORT: String(port) } }).then((other) => other.stop().then(() => undefined), (error: unknown) => error);
    expect(failure).toBeInstanceOf(ListenError);
    expect(String((failure as Error).message)).toContain("LIVE_RTMP_PORT");
  });

  test("POST /v1/streams/:id/stop kicks the publisher and ends the session at once", async () => {
    const stream = await createStream("kicked");
    const publisher = publish(stream.key, 30);
    await waitFor(async () => (await stats(stream.id)).publisher_connected === true, 30_000, "publisher attached");
    const stopped = await k.fetch(`/v1/streams/${stream.id}/stop`, json("POST"));
    expect(stopped.status).toBe(200);
    expect((await publisher.exited).code).not.toBe(0);
    const [row] = await sessionsOf(stream.id);
    expect(row!.end_reason).toBe("kicked");
    expect(row!.ended_at).not.toBeNull();
  }, 60_000);

  test("a session closed in the database by another kernel (a stop or rotation there) disconnects the publisher here within a tick", async () => {
    const stream = await createStream("elsewhere");
    const publisher = publish(stream.key, 30);
    await waitFor(async () => (await stats(stream.id)).publisher_connected === true, 30_000, "publisher attached");
    const [open] = await sessionsOf(stream.id);
    await k.handle.ctx.db.execute(sql`update stream_sessions set ended_at = now(), end_reason = 'key_rotated' where id = ${open!.id}`);
    expect((await publisher.exited).code).not.toBe(0);
    await waitFor(async () => (await rowsOf<{ n: number }>(await k.handle.ctx.db.execute(sql`select count(*)::int as n from events where type = 'stream.ended' and stream_id = ${stream.id}`)))[0]!.n === 1, 10_000, "stream.ended");
    const [ended] = rowsOf<{ data: { reason: string } }>(await k.handle.ctx.db.execute(sql`select data from events where type = 'stream.ended' and stream_id = ${stream.id}`));
    expect(ended!.data.reason).toBe("key_rotated");
    expect((await stats(stream.id)).is_live).toBe(false);
  }, 60_000);
});
