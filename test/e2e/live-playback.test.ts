/**
 * Live streaming end to end through the COMPILED kernel in standalone mode (embedded worker with live slots):
 * FFmpeg publishes over RTMP (`-re -f lavfi … -f flv rtmp://…/live/<key>`), the kernel ingests, the embedded
 * worker transcodes the ladder and PUTs segments back, and hls.js in headless Chromium plays the playback URL.
 *
 * - a wrong key is refused before any media: the publisher exits with the refusal, no session, nothing stored;
 * - a good key: the master playlist appears; hls.js plays (currentTime advancing), lists the levels, and
 *   switches level on `hls.currentLevel = n`; telemetry (GET /v1/streams/:id/stats) within 10 % of the
 *   publisher's bitrate and frame rate;
 * - the publisher reconnecting within the grace keeps the session and the playback URL, segments go on and
 *   the player keeps playing;
 * - two streams at once are independent: one publisher killed, the other keeps producing segments.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { useCompiledBinaries } from "../helpers/e2e-setup.ts";
import { openHlsPlayer } from "../helpers/hls-player.ts";
import { freePort, type Proc, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const e2e = useCompiledBinaries("webencode-live-e2e");
const VIDEO_KBPS = 600;
const AUDIO_KBPS = 64;

let kernel: Proc;
let base = "";
let rtmpPort = 0;
let dataDir = "";
let auth: Record<string, string> = {};

interface StreamCreated {
  id: string;
  key: string;
  playback_url: string;
  ingest_url: string;
}

beforeAll(async () => {
  const dir = e2e.dir("kernel");
  dataDir = join(dir, "data");
  const port = await freePort();
  rtmpPort = await freePort();
  base = `http://127.0.0.1:${port}`;
  kernel = spawnProc([e2e.kernel], {
    cwd: dir,
    env: {
      PORT: String(port),
      DATA_DIR: dataDir,
      LIVE_RTMP_PORT: String(rtmpPort),
      // Two live transcodes at once on the embedded worker (the two-streams test).
      LIVE_SLOTS: "2",
      LIVE_RECONNECT_GRACE: "4s",
      LOG_LEVEL: "info",
    },
  });
  await kernel.waitForHttp200(`${base}/v1/health`, 120_000);
  const keyFile = join(dataDir, "admin-api-key");
  await waitFor(() => existsSync(keyFile), 30_000, "the admin key file");
  auth = { authorization: `Bearer ${readFileSync(keyFile, "utf8").trim()}` };
}, 150_000);

afterAll(async () => {
  await kernel?.stop("SIGTERM", 10_000).catch(() => {});
});

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, { method, headers: { ...auth, ...(body ? { "content-type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
  return { status: response.status, body: (await response.json().catch(() => null)) as T };
}

async function createStream(name: string): Promise<StreamCreated> {
  const created = await api<StreamCreated>("POST", "/v1/streams", { name, ladder: "light", segment_seconds: 1 });
  expect(created.status).toBe(201);
  return created.body;
}

/** A CBR H.264 + AAC publisher (nal-hrd=cbr: the publisher's bitrate is known), 320x240 at 25 fps. */
function publish(key: string, seconds: number): Proc {
  return spawnProc([
    ...["ffmpeg", "-hide_banner", "-loglevel", "warning", "-nostdin", "-re"],
    ...["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", String(seconds)],
    ...["-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p"],
    ...["-b:v", `${VIDEO_KBPS}k`, "-minrate", `${VIDEO_KBPS}k`, "-maxrate", `${VIDEO_KBPS}k`, "-bufsize", `${VIDEO_KBPS / 2}k`, "-x264-params", "nal-hrd=cbr"],
    ...["-c:a", "aac", "-b:a", `${AUDIO_KBPS}k`, "-f", "flv", `rtmp://127.0.0.1:${rtmpPort}/live/${key}`],
  ]);
}

