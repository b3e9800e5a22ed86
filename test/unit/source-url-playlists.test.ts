/** Sources named like playlists are refused at submission (src/core/source-url.ts): 422 WE-JOB-007, with what they are. */
import { describe, expect, test } from "bun:test";
import { AppError } from "../../src/core/errors.ts";
import { parseSourceUrl } from "../../src/core/source-url.ts";

function refusal(source: string): AppError {
  try {
    parseSourceUrl(source);
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error(`${source} was accepted`);
}

describe("playlist sources", () => {
  test.each([
    ["https://cdn.example.com/live/master.m3u8", "an HLS playlist (.m3u8)"],
    ["https://cdn.example.com/live/INDEX.M3U8?token=abc", "an HLS playlist (.m3u8)"],
    ["http://example.com/tv/manifest.mpd", "a DASH manifest (.mpd)"],
    ["uploads/3f1c/evil.m3u8", "an HLS playlist (.m3u8)"],
    ["uploads/3f1c/list.ffconcat", "a concat script (.ffconcat)"],
    ["uploads/3f1c/radio.m3u", "a playlist (.m3u)"],
    ["s3://media-bucket/in/stream.sdp", "an SDP session description (.sdp)"],
  ])("%s → WE-JOB-007 naming %s", (source, what) => {
    const e = refusal(source);
    expect(e.code).toBe("WE-JOB-007");
    expect(e.status).toBe(422);
    expect(e.message).toBe(
      `source_url ${JSON.stringify(source)} is ${what}: playlists are not accepted as sources, since FFmpeg would open the files or URLs they list; submit the media file itself (e.g. one rendition's MP4 or TS)`,
    );
  });

  test("media files, and playlist-like text elsewhere in the URL, are accepted", () => {
    expect(parseSourceUrl("https://cdn.example.com/a.m3u8/video.mp4")).toEqual({ kind: "url", url: "https://cdn.example.com/a.m3u8/video.mp4" });
    expect(parseSourceUrl("https://cdn.example.com/video.ts?list=x.m3u8")).toEqual({ kind: "url", url: "https://cdn.example.com/video.ts?list=x.m3u8" });
    expect(parseSourceUrl("uploads/3f1c/clip.mp4")).toEqual({ kind: "key", key: "uploads/3f1c/clip.mp4" });
    expect(parseSourceUrl("s3://media-bucket/in/seg.m4s")).toEqual({ kind: "s3", bucket: "media-bucket", key: "in/seg.m4s" });
  });
});
