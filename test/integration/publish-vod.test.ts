/**
 * POST /v1/jobs/:id/publish against a real kernel with publisher-youtube and the local stand-in for YouTube's
 * OAuth and resumable upload endpoints (test/helpers/platform-standins.ts; the only mock): a completed job's
 * MP4 uploaded with a connection cut mid-way and resumed, the platform's video id and URL recorded, quota and
 * revoked-account errors surfaced on the publication, an upload whose kernel died resumed by another round
 * of the resumer, and the request errors (job not completed, unknown or non-uploading publisher, outputs).
 *
 * The job is not transcoded here (that is the pipeline tests' business and slow on a loaded machine): its rows
 * are inserted as `completed` and its output — a real 2-second MP4 made by FFmpeg — is put into the job's
 * output storage (storage-fs) directly, where the package step would have written it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { stopPublications } from "../../src/kernel/publishers/publish-run.ts";
import { resumeIdleUploads } from "../../src/kernel/publishers/publish-resumer.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { type YouTubeStandIn, startYouTubeStandIn, youtubeStandInSettings } from "../helpers/platform-standins.ts";
import { waitFor } from "../helpers/wait.ts";

const CHUNK = 256 * 1024;
let k: TestKernel;
let standIn: YouTubeStandIn;
let sql: postgres.Sql;
let dir: string;
let clip: { path: string; size: number; sha256: string };
let jobId: string;
const logs: string[] = [];
/** Every response body the tests read: none may carry a token or a session URI. */
const bodies: string[] = [];

async function configureYouTube(refreshToken: string): Promise<void> {
  const put = await k.fetch("/v1/plugins/publisher-youtube/config", {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      config: youtubeStandInSettings(standIn, { refresh_token: refreshToken, upload_chunk_bytes: CHUNK }),
    }),
  });
  // Answered once the plugin runs with the new settings.
  expect(put.status).toBe(200);
}

async function completedJob(): Promise<string> {
  const [job] = await sql<{ id: string }[]>`insert into jobs (source_url, profiles, outputs, status, options, finished_at)
    values ('uploads/x/clip.mp4', '["720p_h264"]'::jsonb, '["mp4","hls"]'::jsonb, 'completed', '{"storage":"storage-fs"}'::jsonb, now()) returning id`;
  const key = `jobs/${job!.id}/output/720p_h264.mp4`;
  const storage = await k.handle.ctx.plugins.route("storage", { id: "storage-fs" });
  await storage.call("put_file", { key, path: clip.path, content_type: "video/mp4" });
  await sql`insert into outputs (job_id, kind, profile, storage_plugin, storage_key, size_bytes, width, height)
    values (${job!.id}, 'mp4', '720p_h264', 'storage-fs', ${key}, ${clip.size}, 640, 360)`;
  await sql`insert into outputs (job_id, kind, profile, storage_plugin, storage_key, storage_prefix, size_bytes)
    values (${job!.id}, 'hls', 'hls', 'storage-fs', ${`jobs/${job!.id}/output/hls/master.m3u8`}, ${`jobs/${job!.id}/output/hls/`}, 1000)`;
  return job!.id;
}