const segmentUris = (playlist: string) => playlist.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
const mediaSequence = (playlist: string) => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1] ?? -1);
/** The number of the newest segment in a media playlist (media sequence + count − 1). */
const lastSequence = (playlist: string) => mediaSequence(playlist) + segmentUris(playlist).length - 1;

async function mediaPlaylist(stream: StreamCreated, rung: string): Promise<string> {
  const response = await fetch(stream.playback_url.replace(/master\.m3u8$/, `${rung}/index.m3u8`));
  return response.status === 200 ? response.text() : "";
}

async function firstRung(stream: StreamCreated): Promise<string> {
  const master = await (await fetch(stream.playback_url)).text();
  return segmentUris(master)[0]!.split("/")[0]!;
}

/** Waits until `count` more segments than `after` are listed on `rung`. */
async function newSegments(stream: StreamCreated, rung: string, after: number, count: number, what: string): Promise<number> {
  let last = after;
  await waitFor(async () => (last = lastSequence(await mediaPlaylist(stream, rung))) >= after + count, 30_000, what, 250);
  return last;
}

interface Sessions {
  items: Array<{ id: string; ended_at: string | null; end_reason: string | null }>;
}

describe("live streaming through the compiled kernel", () => {
  test("a wrong key is refused before any media: the publisher exits with the refusal; no session, nothing stored", async () => {
    const stream = await createStream("refused");
    const publisher = publish("wsk_not_the_key_of_any_stream_000000000000", 5);
    const exit = await publisher.exited;
    expect(exit.code).not.toBe(0);
    expect(publisher.stderr.toLowerCase()).toMatch(/invalid stream key|badname|server error/);
    expect((await api<Sessions>("GET", `/v1/streams/${stream.id}/sessions`)).body.items).toEqual([]);
    expect(existsSync(join(dataDir, "storage", "live"))).toBe(false);
    expect((await fetch(stream.playback_url)).status).toBe(404);
  }, 30_000);

  let first: StreamCreated;
  let firstPublisher: Proc;
  let firstSession = "";

  test("a good key: the ladder plays in hls.js (time advancing, levels listed, a level switch); telemetry within 10 %", async () => {
    first = await createStream("first");
    expect(first.playback_url).not.toContain(first.key);
    firstPublisher = publish(first.key, 120);
    // 404 with the not-ready error until every rung has its first segments, then the master playlist.
    await waitFor(async () => (await fetch(first.playback_url)).status === 200, 45_000, "the master playlist", 250);
    const sessions = await api<Sessions>("GET", `/v1/streams/${first.id}/sessions`);
    expect(sessions.body.items.length).toBe(1);
    firstSession = sessions.body.items[0]!.id;

    const player = await openHlsPlayer(first.playback_url);
    try {
      const playing = await player.waitFor("playback to start", (state) => state.currentTime > 1, 45_000);
      expect(playing.levels.length).toBe(2);
      const other = playing.currentLevel === 0 ? 1 : 0;
      await player.setLevel(other);
      const switched = await player.waitFor(`a switch to level ${other}`, (state) => state.switched.includes(other) && state.fragments.some((fragment) => fragment.level === other));
      const before = switched.currentTime;
      const after = await player.waitFor("currentTime advancing after the switch", (state) => state.currentTime > before + 2);
      expect(after.errors.filter((error) => error.fatal)).toEqual([]);
    } finally {
      await player.close();
    }

    // Telemetry against the publisher's CBR bitrate (video + audio) and 25 fps: the median of a few samples.
    const samples: Array<{ bitrate: number; fps: number; viewers: number | null }> = [];
    await waitFor(
      async () => {
        const stats = await api<{ ingest: { bitrate_kbps: number; fps: number } | null; viewers: number | null }>("GET", `/v1/streams/${first.id}/stats`);
        if (stats.body.ingest) samples.push({ bitrate: stats.body.ingest.bitrate_kbps, fps: stats.body.ingest.fps, viewers: stats.body.viewers });
        return samples.length >= 3;
      },
      20_000,
      "three telemetry samples",
      1000,
    );
    const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const real = VIDEO_KBPS + AUDIO_KBPS;
    expect(Math.abs(median(samples.map((s) => s.bitrate)) - real) / real).toBeLessThan(0.1);
    expect(Math.abs(median(samples.map((s) => s.fps)) - 25) / 25).toBeLessThan(0.1);
    // Viewers: the browser's player, and this test's own playlist requests (another User-Agent) if they were
    // in the last 30 s.
    expect(samples[0]!.viewers).toBeGreaterThanOrEqual(1);
    expect(samples[0]!.viewers).toBeLessThanOrEqual(2);
  }, 120_000);

  test("the publisher reconnecting within the grace keeps the session and the playback URL; segments go on and hls.js keeps playing", async () => {
    const rung = await firstRung(first);
    const player = await openHlsPlayer(first.playback_url);
    try {
      await player.waitFor("playback to start", (state) => state.currentTime > 1, 45_000);
      const before = lastSequence(await mediaPlaylist(first, rung));
      firstPublisher.kill("SIGKILL");
      await firstPublisher.exited;
      const stopped = (await player.state()).currentTime;
      firstPublisher = publish(first.key, 120);
      await newSegments(first, rung, before, 3, "segments after the reconnect");
      // The viewer's player goes on into the segments made after the reconnect.
      const after = await player.waitFor("playback past the reconnect", (state) => state.currentTime > stopped + 3 && state.fragments.some((fragment) => fragment.sn > before + 1), 30_000);
      expect(after.errors.filter((error) => error.fatal)).toEqual([]);
    } finally {
      await player.close();
    }
    // The same playlist goes on (the new publisher's FLV is spliced into the transcode's source; a restarted
    // transcode would show as a discontinuity instead): not ended, newer segments listed.
    expect(await mediaPlaylist(first, rung)).not.toContain("#EXT-X-ENDLIST");
    const sessions = await api<Sessions>("GET", `/v1/streams/${first.id}/sessions`);
    expect(sessions.body.items.map((session) => [session.id, session.ended_at])).toEqual([[firstSession, null]]);
    expect((await api<StreamCreated>("GET", `/v1/streams/${first.id}`)).body.playback_url).toBe(first.playback_url);
    expect((await fetch(first.playback_url)).status).toBe(200);
  }, 90_000);

  test("two streams at once are independent: one publisher killed, the other keeps producing segments", async () => {
    const second = await createStream("second");
    const secondPublisher = publish(second.key, 120);
    try {
      await waitFor(async () => (await fetch(second.playback_url)).status === 200, 45_000, "the second stream's master playlist", 250);
      const rung = await firstRung(second);
      const firstRungName = await firstRung(first);
      firstPublisher.kill("SIGKILL");
      await firstPublisher.exited;
      const from = lastSequence(await mediaPlaylist(second, rung));
      await newSegments(second, rung, from, 4, "the second stream's segments after the first publisher died");
      // The first stream ends once its grace is over: its session closes and its playlists end.
      await waitFor(async () => (await api<Sessions>("GET", `/v1/streams/${first.id}/sessions`)).body.items[0]?.ended_at !== null, 30_000, "the first session to end", 250);
      await waitFor(async () => (await mediaPlaylist(first, firstRungName)).includes("#EXT-X-ENDLIST"), 30_000, "the first stream's ENDLIST", 250);
      // The second one is still live and growing.
      const later = lastSequence(await mediaPlaylist(second, rung));
      await newSegments(second, rung, later, 1, "the second stream still producing");
      expect((await api<{ is_live: boolean }>("GET", `/v1/streams/${second.id}/stats`)).body.is_live).toBe(true);
    } finally {
      secondPublisher.kill("SIGKILL");
    }
  }, 90_000);
});
