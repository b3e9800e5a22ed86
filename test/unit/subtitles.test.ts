import { describe, expect, test } from "bun:test";
import { concatMuxArgs } from "../../src/media/args/package.ts";
import { masterPlaylist } from "../../src/media/hls.ts";
import { ignoredStreamsOf } from "../../src/media/probe.ts";
import { parseVtt, segmentVtt, shiftCues, sidecarFormat, subtitleToVttArgs, subtitleTracksOf, vttFile, vttTime } from "../../src/media/subtitles.ts";

const STREAMS = [
  { index: 0, codec_type: "video", codec_name: "h264" },
  { index: 1, codec_type: "audio", codec_name: "aac" },
  { index: 2, codec_type: "subtitle", codec_name: "subrip", tags: { language: "eng" }, disposition: { default: 1 } },
  { index: 3, codec_type: "subtitle", codec_name: "ass", tags: { language: "fra", title: "Français" }, disposition: { default: 0 } },
  { index: 4, codec_type: "subtitle", codec_name: "hdmv_pgs_subtitle", tags: { language: "deu" } },
  { index: 5, codec_type: "subtitle", codec_name: "dvd_subtitle" },
];

describe("source subtitle tracks", () => {
  test("text tracks are carried with language, title and default; bitmap ones are listed as ignored with the reason", () => {
    expect(subtitleTracksOf(STREAMS)).toEqual([
      { index: 2, codec: "subrip", language: "eng", title: null, default: true },
      { index: 3, codec: "ass", language: "fra", title: "Français", default: false },
    ]);
    const ignored = ignoredStreamsOf(STREAMS);
    expect(ignored.map((s) => s.index)).toEqual([4, 5]);
    expect(ignored[0]!.reason).toBe("bitmap subtitles (hdmv_pgs_subtitle) are dropped: only text subtitles are converted to WebVTT/mov_text (docs/media.md)");
    expect(ignored[1]!.reason).toContain("bitmap subtitles (dvd_subtitle) are dropped");
  });

  test("conversion maps the source's stream by index, a sidecar's first subtitle stream with its named demuxer", () => {
    expect(subtitleToVttArgs({ input: "/in.mkv", stream: 3, output: "/o.vtt" })).toEqual(["-i", "/in.mkv", "-map", "0:3", "-c:s", "webvtt", "-f", "webvtt", "/o.vtt"]);
    expect(subtitleToVttArgs({ input: "/s.srt", format: "srt", output: "/o.vtt" })).toEqual(["-f", "srt", "-i", "/s.srt", "-map", "0:s:0", "-c:s", "webvtt", "-f", "webvtt", "/o.vtt"]);
    expect(sidecarFormat("https://example.com/a/film.EN.SRT?sig=1")).toBe("srt");
    expect(sidecarFormat("uploads/x.ssa")).toBe("ass");
    expect(sidecarFormat("uploads/x.vtt")).toBe("webvtt");
    expect(sidecarFormat("uploads/x.mp4")).toBeUndefined();
    expect(sidecarFormat("uploads/srt")).toBeUndefined();
  });
});

