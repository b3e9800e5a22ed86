/**
 * Live delivery against a real kernel (PostgreSQL, storage-fs plugin) with FFmpeg's own HLS muxer pushing
 * segments and rung playlists by HTTP PUT, as the live transcode does: the kernel-built playlists, the
 * master announced only once every rung has its first segments, the window sliding and old segments
 * deleted, a restarted transcode (new epoch) continuing after a discontinuity, the end of a session,
 * the internal token and name checks, signed playback, CORS and viewer counting.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databaseDirectory } from "../../src/kernel/live/delivery/directory.ts";
import { liveDelivery, signPlaybackToken } from "../../src/kernel/live/delivery/index.ts";
import { verifyPlaybackToken } from "../../src/kernel/live/delivery/playback-token.ts";
import { closeSession, createStream, openSession, updateStream } from "../../src/kernel/live/streams-store.ts";
import { signLiveToken } from "../../src/kernel/live/token.ts";
import { openHlsPlayer } from "../helpers/hls-player.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { waitFor } from "../helpers/wait.ts";

let kernel: TestKernel;
let scratch: string;
const STREAM = "live-delivery-test-stream";
const SIGNED_STREAM = "live-delivery-signed";
const SESSION = crypto.randomUUID();
const SIGNED_SESSION = crypto.randomUUID();
const PLAYER_STREAM = "live-delivery-player";
const PLAYER_SESSION = crypto.randomUUID();
/** What the streams domain says about the player stream's session (ended by another kernel, say). */
let playerSessionEnded = false;
const RUNGS = [
  { name: "240p", width: 320, height: 240, videoKbps: 300 },
  { name: "180p", width: 240, height: 180, videoKbps: 150 },
];

beforeAll(async () => {
  kernel = await startTestKernel();
  scratch = mkdtempSync(join(tmpdir(), "webencode-live-delivery-"));
  const delivery = liveDelivery(kernel.handle.ctx);
  delivery.startSession({ sessionId: SESSION, streamId: STREAM, rungs: RUNGS, audioKbps: 64 });
  delivery.startSession({ sessionId: SIGNED_SESSION, streamId: SIGNED_STREAM, rungs: RUNGS.slice(0, 1), audioKbps: 64 });
  delivery.startSession({ sessionId: PLAYER_SESSION, streamId: PLAYER_STREAM, rungs: RUNGS, audioKbps: 64 });
  // The streams domain's answer (which session a stream plays, whether it is signed).
  delivery.useDirectory({
    playbackOf: async (streamId) =>
      streamId === STREAM
        ? { sessionId: SESSION, signed: false, ended: false }
        : streamId === SIGNED_STREAM
          ? { sessionId: SIGNED_SESSION, signed: true, ended: false }
          : streamId === PLAYER_STREAM
            ? { sessionId: PLAYER_SESSION, signed: false, ended: playerSessionEnded }
            : null,
  });
});

