/**
 * A live session end to end on one in-process kernel (PostgreSQL, in-process bus, embedded worker with a live
 * slot) and an FFmpeg publisher: the session's job and live task are created and run, the worker pulls the
 * source with the session's token (a wrong token is 403 WE-STR-008), `stream.started` comes once the master
 * playlist answers, `stream.telemetry` carries ingest and transcode figures, the stats route shows them, and
 * when the publisher stops the session ends after the grace (`stream.ended`), the live task ends with
 * source_ended and the session's job completes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { rowsOf } from "../../src/db/exec.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { freePort, killAllProcs, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

let k: TestKernel;
let port = 0;

beforeAll(async () => {
  port = await freePort();
  k = await startTestKernel({ env: { LIVE_RTMP_PORT: String(port), LIVE_RECONNECT_GRACE: "2s", EMBEDDED_WORKER: "true" } });
});

afterAll(async () => {
  killAllProcs();
  await k?.stop();
});

const query = async <T>(text: ReturnType<typeof sql>) => rowsOf<T>(await k.handle.ctx.db.execute(text));

describe("a live session on one kernel", () => {
  test("publish → live task → stream.started, telemetry, stats → publisher gone → stream.ended, task and job done", async () => {
    const created = (await (await k.fetch("/v1/streams", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "live one", ladder: "light", segment_seconds: 1 }) })).json()) as { id: string; key: string };
    const publisher = spawnProc([
      "ffmpeg", "-hide_banner", "-loglevel", "warning", "-re",
      "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
      "-t", "10", "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-b:v", "500k", "-c:a", "aac", "-b:a", "64k",
      "-f", "flv", `rtmp://127.0.0.1:${port}/live/${created.key}`,
    ]);
    const events = (type: string) => query<{ data: Record<string, unknown> }>(sql`select data from events where type = ${type} and stream_id = ${created.id} order by id`);
    await waitFor(async () => (await events("stream.started")).length > 0, 60_000, "stream.started");
    const [session] = await query<{ id: string; live_task_id: string | null }>(sql`select id, live_task_id from stream_sessions where stream_id = ${created.id}`);
    expect(session!.live_task_id).not.toBeNull();
    const master = await fetch(`${k.url}/live/${created.id}/master.m3u8`);
    expect(master.status).toBe(200);
    expect(await master.text()).toContain("#EXT-X-STREAM-INF");

    const refused = await fetch(`${k.url}/internal/live/${session!.id}/source.flv`, { headers: { authorization: "Bearer wlt1.nope" } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("WE-STR-008");

    await waitFor(async () => (await events("stream.telemetry")).some((event) => (event.data.transcode as { speed?: number } | null)?.speed !== undefined), 30_000, "telemetry with a transcode report");
    const telemetry = (await events("stream.telemetry")).at(-1)!.data as { ingest: { bitrate_kbps: number; fps: number; video_codec: string }; transcode: { speed: number; epoch: number } };
    expect(telemetry.ingest.video_codec).toBe("h264");
    expect(telemetry.ingest.fps).toBeGreaterThan(20);
    expect(telemetry.transcode.epoch).toBe(1);
    const stats = (await (await k.fetch(`/v1/streams/${created.id}/stats`)).json()) as { is_live: boolean; ingest: unknown; transcode: unknown };
    expect(stats.is_live).toBe(true);

    expect((await publisher.exited).code).toBe(0);
    await waitFor(async () => (await events("stream.ended")).length > 0, 30_000, "stream.ended");
    expect((await events("stream.ended"))[0]!.data).toMatchObject({ stream_id: created.id, session_id: session!.id, reason: "publisher_closed" });
    await waitFor(async () => (await query<{ status: string }>(sql`select status from tasks where id = ${session!.live_task_id}`))[0]?.status === "completed", 60_000, "the live task completed");
    const [task] = await query<{ result: { reason: string; media_seconds: number }; job_status: string }>(sql`select t.result, j.status as job_status from tasks t join jobs j on j.id = t.job_id where t.id = ${session!.live_task_id}`);
    expect(task!.result.reason).toBe("source_ended");
    expect(task!.result.media_seconds).toBeGreaterThan(7);
    expect(task!.job_status).toBe("completed");
    expect((await events("stream.started")).length).toBe(1);
  }, 120_000);
});