async function call(path: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const response = await k.fetch(path, init);
  const text = await response.text();
  bodies.push(text);
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const publish = (job: string, body: Record<string, unknown>) =>
  call(`/v1/jobs/${job}/publish`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

async function settled(job: string, id: string, timeoutMs = 60_000): Promise<any> {
  let found: any;
  await waitFor(
    async () => {
      const list = await call(`/v1/jobs/${job}/publications`);
      found = list.body.items.find((p: { id: string }) => p.id === id);
      return found && found.status !== "uploading";
    },
    timeoutMs,
    `publication ${id} to finish`,
    200,
  );
  return found;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "publish-vod-"));
  const path = join(dir, "720p_h264.mp4");
  // Noise keeps the bitrate up: about 1 MB in 2 s, several 256 KiB chunks.
  const ffmpeg = Bun.spawnSync(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25,noise=alls=30:allf=t", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "4M", "-pix_fmt", "yuv420p", "-y", path]);
  expect(ffmpeg.exitCode).toBe(0);
  const bytes = readFileSync(path);
  clip = { path, size: bytes.length, sha256: sha256(bytes) };
  expect(clip.size).toBeGreaterThan(3 * CHUNK);
  standIn = startYouTubeStandIn();
  k = await startTestKernel({ logSink: logs, logLevel: "debug" });
  sql = postgres(k.db.url, { max: 1 });
  await configureYouTube(standIn.grantRefreshToken());
  expect((await k.fetch("/v1/plugins/publisher-youtube/enable", { method: "POST" })).status).toBe(200);
  await waitFor(async () => ((await (await k.fetch("/v1/plugins/publisher-youtube")).json()) as { state: string }).state === "healthy", 30_000, "publisher-youtube healthy");
  jobId = await completedJob();
}, 120_000);