describe("WebVTT", () => {
  const vtt = "WEBVTT\n\n00:00.500 --> 00:02.000\nHello\n\n00:00:05.000 --> 00:00:07.250 line:90%\nTwo\nlines\n\n01:00:00.000 --> 01:00:01.000\nLate\n";

  test("parses cues with hours optional and settings kept; writes them back", () => {
    const cues = parseVtt(vtt);
    expect(cues).toEqual([
      { start_s: 0.5, end_s: 2, settings: "", text: "Hello" },
      { start_s: 5, end_s: 7.25, settings: "line:90%", text: "Two\nlines" },
      { start_s: 3600, end_s: 3601, settings: "", text: "Late" },
    ]);
    expect(vttTime(3723.0456)).toBe("01:02:03.046");
    expect(parseVtt(vttFile(cues))).toEqual(cues);
  });

  test("shifting onto the output clock drops cues that end before 0 and clips one that starts before", () => {
    expect(shiftCues(parseVtt(vtt), 1)).toEqual([
      { start_s: 0, end_s: 1, settings: "", text: "Hello" },
      { start_s: 4, end_s: 6.25, settings: "line:90%", text: "Two\nlines" },
      { start_s: 3599, end_s: 3600, settings: "", text: "Late" },
    ]);
    expect(shiftCues(parseVtt(vtt), 2)).toHaveLength(2);
  });

  test("segments follow the video's boundaries; a cue crossing one is in both; the last segment takes the rest", () => {
    const cues = parseVtt(vtt);
    const cut = segmentVtt(cues, { durations: [6, 6, 2.5], mpegts: 126000, segment_name: (n) => `s${n}.vtt` });
    expect(cut.segments).toHaveLength(3);
    for (const s of cut.segments) expect(s.startsWith("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:126000,LOCAL:00:00:00.000\n")).toBe(true);
    expect(cut.segments[0]).toContain("Hello");
    expect(cut.segments[0]).toContain("00:00:05.000 --> 00:00:07.250 line:90%\nTwo\nlines");
    expect(cut.segments[1]).toContain("Two\nlines");
    expect(cut.segments[1]).not.toContain("Hello");
    expect(cut.segments[2]).toContain("Late");
    expect(cut.playlist).toBe("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:6,\ns0.vtt\n#EXTINF:6,\ns1.vtt\n#EXTINF:2.5,\ns2.vtt\n#EXT-X-ENDLIST\n");
  });
});

describe("outputs", () => {
  test("MP4 mux: each WebVTT as mov_text with language, name and default; WebM keeps WebVTT", () => {
    const args = concatMuxArgs({
      concat_list: "/l.txt",
      audio: "/a.m4a",
      subtitles: [
        { path: "/s0.vtt", language: "eng", name: "English", default: true },
        { path: "/s1.vtt", language: "fra", name: "fra", default: false },
      ],
      output: "/o.mp4",
      container: "mp4",
      faststart: false,
    });
    expect(args.join(" ")).toBe(
      "-f concat -safe 0 -i /l.txt -i /a.m4a -f webvtt -i /s0.vtt -f webvtt -i /s1.vtt -map 0:v:0 -map 1:a:0 -map 2:s:0 -map 3:s:0 -c copy -c:s mov_text " +
        "-metadata:s:s:0 language=eng -metadata:s:s:0 handler_name=English -disposition:s:0 default -metadata:s:s:1 language=fra -metadata:s:s:1 handler_name=fra -disposition:s:1 0 -f mp4 /o.mp4",
    );
    const webm = concatMuxArgs({ concat_list: "/l.txt", subtitles: [{ path: "/s.vtt", language: "eng", name: "E", default: false }], output: "/o.webm", container: "webm", faststart: false });
    expect(webm).toContain("webvtt");
    expect(webm[webm.indexOf("-c:s") + 1]).toBe("webvtt");
  });

  test("HLS master: TYPE=SUBTITLES renditions and SUBTITLES on every variant of the group", () => {
    const variant = { uri: "360p/index.m3u8", bandwidth: 500000, average_bandwidth: 400000, width: 640, height: 360, codecs: "avc1.64001e,mp4a.40.2", subtitle_group: "subs" };
    const master = masterPlaylist([variant], [], [
      { group_id: "subs", uri: "subs_0/index.m3u8", name: "English", language: "en", default: true },
      { group_id: "subs", uri: "subs_1/index.m3u8", name: "und track", default: false },
    ]);
    expect(master).toContain('#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,URI="subs_0/index.m3u8"\n');
    expect(master).toContain('#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="und track",DEFAULT=NO,AUTOSELECT=YES,URI="subs_1/index.m3u8"\n');
    expect(master).toContain('CODECS="avc1.64001e,mp4a.40.2",SUBTITLES="subs"\n360p/index.m3u8');
    expect(() => masterPlaylist([variant])).toThrow("no subtitle rendition in group subs");
  });
});
