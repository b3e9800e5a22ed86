/** storage-s3's playlist rewriting (plugins/storage-s3/playlists.ts): which references are found and how they are replaced. */
import { expect, test } from "bun:test";
import { playlistReferences, resolveReference, rewritePlaylist, signedCopyKey } from "../../plugins/storage-s3/playlists.ts";

const MASTER = [
  "#EXTM3U",
  '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="audio_en/index.m3u8"',
  '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="360p/iframes.m3u8"',
  "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360",
  "360p/index.m3u8",
  "#EXT-X-STREAM-INF:BANDWIDTH=1600000",
  "https://cdn.example.com/other.m3u8",
  "",
].join("\r\n");

test("references: URI lines and URI attributes, resolved against the playlist's folder, absolute ones skipped", () => {
  expect(playlistReferences("jobs/j/hls/master.m3u8", MASTER)).toEqual(["jobs/j/hls/audio_en/index.m3u8", "jobs/j/hls/360p/iframes.m3u8", "jobs/j/hls/360p/index.m3u8"]);
  const media = '#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:1.0,\nseg_000.m4s?x=1\n#EXTINF:1.0,\n../360p/seg%20001.m4s\n#EXT-X-ENDLIST\n';
  expect(playlistReferences("jobs/j/hls/360p/index.m3u8", media)).toEqual(["jobs/j/hls/360p/init.mp4", "jobs/j/hls/360p/seg_000.m4s", "jobs/j/hls/360p/seg 001.m4s"]);
});

test("resolveReference refuses what leaves the bucket or is not relative", () => {
  expect(resolveReference("a/b.m3u8", "../../x.ts")).toBeUndefined();
  expect(resolveReference("a/b.m3u8", "/abs.ts")).toBeUndefined();
  expect(resolveReference("a/b.m3u8", "data:text/plain,x")).toBeUndefined();
  expect(resolveReference("a/b.m3u8", "%zz.ts")).toBeUndefined();
  expect(resolveReference("a/b.m3u8", "c/../d.ts")).toBe("a/d.ts");
});

test("rewrite replaces only the references it has URLs for and keeps tags and CRLF line endings", () => {
  const urls = new Map([
    ["jobs/j/hls/360p/index.m3u8", "https://s3/360p?sig=1"],
    ["jobs/j/hls/audio_en/index.m3u8", "https://s3/aud?sig=2"],
  ]);
  const out = rewritePlaylist("jobs/j/hls/master.m3u8", MASTER, urls);
  expect(out.split("\r\n")).toEqual([
    "#EXTM3U",
    '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="en",URI="https://s3/aud?sig=2"',
    '#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI="360p/iframes.m3u8"',
    "#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360",
    "https://s3/360p?sig=1",
    "#EXT-X-STREAM-INF:BANDWIDTH=1600000",
    "https://cdn.example.com/other.m3u8",
    "",
  ]);
});

test("the signed copy lives under <scope>_signed/ with the playlist's path inside the tree", () => {
  expect(signedCopyKey("jobs/j/hls/", "jobs/j/hls/360p/index.m3u8")).toBe("jobs/j/hls/_signed/360p/index.m3u8");
  expect(signedCopyKey("jobs/j/hls/", "jobs/j/hls/master.m3u8")).toBe("jobs/j/hls/_signed/master.m3u8");
});