afterAll(async () => {
  await kernel?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

const token = (session: string) => signLiveToken(kernel.handle.ctx.secrets, session, new Date(Date.now() + 3600_000));
const get = (path: string, init?: RequestInit) => fetch(`${kernel.url}${path}`, init);

/** FFmpeg encoding a lavfi source into HLS rungs, PUT to the kernel as the live task's muxer does. */
function pushWithFfmpeg(session: string, epoch: number, seconds: number, rungs = RUNGS) {
  const base = `${kernel.url}/internal/live/${session}`;
  const outputs = rungs.flatMap((rung) => [
    ...["-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p"],
    ...["-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-b:v", `${rung.videoKbps}k`, "-s", `${rung.width}x${rung.height}`, "-c:a", "aac", "-b:a", "64k"],
    ...["-f", "hls", "-hls_time", "1", "-hls_list_size", "4", "-hls_flags", "independent_segments+program_date_time", "-method", "PUT"],
    ...["-headers", `Authorization: Bearer ${token(session)}\r\n`, "-hls_segment_filename", `${base}/${rung.name}/e${epoch}_%d.ts`, `${base}/${rung.name}/e${epoch}.m3u8`],
  ]);
  return Bun.spawn(
    ["ffmpeg", "-v", "error", "-nostdin", "-re", "-f", "lavfi", "-i", `testsrc2=size=320x240:rate=25:duration=${seconds}`, "-f", "lavfi", "-i", `sine=frequency=440:duration=${seconds}`, ...outputs],
    { stdout: "ignore", stderr: "pipe" },
  );
}

/**
 * Waits for FFmpeg to exit cleanly, then for the kernel to have taken in its last PUTs (FFmpeg does not wait
 * for the answer to its last playlist): every rung's playlist ends with the newest segment stored.
 */
async function finished(proc: ReturnType<typeof pushWithFfmpeg>, session: string, epoch: number, rungs = RUNGS) {
  const code = await proc.exited;
  const stderr = await new Response(proc.stderr).text();
  expect({ code, stderr: stderr.split("\n").filter((line) => !/Opening|keepalive/.test(line)).join("\n") }).toEqual({ code: 0, stderr: "" });
  const newest = (rung: string) =>
    readdirSync(join(kernel.dataDir, "storage", "live", session, rung))
      .map((name) => new RegExp(`^e${epoch}_(\\d+)\\.ts$`).exec(name)?.[1])
      .filter((index) => index !== undefined)
      .map(Number)
      .sort((a, b) => b - a)[0];
  let calmSince = 0;
  const settled = async () => {
    // Nothing in flight for 300 ms (the last requests may still have been on their way) …
    if (liveDelivery(kernel.handle.ctx).busy()) calmSince = 0;
    else calmSince ||= Date.now();
    if (!calmSince || Date.now() - calmSince < 300) return false;
    // … and every rung lists its newest stored segment.
    for (const rung of rungs) {
      const playlist = await Bun.file(join(kernel.dataDir, "storage", "live", session, rung.name, "index.m3u8")).text().catch(() => "");
      if (!playlist.trimEnd().endsWith(`_e${epoch}_${newest(rung.name)}.ts`)) return false;
    }
    return true;
  };
  await waitFor(settled, 10_000, `the kernel to list the last segments of epoch ${epoch}`, 50);
}

const segmentUris = (playlist: string) => playlist.split("\n").filter((line) => line !== "" && !line.startsWith("#"));
const mediaSequence = (playlist: string) => Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(playlist)?.[1]);

describe("live delivery with FFmpeg pushing two rungs", () => {
  test("master 404 until ready; then playlists and segments; the window slides and old segments go", async () => {
    const early = await get(`/live/${STREAM}/master.m3u8`);
    expect(early.status).toBe(404);
    const body = (await early.json()) as { error: { code: string; message: string; details: { reason: string } } };
    expect(body.error.code).toBe("WE-STR-002");
    expect(body.error.details.reason).toBe("not_ready");
    expect(liveDelivery(kernel.handle.ctx).segmentsReady(SESSION)).toBe(false);

    let readyEvents = 0;
    const unsubscribe = liveDelivery(kernel.handle.ctx).onSegmentsReady((id) => void (id === SESSION && readyEvents++));
    const publisher = pushWithFfmpeg(SESSION, 1, 9);
    await waitFor(async () => (await get(`/live/${STREAM}/master.m3u8`)).status === 200, 30_000, "the master playlist", 200);
    // The master is readable in storage a moment before the kernel that wrote it has marked the session ready
    // (the storage plugin's reply is still on its way): ready follows within that moment.
    await waitFor(() => liveDelivery(kernel.handle.ctx).segmentsReady(SESSION), 5_000, "the session marked ready", 20);
    expect(readyEvents).toBe(1);
    unsubscribe();

    const master = await get(`/live/${STREAM}/master.m3u8`);
    expect(master.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(master.headers.get("cache-control")).toBe("public, max-age=2");
    const masterText = await master.text();
    expect(masterText).toContain('RESOLUTION=320x240,CODECS="avc1.64001e,mp4a.40.2"');
    expect(segmentUris(masterText)).toEqual(["240p/index.m3u8", "180p/index.m3u8"]);
    // Every rung already has three segments when the master appears.
    for (const rung of RUNGS) expect(segmentUris(await (await get(`/live/${STREAM}/${rung.name}/index.m3u8`)).text()).length).toBeGreaterThanOrEqual(3);

    await finished(publisher, SESSION, 1);
    const media = await get(`/live/${STREAM}/240p/index.m3u8`);
    expect(media.headers.get("cache-control")).toBe("public, max-age=1");
    const text = await media.text();
    const uris = segmentUris(text);
    expect(uris.length).toBe(6);
    expect(uris.every((uri) => uri.startsWith(`${SESSION}_e1_`))).toBe(true);
    expect(text).toContain("#EXT-X-INDEPENDENT-SEGMENTS");
    expect(text).toContain("#EXT-X-DISCONTINUITY-SEQUENCE:0");
    expect(text).toMatch(/#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT/);
    expect(text).not.toContain("#EXT-X-ENDLIST");
    expect(mediaSequence(text)).toBeGreaterThanOrEqual(2);

    // A listed segment is H.264 320x240 with AAC, served as immutable.
    const segment = await get(`/live/${STREAM}/240p/${uris.at(-1)}`);
    expect(segment.status).toBe(200);
    expect(segment.headers.get("content-type")).toBe("video/mp2t");
    expect(segment.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    const file = join(scratch, "segment.ts");
    writeFileSync(file, new Uint8Array(await segment.arrayBuffer()));
    const probe = Bun.spawnSync(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", file]);
    // (ffprobe lists an MPEG-TS stream once per program too: distinct lines.)
    expect([...new Set(probe.stdout.toString().trim().split("\n").filter(Boolean))].sort()).toEqual(["aac", "h264,320,240"]);
  }, 60_000);

  test("a restarted transcode (epoch 2) continues the sequence after one discontinuity", async () => {
    const before = await (await get(`/live/${STREAM}/240p/index.m3u8`)).text();
    const lastSequence = mediaSequence(before) + segmentUris(before).length - 1;
    await finished(pushWithFfmpeg(SESSION, 2, 5), SESSION, 2);
    const after = await (await get(`/live/${STREAM}/240p/index.m3u8`)).text();
    const uris = segmentUris(after);
    const firstNew = uris.findIndex((uri) => uri.includes("_e2_"));
    expect(firstNew).toBeGreaterThan(0);
    // Sequence numbers are contiguous across the epochs.
    expect(mediaSequence(after) + firstNew).toBe(lastSequence + 1);
    expect(after.match(/#EXT-X-DISCONTINUITY\n/g)?.length).toBe(1);
    expect(after).toContain(`#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:`);
    expect(after.split("#EXT-X-DISCONTINUITY\n")[1]!.split("\n")[2]).toBe(uris[firstNew]);
    // Storage holds the window plus the retention margin (6 + 6), the newest ones: the oldest are deleted.
    const stored = readdirSync(join(kernel.dataDir, "storage", "live", SESSION, "240p")).filter((name) => name.endsWith(".ts"));
    expect(stored.length).toBe(12);
    expect(stored).not.toContain("e1_0.ts");
  }, 30_000);

  test("a playlist of an older epoch changes nothing", async () => {
    const before = await (await get(`/live/${STREAM}/240p/index.m3u8`)).text();
    const stale = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\ne1_999.ts\n";
    const segment = await get(`/internal/live/${SESSION}/240p/e1_999.ts`, { method: "PUT", body: "x", headers: { authorization: `Bearer ${token(SESSION)}` } });
    expect(segment.status).toBe(204);
    const put = await get(`/internal/live/${SESSION}/240p/e1.m3u8`, { method: "PUT", body: stale, headers: { authorization: `Bearer ${token(SESSION)}` } });
    expect(put.status).toBe(204);
    expect(await (await get(`/live/${STREAM}/240p/index.m3u8`)).text()).toBe(before);
  });

  test("viewers: distinct playback sessions in the last 30 s; CORS as for media links", async () => {
    const delivery = liveDelivery(kernel.handle.ctx);
    const base = delivery.viewers(STREAM);
    await get(`/live/${STREAM}/240p/index.m3u8`, { headers: { "user-agent": "viewer-one" } });
    await get(`/live/${STREAM}/180p/index.m3u8`, { headers: { "user-agent": "viewer-one" } });
    await get(`/live/${STREAM}/240p/index.m3u8`, { headers: { "user-agent": "viewer-two" } });
    expect(delivery.viewers(STREAM) - base).toBe(2);
    expect(delivery.viewers("another-stream")).toBe(0);
    const cors = await get(`/live/${STREAM}/master.m3u8`, { headers: { origin: "https://player.example" } });
    expect(cors.headers.get("access-control-allow-origin")).toBe("*");
    const preflight = await get(`/live/${STREAM}/240p/index.m3u8`, { method: "OPTIONS", headers: { origin: "https://player.example", "access-control-request-method": "GET" } });
    expect(preflight.status).toBe(204);
  });

  test("unknown streams, rungs and segments are 404 with the error envelope", async () => {
    for (const path of [`/live/nope/master.m3u8`, `/live/${STREAM}/999p/index.m3u8`, `/live/${STREAM}/240p/${SESSION}_e7_0.ts`, `/live/${STREAM}/240p/window.json`, `/live/${STREAM}/240p/..%2Fmaster.m3u8`]) {
      const response = await get(path);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      expect(((await response.json()) as { error: { code: string } }).error.code).toMatch(/^WE-(STR-002|REQ-006|REQ-002)$/);
    }
  });

  test("the end of the session: ENDLIST on every rung", async () => {
    await liveDelivery(kernel.handle.ctx).endSession(SESSION);
    for (const rung of RUNGS) expect((await (await get(`/live/${STREAM}/${rung.name}/index.m3u8`)).text()).trimEnd().endsWith("#EXT-X-ENDLIST")).toBe(true);
  });
});

describe("the internal push route", () => {
  const path = `/internal/live/${SIGNED_SESSION}/240p/e1_0.ts`;
  test("without the session's token: 401, nothing stored", async () => {
    const cases: Array<Record<string, string>> = [
      {},
      { authorization: "Bearer nonsense" },
      { authorization: `Bearer ${token(SESSION)}` }, // another session's token
      { authorization: `Bearer ${signLiveToken(kernel.handle.ctx.secrets, SIGNED_SESSION, new Date(Date.now() - 1000))}` },
    ];
    for (const headers of cases) {
      const response = await get(path, { method: "PUT", body: "data", headers });
      expect(response.status).toBe(401);
    }
    expect(readdirSync(join(kernel.dataDir, "storage", "live")).includes(SIGNED_SESSION)).toBe(false);
  });

  test("bad rung or file names: 400", async () => {
    for (const bad of [`/internal/live/${SIGNED_SESSION}/240p/index.m3u8`, `/internal/live/${SIGNED_SESSION}/240p/window.json`, `/internal/live/${SIGNED_SESSION}/2%20p/e1_0.ts`, `/internal/live/${SIGNED_SESSION}/240p/e1_0.mp4`]) {
      const response = await get(bad, { method: "PUT", body: "data", headers: { authorization: `Bearer ${token(SIGNED_SESSION)}` } });
      expect({ bad, status: response.status }).toEqual({ bad, status: 400 });
    }
  });

  test("a segment over the size limit is cut off with 413 and not stored", async () => {
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ >= 70) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const response = await get(path, { method: "PUT", body, headers: { authorization: `Bearer ${token(SIGNED_SESSION)}` } }).catch(() => null);
    // The kernel may answer before the client finished sending, or cut the connection.
    if (response) expect(response.status).toBe(413);
    const dir = join(kernel.dataDir, "storage", "live", SIGNED_SESSION, "240p");
    expect(readdirSync(join(kernel.dataDir, "storage", "live")).includes(SIGNED_SESSION) ? readdirSync(dir) : []).toEqual([]);
  });

  test("a stored window that is not readable stops the rung's updates with WE-STO-004 instead of restarting its numbering", async () => {
    const session = crypto.randomUUID();
    const folder = join(kernel.dataDir, "storage", "live", session, "240p");
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, "window.json"), '{"nextSequence": "many"}');
    const response = await get(`/internal/live/${session}/240p/e1.m3u8`, { method: "PUT", body: "#EXTM3U\n", headers: { authorization: `Bearer ${token(session)}` } });
    expect(response.status).toBe(500);
    expect(((await response.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "WE-STO-004", message: expect.stringContaining("window.json is unreadable") });
    expect(readFileSync(join(folder, "window.json"), "utf8")).toBe('{"nextSequence": "many"}');
  });

  test("FFmpeg's DELETE (delete_segments) is accepted and ignored", async () => {
    const response = await get(path, { method: "DELETE", headers: { authorization: `Bearer ${token(SIGNED_SESSION)}` } });
    expect(response.status).toBe(204);
  });
});

describe("signed playback", () => {
  test("no or bad token: 401; a minted token: 200 and carried on to every URI; expired: WE-AUTH-002", async () => {
    await finished(pushWithFfmpeg(SIGNED_SESSION, 1, 4, RUNGS.slice(0, 1)), SIGNED_SESSION, 1, RUNGS.slice(0, 1));
    expect((await get(`/live/${SIGNED_STREAM}/master.m3u8`)).status).toBe(401);
    expect((await get(`/live/${SIGNED_STREAM}/master.m3u8?token=wlp1.x.1.y`)).status).toBe(401);
    // A token for another stream does not open this one.
    const other = signPlaybackToken(kernel.handle.ctx.secrets, STREAM, new Date(Date.now() + 60_000));
    expect((await get(`/live/${SIGNED_STREAM}/master.m3u8?token=${other}`)).status).toBe(401);
    const good = signPlaybackToken(kernel.handle.ctx.secrets, SIGNED_STREAM, new Date(Date.now() + 60_000));
    expect(good).not.toContain(SIGNED_SESSION);
    const master = await get(`/live/${SIGNED_STREAM}/master.m3u8?token=${good}`);
    expect(master.status).toBe(200);
    expect(master.headers.get("cache-control")).toBe("private, max-age=2");
    expect(segmentUris(await master.text())).toEqual([`240p/index.m3u8?token=${good}`]);
    const media = await (await get(`/live/${SIGNED_STREAM}/240p/index.m3u8?token=${good}`)).text();
    const first = segmentUris(media)[0]!;
    expect(first.endsWith(`?token=${good}`)).toBe(true);
    expect((await get(`/live/${SIGNED_STREAM}/240p/${first}`)).status).toBe(200);
    expect((await get(`/live/${SIGNED_STREAM}/240p/${first.split("?")[0]}`)).status).toBe(401);
    const expired = signPlaybackToken(kernel.handle.ctx.secrets, SIGNED_STREAM, new Date(Date.now() - 1000));
    const late = await get(`/live/${SIGNED_STREAM}/master.m3u8?token=${expired}`);
    expect(late.status).toBe(401);
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe("WE-AUTH-002");
  }, 30_000);
});

describe("the database directory (streams, stream_sessions)", () => {
  test("a stream plays its latest session; signed when its playback setting says so; unknown ids are no stream", async () => {
    const { db } = kernel.handle.ctx;
    const directory = databaseDirectory(kernel.handle.ctx);
    const { row: stream } = await createStream(db, { name: "dir", archive: false, archiveProfiles: [], ladder: "default", segmentSeconds: 2, playback: "public" }, "test");
    expect(await directory.playbackOf(stream.id)).toBeNull();
    const first = (await openSession(db, { streamId: stream.id, remoteAddress: "127.0.0.1", kernelId: "k" }))!;
    expect(await directory.playbackOf(stream.id)).toEqual({ sessionId: first.id, signed: false, ended: false });
    await closeSession(db, first.id, "publisher_closed", 0);
    // Ended: still the one played (its playlists end with ENDLIST) until a new one starts.
    expect(await directory.playbackOf(stream.id)).toEqual({ sessionId: first.id, signed: false, ended: true });
    await Bun.sleep(5); // started_at must differ
    const second = (await openSession(db, { streamId: stream.id, remoteAddress: "127.0.0.1", kernelId: "k" }))!;
    await updateStream(db, stream.id, { playback: "signed" });
    expect(await directory.playbackOf(stream.id)).toEqual({ sessionId: second.id, signed: true, ended: false });
    expect(await directory.playbackOf("not-a-uuid")).toBeNull();
    expect(await directory.playbackOf(crypto.randomUUID())).toBeNull();
  });
});

describe("hls.js in headless Chromium", () => {
  test("plays the kernel's live playlists, switches rendition, and keeps playing across a restarted transcode", async () => {
    const first = pushWithFfmpeg(PLAYER_SESSION, 1, 10);
    let second: ReturnType<typeof pushWithFfmpeg> | undefined;
    await waitFor(async () => (await get(`/live/${PLAYER_STREAM}/master.m3u8`)).status === 200, 30_000, "the master playlist", 200);
    const player = await openHlsPlayer(`${kernel.url}/live/${PLAYER_STREAM}/master.m3u8`);
    try {
      const playing = await player.waitFor("playback to start", (state) => state.currentTime > 1);
      expect(playing.levels.map((level) => level.height).sort()).toEqual([180, 240]);
      const other = playing.currentLevel === 0 ? 1 : 0;
      await player.setLevel(other);
      await player.waitFor(`a switch to level ${other}`, (state) => state.switched.includes(other) && state.fragments.some((fragment) => fragment.level === other));
      await finished(first, PLAYER_SESSION, 1);
      // The transcode restarts (a new epoch): the player goes on after the discontinuity.
      const before = (await player.state()).currentTime;
      second = pushWithFfmpeg(PLAYER_SESSION, 2, 8);
      const playlist = await waitForText(`/live/${PLAYER_STREAM}/240p/index.m3u8`, (text) => text.includes("#EXT-X-DISCONTINUITY\n"));
      const firstOfEpoch2 = mediaSequence(playlist) + segmentUris(playlist).findIndex((uri) => uri.includes("_e2_"));
      const after = await player.waitFor("fragments of the new epoch played", (state) => state.fragments.some((fragment) => fragment.sn >= firstOfEpoch2 + 1) && state.currentTime > before + 3, 40_000);
      expect(after.errors.filter((error) => error.fatal)).toEqual([]);
      await finished(second, PLAYER_SESSION, 2);
    } finally {
      await player.close();
      first.kill();
      second?.kill();
    }
  }, 90_000);
});

describe("GET /v1/streams/:id/playback", () => {
  test("a public stream's link has no token; a signed one's carries a fresh token for that stream, never the key", async () => {
    const created = await kernel.fetch("/v1/streams", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "link" }) });
    expect(created.status).toBe(201);
    const stream = (await created.json()) as { id: string; key: string };
    const link = async () => {
      const response = await kernel.fetch(`/v1/streams/${stream.id}/playback`);
      expect(response.status).toBe(200);
      return (await response.json()) as { url: string; token: string | null; expires_at: string | null; playback: string };
    };
    // (The URL's base is PUBLIC_URL; the test kernel's is its configured port 0.)
    const open = await link();
    expect({ ...open, url: new URL(open.url).pathname }).toEqual({ stream_id: stream.id, playback: "public", url: `/live/${stream.id}/master.m3u8`, token: null, expires_at: null } as never);
    expect((await kernel.fetch(`/v1/streams/${stream.id}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ playback: "signed" }) })).status).toBe(200);
    const signed = await link();
    expect(signed.url).toBe(`${new URL(open.url).origin}/live/${stream.id}/master.m3u8?token=${encodeURIComponent(signed.token!)}`);
    expect(signed.url).not.toContain(stream.key);
    expect(verifyPlaybackToken(kernel.handle.ctx.secrets, signed.token!, stream.id, Date.now())).toEqual({ ok: true, expiresAt: new Date(signed.expires_at!) });
    expect((await kernel.fetch(`/v1/streams/${crypto.randomUUID()}/playback`)).status).toBe(404);
    expect((await kernel.fetch(`/v1/streams/nope/playback`)).status).toBe(400);
    expect((await kernel.fetch(`/v1/streams/${stream.id}/playback`, { headers: { authorization: "" } })).status).toBe(401);
  });
});

describe("a session ended elsewhere", () => {
  test("the first playback request after the streams domain ended it ends its playlists (ENDLIST)", async () => {
    expect(await (await get(`/live/${PLAYER_STREAM}/240p/index.m3u8`)).text()).not.toContain("#EXT-X-ENDLIST");
    playerSessionEnded = true;
    expect((await (await get(`/live/${PLAYER_STREAM}/240p/index.m3u8`)).text()).trimEnd().endsWith("#EXT-X-ENDLIST")).toBe(true);
    expect((await (await get(`/live/${PLAYER_STREAM}/180p/index.m3u8`)).text()).trimEnd().endsWith("#EXT-X-ENDLIST")).toBe(true);
  });
});

async function waitForText(path: string, condition: (text: string) => boolean): Promise<string> {
  let text = "";
  await waitFor(async () => condition((text = await (await get(path)).text())), 20_000, `${path} to change`, 200);
  return text;
}
