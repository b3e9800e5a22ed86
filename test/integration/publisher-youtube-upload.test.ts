/**
 * publisher-youtube's VOD upload (YouTube's resumable upload protocol, plugins/publisher-youtube/upload.ts)
 * against the local stand-in for YouTube's OAuth and upload endpoints (test/helpers/platform-standins.ts; the
 * only mock): chunks with Content-Range, a connection cut or a 503 mid-chunk resumed after a status query, a
 * later call resuming the session an earlier one started, quota and revoked-account errors, and a source read
 * through a URL with Range requests.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { config, createYouTube } from "../../plugins/publisher-youtube/plugin.ts";
import { UPLOAD_UNIT, bytesHeld, contentRange } from "../../plugins/publisher-youtube/upload.ts";
import type { CallContext, VodUploadParams, VodUploadProgress } from "../../src/plugin-runtime/pillars.ts";
import { type YouTubeStandIn, callFailure, startYouTubeStandIn, youtubeStandInSettings } from "../helpers/platform-standins.ts";
import { runPublisherContract } from "../contract/publisher.contract.ts";

let standIn: YouTubeStandIn;
let dir: string;
let file: { path: string; size: number; sha256: string };
beforeAll(() => {
  standIn = startYouTubeStandIn();
  dir = mkdtempSync(join(tmpdir(), "yt-upload-"));
  // Not a multiple of the chunk size: the last chunk is a short one, as with any real file.
  const bytes = randomBytes(4 * UPLOAD_UNIT + 12_345);
  file = { path: join(dir, "out.mp4"), size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
  writeFileSync(file.path, bytes);
});
afterAll(async () => {
  await standIn.stop();
  rmSync(dir, { recursive: true, force: true });
});

function youtube(refreshToken = standIn.grantRefreshToken()) {
  return createYouTube(
    v.parse(config, youtubeStandInSettings(standIn, { refresh_token: refreshToken, upload_chunk_bytes: UPLOAD_UNIT })),
  );
}

function context(progress: VodUploadProgress[] = [], signal = new AbortController().signal): CallContext {
  return { signal, progress: (p) => void progress.push(p as VodUploadProgress) };
}

const params = (extra: Partial<VodUploadParams> = {}): VodUploadParams => ({
  source: { path: file.path },
  size: file.size,
  content_type: "video/mp4",
  title: "Launch day",
  description: "Recorded on stage",
  privacy: "unlisted",
  ...extra,
});

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const requestsSince = (n: number) => standIn.uploadRequests.slice(n);

runPublisherContract("publisher-youtube uploads (local stand-in for YouTube)", async () => ({
  publisher: youtube(),
  expectedUrl: "rtmps://a.rtmps.youtube.com/live2",
  hasBroadcasts: true,
  uploads: true,
  cleanup: async () => {},
}));

describe("publisher-youtube VOD upload (local stand-in for YouTube)", () => {
  test("pure parts: the Range YouTube answers, the Content-Range sent", () => {
    expect(bytesHeld(null)).toBe(0);
    expect(bytesHeld("bytes=0-262143")).toBe(262_144);
    expect(contentRange(0, 262_144, 1_000_000)).toBe("bytes 0-262143/1000000");
    expect(contentRange(500, 500, 1_000_000)).toBe("bytes */1000000");
    expect(() => bytesHeld("bytes=10-20")).toThrow();
  });

  test("uploads in 256 KiB chunks with the metadata; progress names the session and the bytes YouTube holds", async () => {
    const before = standIn.uploadRequests.length;
    const progress: VodUploadProgress[] = [];
    const result = await youtube().upload_vod(params(), context(progress));
    expect(result.url).toBe(`https://www.youtube.com/watch?v=${result.video_id}`);
    expect(result.bytes).toBe(file.size);
    const video = standIn.videos.get(result.video_id)!;
    expect(video).toMatchObject({ title: "Launch day", description: "Recorded on stage", privacy: "unlisted" });
    expect(sha256(video.bytes)).toBe(file.sha256);
    const requests = requestsSince(before);
    expect(requests.map((r) => r.kind)).toEqual(["start", "chunk", "chunk", "chunk", "chunk", "chunk"]);
    expect(requests[1]!.contentRange).toBe(`bytes 0-262143/${file.size}`);
    expect(requests.at(-1)).toMatchObject({ contentRange: `bytes 1048576-${file.size - 1}/${file.size}`, status: 201 });
    expect(progress[0]!.bytes_confirmed).toBe(0);
    expect(progress.map((p) => p.bytes_confirmed)).toEqual([0, 262_144, 524_288, 786_432, 1_048_576]);
    expect(new Set(progress.map((p) => p.session)).size).toBe(1);
    expect(progress[0]!.session).toContain("upload_id=");
  });

  test("a connection cut in the middle of a chunk: the session is asked what arrived and the upload goes on from there", async () => {
    const before = standIn.uploadRequests.length;
    standIn.interruptUpload(400_000, "cut");
    const result = await youtube().upload_vod(params(), context());
    const requests = requestsSince(before);
    const cut = requests.findIndex((r) => r.kind === "chunk" && r.status === 0);
    expect(cut).toBeGreaterThan(0);
    expect(requests[cut + 1]).toMatchObject({ kind: "status", contentRange: `bytes */${file.size}`, status: 308 });
    // The next chunk starts where the stand-in's Range said the bytes stopped, not at a chunk boundary.
    expect(requests[cut + 2]!.contentRange).toStartWith("bytes 400000-");
    expect(sha256(standIn.videos.get(result.video_id)!.bytes)).toBe(file.sha256);
  }, 30_000);

  test("a 503 mid-upload is resumed the same way", async () => {
    const before = standIn.uploadRequests.length;
    standIn.interruptUpload(700_000, "503");
    const result = await youtube().upload_vod(params(), context());
    const kinds = requestsSince(before).map((r) => `${r.kind} ${r.status}`);
    expect(kinds).toContain("chunk 503");
    expect(kinds[kinds.indexOf("chunk 503") + 1]).toBe("status 308");
    expect(sha256(standIn.videos.get(result.video_id)!.bytes)).toBe(file.sha256);
  }, 30_000);

  test("a later call with the session of an interrupted one resumes it (no new session, no byte sent twice)", async () => {
    const abort = new AbortController();
    const progress: VodUploadProgress[] = [];
    const plugin = youtube();
    const first = plugin.upload_vod(params(), {
      signal: abort.signal,
      progress(p) {
        progress.push(p as VodUploadProgress);
        if ((p as VodUploadProgress).bytes_confirmed >= 2 * UPLOAD_UNIT) abort.abort(new Error("kernel stopped"));
      },
    });
    await callFailure(first);
    const last = progress.at(-1)!;
    expect(last.bytes_confirmed).toBe(2 * UPLOAD_UNIT);
    const before = standIn.uploadRequests.length;
    const result = await plugin.upload_vod(params({ session: last.session }), context());
    const requests = requestsSince(before);
    expect(requests[0]).toMatchObject({ kind: "status", status: 308 });
    expect(requests.some((r) => r.kind === "start")).toBe(false);
    expect(requests[1]!.contentRange).toBe(`bytes ${2 * UPLOAD_UNIT}-${3 * UPLOAD_UNIT - 1}/${file.size}`);
    expect(requests.reduce((n, r) => n + r.bytes, 0)).toBe(file.size - 2 * UPLOAD_UNIT);
    expect(sha256(standIn.videos.get(result.video_id)!.bytes)).toBe(file.sha256);
  }, 30_000);

  test("the bytes can come from a URL answering Range requests (a presigned storage URL)", async () => {
    const server = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(request) {
        const m = /^bytes=(\d+)-(\d+)$/.exec(request.headers.get("range") ?? "");
        if (!m) return new Response(Bun.file(file.path));
        return new Response(Bun.file(file.path).slice(Number(m[1]), Number(m[2]) + 1), { status: 206 });
      },
    });
    try {
      const result = await youtube().upload_vod(params({ source: { url: `http://127.0.0.1:${server.port}/signed/out.mp4` } }), context());
      expect(sha256(standIn.videos.get(result.video_id)!.bytes)).toBe(file.sha256);
    } finally {
      server.stop(true);
    }
  });

  test("a storage URL that cannot be read fails retryably without quoting the URL (it is a credential)", async () => {
    const error = await callFailure(youtube().upload_vod(params({ source: { url: "http://127.0.0.1:1/signed/tok-secret/out.mp4" } }), context()));
    expect(error.code).toBe("WE-STO-004");
    expect(error.details).toEqual({ retryable: true });
    expect(error.message).toStartWith("publisher-youtube: could not read the output from storage: ");
    expect(error.message).not.toContain("tok-secret");
  });

  test("an exhausted quota is WE-PUB-002 saying quota; a revoked account is WE-PUB-001", async () => {
    standIn.quotaExhausted = true;
    try {
      const error = await callFailure(youtube().upload_vod(params(), context()));
      expect(error.code).toBe("WE-PUB-002");
      expect(error.message).toStartWith("publisher-youtube: YouTube API quota exceeded (quotaExceeded) while trying to start the upload: ");
    } finally {
      standIn.quotaExhausted = false;
    }
    const refresh = standIn.grantRefreshToken();
    standIn.revoke(refresh);
    const revoked = await callFailure(youtube(refresh).upload_vod(params(), context()));
    expect(revoked.code).toBe("WE-PUB-001");
    expect(revoked.message).toBe("publisher-youtube: the YouTube account must be reconnected: invalid_grant: Token has been expired or revoked.");
  });

  test("upload_chunk_bytes must be a multiple of 256 KiB", () => {
    expect(v.safeParse(config, { upload_chunk_bytes: 300_000 }).success).toBe(false);
    expect(v.safeParse(config, { upload_chunk_bytes: 2 * UPLOAD_UNIT }).success).toBe(true);
  });
});