afterAll(async () => {
  await sql?.end();
  await k?.stop();
  await standIn?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("POST /v1/jobs/:id/publish (local stand-in for YouTube)", () => {
  test("a completed job's MP4 is uploaded; a connection cut mid-way is resumed; the video id and URL are recorded; audited", async () => {
    const before = standIn.uploadRequests.length;
    standIn.interruptUpload(CHUNK + 100_000, "cut");
    const accepted = await publish(jobId, { publisher: "publisher-youtube", title: "Launch day", description: "From WebEncode", privacy: "unlisted" });
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ job_id: jobId, publisher: "publisher-youtube", title: "Launch day", privacy: "unlisted", status: "uploading", bytes_total: clip.size, error: null });
    expect(Object.keys(accepted.body)).not.toContain("session_sealed");

    const done = await settled(jobId, accepted.body.id);
    expect(done).toMatchObject({ status: "completed", bytes_confirmed: clip.size, error: null });
    const video = standIn.videos.get(done.platform_video_id)!;
    expect(done.url).toBe(`https://www.youtube.com/watch?v=${done.platform_video_id}`);
    expect(video).toMatchObject({ title: "Launch day", description: "From WebEncode", privacy: "unlisted" });
    // Every byte of the output, exactly once in the right order.
    expect(video.bytes.length).toBe(clip.size);
    expect(sha256(video.bytes)).toBe(clip.sha256);
    const requests = standIn.uploadRequests.slice(before);
    const cut = requests.findIndex((r) => r.kind === "chunk" && r.status === 0);
    expect(cut).toBeGreaterThan(0);
    expect(requests[cut + 1]).toMatchObject({ kind: "status", contentRange: `bytes */${clip.size}`, status: 308 });
    expect(requests.at(-1)).toMatchObject({ kind: "chunk", status: 201 });

    const [row] = await sql<{ session_sealed: string | null }[]>`select session_sealed from publications where id = ${accepted.body.id}`;
    expect(row!.session_sealed).toBeNull();
    await waitFor(async () => (await sql`select 1 from audit_log where action = 'jobs.publish' and target = ${jobId} and status = 202`).length === 1, 10_000, "the publish audit entry");
  }, 90_000);

  test("an upload whose kernel died mid-way is resumed from the bytes the platform holds (no new session)", async () => {
    // What a kernel that died after the first chunk leaves: the session (sealed), the bytes confirmed, a lapsed lease.
    const access = (await (
      await fetch(`${standIn.url}/token`, { method: "POST", body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: standIn.grantRefreshToken(), client_id: standIn.clientId, client_secret: standIn.clientSecret }) })
    ).json()) as { access_token: string };
    const started = await fetch(`${standIn.url}/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`, {
      method: "POST",
      headers: { authorization: `Bearer ${access.access_token}`, "content-type": "application/json", "x-upload-content-length": String(clip.size), "x-upload-content-type": "video/mp4" },
      body: JSON.stringify({ snippet: { title: "Resumed" }, status: { privacyStatus: "private" } }),
    });
    const session = started.headers.get("location")!;
    const first = await fetch(session, { method: "PUT", headers: { authorization: `Bearer ${access.access_token}`, "content-range": `bytes 0-${CHUNK - 1}/${clip.size}` }, body: readFileSync(clip.path).subarray(0, CHUNK) });
    expect(first.status).toBe(308);
    const [output] = await sql<{ id: string }[]>`select id from outputs where job_id = ${jobId} and kind = 'mp4'`;
    const [row] = await sql<{ id: string }[]>`insert into publications (job_id, output_id, publisher, title, privacy, bytes_total, bytes_confirmed, session_sealed, runs, lease_owner, lease_expires_at, created_by)
      values (${jobId}, ${output!.id}, 'publisher-youtube', 'Resumed', 'private', ${clip.size}, ${CHUNK}, ${k.handle.ctx.secrets.encrypt(session)}, 1, 'a-kernel-that-died', now() - interval '1 minute', 'test') returning id`;
    const before = standIn.uploadRequests.length;

    // A resumer round (every kernel runs one every 15 s; called here so the test need not wait: whichever round
    // claims it first runs it, the claim is one conditional UPDATE).
    await resumeIdleUploads(k.handle.ctx);
    const done = await settled(jobId, row!.id);
    expect(done).toMatchObject({ status: "completed", bytes_confirmed: clip.size, runs: 2 });
    const requests = standIn.uploadRequests.slice(before);
    expect(requests[0]).toMatchObject({ kind: "status", status: 308 });
    expect(requests.some((r) => r.kind === "start")).toBe(false);
    expect(requests.reduce((n, r) => n + r.bytes, 0)).toBe(clip.size - CHUNK);
    expect(sha256(standIn.videos.get(done.platform_video_id)!.bytes)).toBe(clip.sha256);
  }, 90_000);

  test("a stopping kernel hands its upload back (still uploading, session kept) and the resumer continues it", async () => {
    standIn.interruptUpload(2 * CHUNK + 10, "503");
    const before = standIn.uploadRequests.length;
    const accepted = await publish(jobId, { publisher: "publisher-youtube", title: "Handed back" });
    expect(accepted.status).toBe(202);
    // The plugin waits 0.5 s after the 503 before asking the session: stop this kernel's uploads meanwhile.
    await waitFor(() => standIn.uploadRequests.slice(before).some((r) => r.status === 503), 30_000, "the 503", 2);
    await stopPublications(k.handle.ctx);
    const [released] = await sql<{ status: string; lease_owner: string | null; bytes_confirmed: number; session_sealed: string | null; runs: number }[]>`
      select status, lease_owner, bytes_confirmed, session_sealed, runs from publications where id = ${accepted.body.id}`;
    expect(released).toMatchObject({ status: "uploading", lease_owner: null, runs: 1 });
    expect(Number(released!.bytes_confirmed)).toBe(2 * CHUNK);
    expect(k.handle.ctx.secrets.isEncrypted(released!.session_sealed!)).toBe(true);
    await resumeIdleUploads(k.handle.ctx);

    const done = await settled(jobId, accepted.body.id);
    expect(done).toMatchObject({ status: "completed", runs: 2, bytes_confirmed: clip.size });
    const starts = standIn.uploadRequests.slice(before).filter((r) => r.kind === "start");
    expect(starts.length).toBe(1);
    expect(sha256(standIn.videos.get(done.platform_video_id)!.bytes)).toBe(clip.sha256);
  }, 90_000);

  test("an exhausted quota fails the publication with WE-PUB-002 saying so", async () => {
    standIn.quotaExhausted = true;
    try {
      const accepted = await publish(jobId, { publisher: "publisher-youtube", title: "Quota" });
      expect(accepted.status).toBe(202);
      const failed = await settled(jobId, accepted.body.id);
      expect(failed.status).toBe("failed");
      expect(failed.error.code).toBe("WE-PUB-002");
      expect(failed.error.message).toStartWith("publisher-youtube: YouTube API quota exceeded (quotaExceeded) while trying to start the upload");
      expect(failed.platform_video_id).toBeNull();
    } finally {
      standIn.quotaExhausted = false;
    }
  }, 60_000);

  test("request errors: job not completed 409, unknown publisher 404, a publisher that does not upload 422, outputs that are not one file 400", async () => {
    const [running] = await sql<{ id: string }[]>`insert into jobs (source_url, profiles, status) values ('uploads/x/a.mp4', '["720p_h264"]'::jsonb, 'processing') returning id`;
    const notDone = await publish(running!.id, { publisher: "publisher-youtube", title: "t" });
    expect(notDone.status).toBe(409);
    expect(notDone.body.error).toMatchObject({ code: "WE-PUB-004", message: `job ${running!.id} is processing; only a completed job's outputs can be published` });

    const unknown = await publish(jobId, { publisher: "publisher-nope", title: "t" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("WE-PLG-001");
    const rtmp = await publish(jobId, { publisher: "publisher-rtmp", title: "t" });
    expect(rtmp.status).toBe(422);
    expect(rtmp.body.error.code).toBe("WE-PUB-005");
    expect(rtmp.body.error.message).toStartWith("publisher-rtmp does not upload files");
    expect((await publish(jobId, { publisher: "storage-fs", title: "t" })).status).toBe(400);

    const hls = await publish(jobId, { publisher: "publisher-youtube", title: "t", output: "hls" });
    expect(hls.status).toBe(400);
    expect(hls.body.error.message).toContain("its video files: 720p_h264 (mp4, id ");
    expect((await publish(jobId, { publisher: "publisher-youtube", title: "t", output: 3 })).status).toBe(400);
    expect((await publish(jobId, { publisher: "publisher-youtube", title: "<b>" })).status).toBe(400);
    expect((await publish(jobId, { publisher: "publisher-youtube", title: "t", privacy: "everyone" })).status).toBe(400);
    expect((await publish("0b5c7a52-3f1e-4c6e-9d2a-1f0e8a7b6c5d", { publisher: "publisher-youtube", title: "t" })).status).toBe(404);
    // An output row whose file is gone from storage is refused at once, not mid-upload.
    const [gone] = await sql<{ id: string }[]>`insert into jobs (source_url, profiles, status) values ('uploads/x/b.mp4', '["720p_h264"]'::jsonb, 'completed') returning id`;
    await sql`insert into outputs (job_id, kind, profile, storage_plugin, storage_key, size_bytes) values (${gone!.id}, 'mp4', '720p_h264', 'storage-fs', ${`jobs/${gone!.id}/output/720p_h264.mp4`}, 1000)`;
    const missing = await publish(gone!.id, { publisher: "publisher-youtube", title: "t" });
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ code: "WE-STO-001", message: `the output 720p_h264 (jobs/${gone!.id}/output/720p_h264.mp4) is no longer in storage storage-fs; was it deleted?` });
    const list = await call(`/v1/jobs/${jobId}/publications`);
    expect(list.status).toBe(200);
    expect(list.body.items.length).toBeGreaterThanOrEqual(3);
  });

  test("a revoked refresh token fails the publication with WE-PUB-001: reconnect the account", async () => {
    const revoked = standIn.grantRefreshToken();
    standIn.revoke(revoked);
    await configureYouTube(revoked);
    const accepted = await publish(jobId, { publisher: "publisher-youtube", title: "Revoked" });
    expect(accepted.status).toBe(202);
    const failed = await settled(jobId, accepted.body.id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toEqual({ code: "WE-PUB-001", message: "publisher-youtube: the YouTube account must be reconnected: invalid_grant: Token has been expired or revoked." });
  }, 60_000);

  test("no token, client secret or session URI in any response body or log line", () => {
    const everything = bodies.join("\n") + logs.join("\n");
    expect(everything).not.toContain("upload_id=");
    expect(everything).not.toContain("ya29-");
    expect(everything).not.toContain("1//refresh");
    expect(everything).not.toContain(standIn.clientSecret);
    for (const access of standIn.issuedAccessTokens()) expect(everything).not.toContain(access);
  });
});
