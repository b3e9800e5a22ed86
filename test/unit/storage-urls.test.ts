/**
 * The pure parts of the signed storage URLs (src/kernel/api/storage-urls.ts): Range header parsing and the
 * content type of an object.
 */
import { describe, expect, test } from "bun:test";
import { contentTypeOf, parseRange } from "../../src/kernel/api/storage-urls.ts";

describe("parseRange", () => {
  test.each([
    ["bytes=0-99", 1000, { start: 0, end: 99 }],
    ["bytes=100-", 1000, { start: 100, end: 999 }],
    ["bytes=-100", 1000, { start: 900, end: 999 }],
    ["bytes=-2000", 1000, { start: 0, end: 999 }],
    ["bytes=0-5000", 1000, { start: 0, end: 999 }],
    ["bytes=999-999", 1000, { start: 999, end: 999 }],
    ["bytes=0-0", 1, { start: 0, end: 0 }],
    ["  bytes=10-19  ", 100, { start: 10, end: 19 }],
  ] as const)("%p of %d bytes → %o", (h, size, want) => {
    expect(parseRange(h, size)).toEqual(want);
  });

  test.each([
    ["bytes=1000-", 1000],
    ["bytes=1000-2000", 1000],
    ["bytes=5-4", 1000],
    ["bytes=-0", 1000],
    ["bytes=0-", 0],
    ["bytes=-5", 0],
  ] as const)("%p of %d bytes → null (416)", (h, size) => {
    expect(parseRange(h, size)).toBeNull();
  });

  test.each([null, "", "bytes=-", "bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes 0-1", "bytes=-1-2"])("%p → undefined (whole body)", (h) => {
    expect(parseRange(h, 1000)).toBeUndefined();
  });
});

describe("contentTypeOf", () => {
  test.each([
    ["jobs/1/hls/master.m3u8", "application/vnd.apple.mpegurl"],
    ["jobs/1/hls/720p/seg_00001.ts", "video/mp2t"],
    ["jobs/1/hls/720p/seg_00001.m4s", "video/iso.segment"],
    ["jobs/1/720p.mp4", "video/mp4"],
    ["jobs/1/720p.MP4", "video/mp4"],
    ["audio.m4a", "audio/mp4"],
    ["x.webm", "video/webm"],
    ["poster.jpg", "image/jpeg"],
    ["poster.JPEG", "image/jpeg"],
    ["sprite.png", "image/png"],
    ["thumbs.vtt", "text/vtt; charset=utf-8"],
    ["meta.json", "application/json"],
    ["noext", "application/octet-stream"],
    ["a.tar.gz", "application/octet-stream"],
    ["dir.m3u8/file", "application/octet-stream"],
    ["", "application/octet-stream"],
  ])("%p → %p", (key, type) => {
    expect(contentTypeOf(key)).toBe(type);
  });
});
