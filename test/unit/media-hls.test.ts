/**
 * Stream samples are real `ffprobe -show_streams -show_data -of json` output (FFmpeg 5.1.9) of files
 * encoded by the argv builders, trimmed to the fields codecString reads.
 */
import { describe, expect, test } from "bun:test";
import { codecString, masterPlaylist, parseHexdump, parseMediaPlaylist, parseRational, segmentBitrates } from "../../src/media/hls.ts";

const X264_HIGH = {
  codec_name: "h264",
  codec_tag_string: "avc1",
  profile: "High",
  level: 30,
  pix_fmt: "yuv420p",
  extradata:
    "\n00000000: 0164 001e ffe1 0019 6764 001e acd9 40a0  .d......gd....@.\n00000010: 2ff9 7011 0000 0303 e900 00bb 800f 162d  /.p............-\n00000020: 9601 0004 68ef 8fcb fdf8 f800            ....h.......\n",
};
const X264_CB = {
  codec_name: "h264",
  codec_tag_string: "avc1",
  profile: "Constrained Baseline",
  level: 30,
  pix_fmt: "yuv420p",
  extradata: "\n00000000: 0142 c01e ffe1 0019 6742 c01e da02 80bf  .B......gB......\n",
};
/** MPEG-TS: extradata is the Annex B SPS/PPS, not an avcC record. */
const X264_MAIN_TS = {
  codec_name: "h264",
  codec_tag_string: "[27][0][0][0]",
  profile: "Main",
  level: 30,
  pix_fmt: "yuv420p",
  extradata: "\n00000000: 0000 0167 4d40 1eec a050 17fc b808 8000  ...gM@...P......\n",
};
/** hvcC first line only (x265 appends a long SEI with its settings). */
const X265_MAIN = {
  codec_name: "hevc",
  codec_tag_string: "hvc1",
  profile: "Main",
  level: 60,
  pix_fmt: "yuv420p",
  width: 320,
  height: 180,
  extradata: "\n00000000: 0101 6000 0000 9000 0000 0000 3cf0 00fc  ..`.........<...\n",
};
const VP9 = { codec_name: "vp9", codec_tag_string: "vp09", profile: "Profile 0", level: -99, pix_fmt: "yuv420p", width: 320, height: 180, avg_frame_rate: "30/1", extradata: "\n" };
const SVTAV1 = {
  codec_name: "av1",
  codec_tag_string: "av01",
  profile: "Main",
  level: 0,
  pix_fmt: "yuv420p",
  width: 320,
  height: 180,
  avg_frame_rate: "30/1",
  extradata: "\n00000000: 8100 0d00 0a0b 0000 0004 3cfe cc02 f802  ..........<.....\n00000010: 40                                       @\n",
};

describe("codecString", () => {
  test("H.264 from the avcC bytes, from Annex B, and from the profile name", () => {
    const { extradata: _a, ...highByName } = X264_HIGH;
    const { extradata: _b, ...cbByName } = X264_CB;
    const { extradata: _c, ...mainByName } = X264_MAIN_TS;
    expect([X264_HIGH, X264_CB, X264_MAIN_TS, highByName, cbByName, mainByName].map(codecString)).toEqual([
      "avc1.64001e",
      "avc1.42c01e",
      "avc1.4d401e",
      "avc1.64001e",
      "avc1.42c01e",
      "avc1.4d401e",
    ]);
    expect(
      [
        { profile: "Baseline", level: 13 },
        { profile: "High 10", level: 51 },
        { profile: "High 4:2:2", level: 41 },
        { profile: "High 4:4:4 Predictive", level: 52 },
      ].map((s) => codecString({ codec_name: "h264", ...s })),
    ).toEqual(["avc1.42000d", "avc1.6e0033", "avc1.7a0029", "avc1.f40034"]);
  });

  test("HEVC from the hvcC record and from the profile name", () => {
    const { extradata: _x, ...byName } = X265_MAIN;
    expect([codecString(X265_MAIN), codecString(byName)]).toEqual(["hvc1.1.6.L60.90", "hvc1.1.6.L60.90"]);
    expect(
      [
        { profile: "Main 10", level: 150 },
        { profile: "Rext", level: 123, codec_tag_string: "hev1" },
      ].map((s) => codecString({ codec_name: "hevc", ...s })),
    ).toEqual(["hvc1.2.4.L150.90", "hev1.4.10.L123.90"]);
    // Main 10, High tier, level 5.1, two constraint bytes (hand-made hvcC).
    expect(codecString({ codec_name: "hevc", extradata: "00000000: 0122 2000 0000 b000 0000 0100 99f0 00fc  ..\n" })).toBe("hvc1.2.4.H153.B0.0.0.0.1");
  });

  test("VP9: level from the VP9 level limits, bit depth from the pixel format", () => {
    expect([
      codecString(VP9),
      codecString({ ...VP9, width: 1920, height: 1080, avg_frame_rate: "30000/1001" }),
      codecString({ ...VP9, width: 1920, height: 1080, avg_frame_rate: "60/1" }),
      codecString({ ...VP9, width: 3840, height: 2160, avg_frame_rate: "30/1", profile: "Profile 2", pix_fmt: "yuv420p10le" }),
    ]).toEqual(["vp09.00.11.08", "vp09.00.40.08", "vp09.00.41.08", "vp09.02.50.10"]);
  });

  test("AV1 from the av1C record, from ffprobe's seq_level_idx, or from the level limits", () => {
    const { extradata: _x, ...byLevel } = SVTAV1;
    expect([
      codecString(SVTAV1),
      codecString(byLevel),
      codecString({ ...byLevel, level: 8, pix_fmt: "yuv420p10le" }),
      codecString({ ...byLevel, level: -99, width: 1920, height: 1080, avg_frame_rate: "30/1" }),
    ]).toEqual(["av01.0.00M.08", "av01.0.00M.08", "av01.0.08M.10", "av01.0.08M.08"]);
  });

  test("audio codecs", () => {
    expect(
      [
        { codec_name: "aac", profile: "LC" },
        { codec_name: "aac", profile: "HE-AAC" },
        { codec_name: "aac", profile: "HE-AACv2" },
        { codec_name: "opus" },
        { codec_name: "mp3" },
        { codec_name: "ac3" },
        { codec_name: "eac3" },
        { codec_name: "flac" },
      ].map(codecString),
    ).toEqual(["mp4a.40.2", "mp4a.40.5", "mp4a.40.29", "opus", "mp4a.40.34", "ac-3", "ec-3", "fLaC"]);
  });

  test("unknown codecs and profiles are errors, not guesses", () => {
    expect(() => codecString({ codec_name: "prores" })).toThrow('codecString: no codec string for "prores"');
    expect(() => codecString({ codec_name: "h264", profile: "Nonsense", level: 30 })).toThrow('codecString: unknown H.264 profile "Nonsense"');
    expect(() => codecString({ codec_name: "hevc", profile: "Main" })).toThrow("codecString: HEVC stream without a level");
    expect(() => codecString({ codec_name: "vp9", profile: "Main" })).toThrow('codecString: unknown VP9 profile "Main"');
  });
});

describe("helpers", () => {
  test("parseHexdump reads the hex columns only", () => {
    expect([...parseHexdump(SVTAV1.extradata)]).toEqual([0x81, 0x00, 0x0d, 0x00, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x04, 0x3c, 0xfe, 0xcc, 0x02, 0xf8, 0x02, 0x40]);
    expect([...parseHexdump("\n")]).toEqual([]);
  });

  test("parseRational", () => {
    expect(["30/1", "30000/1001", "25", "0/0", "", undefined, "abc"].map(parseRational)).toEqual([30, 30000 / 1001, 25, undefined, undefined, undefined, undefined]);
  });
});

describe("masterPlaylist", () => {
  test("lowest bandwidth first, every attribute, three-decimal frame rate", () => {
    expect(
      masterPlaylist([
        { uri: "1080p/index.m3u8", bandwidth: 7_812_345.2, average_bandwidth: 5_123_456, width: 1920, height: 1080, codecs: "avc1.640028,mp4a.40.2", frame_rate: 30000 / 1001 },
        { uri: "360p/index.m3u8", bandwidth: 1_234_567, average_bandwidth: 876_543, width: 640, height: 360, codecs: "avc1.64001e,mp4a.40.2", frame_rate: 30000 / 1001 },
        { uri: "720p/index.m3u8", bandwidth: 4_500_000, average_bandwidth: 3_000_000, width: 1280, height: 720, codecs: "avc1.64001f,mp4a.40.2" },
      ]),
    ).toBe(
      [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-STREAM-INF:BANDWIDTH=1234567,AVERAGE-BANDWIDTH=876543,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2",FRAME-RATE=29.970',
        "360p/index.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=4500000,AVERAGE-BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2"',
        "720p/index.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=7812346,AVERAGE-BANDWIDTH=5123456,RESOLUTION=1920x1080,CODECS="avc1.640028,mp4a.40.2",FRAME-RATE=29.970',
        "1080p/index.m3u8",
        "",
      ].join("\n"),
    );
  });

  test("equal bandwidth: smaller picture first, then URI", () => {
    const v = { bandwidth: 1000, average_bandwidth: 900, codecs: "avc1.64001e" };
    const text = masterPlaylist([
      { ...v, uri: "b.m3u8", width: 640, height: 360 },
      { ...v, uri: "c.m3u8", width: 426, height: 240 },
      { ...v, uri: "a.m3u8", width: 640, height: 360 },
    ]);
    expect(text.split("\n").filter((l) => l.endsWith(".m3u8"))).toEqual(["c.m3u8", "a.m3u8", "b.m3u8"]);
  });

  test("refuses what would break the playlist", () => {
    const v = { bandwidth: 1, average_bandwidth: 1, width: 2, height: 2, codecs: "avc1.64001e" };
    expect(() => masterPlaylist([])).toThrow("masterPlaylist: no variants");
    expect(() => masterPlaylist([{ ...v, uri: "a\n#EXT-X-ENDLIST" }])).toThrow("masterPlaylist: invalid URI");
    expect(() => masterPlaylist([{ ...v, uri: "a", codecs: 'x"y' }])).toThrow('masterPlaylist: invalid CODECS "x\\"y"');
  });
});

describe("parseMediaPlaylist", () => {
  test("FFmpeg's fMP4 VOD playlist", () => {
    const text = [
      "#EXTM3U",
      "#EXT-X-VERSION:7",
      "#EXT-X-TARGETDURATION:4",
      "#EXT-X-MEDIA-SEQUENCE:0",
      "#EXT-X-PLAYLIST-TYPE:VOD",
      "#EXT-X-INDEPENDENT-SEGMENTS",
      '#EXT-X-MAP:URI="init.mp4"',
      "#EXTINF:4.004000,",
      "s0.m4s",
      "#EXTINF:4.170833,",
      "s1.m4s",
      "#EXTINF:1.835167,",
      "s2.m4s",
      "#EXT-X-ENDLIST",
      "",
    ].join("\n");
    expect(parseMediaPlaylist(text)).toEqual({
      target_duration: 4,
      segments: [
        { uri: "s0.m4s", duration: 4.004 },
        { uri: "s1.m4s", duration: 4.170833 },
        { uri: "s2.m4s", duration: 1.835167 },
      ],
      ended: true,
      init_uri: "init.mp4",
    });
  });

  test("an unfinished MPEG-TS playlist with CRLF line ends and titles", () => {
    const text = "#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n#EXTINF:6.0,first\r\nhttps://cdn/a/0.ts?sig=1\r\n#EXT-X-DISCONTINUITY\r\n#EXTINF:5.5,\r\n1.ts\r\n";
    expect(parseMediaPlaylist(text)).toEqual({
      target_duration: 6,
      segments: [
        { uri: "https://cdn/a/0.ts?sig=1", duration: 6 },
        { uri: "1.ts", duration: 5.5 },
      ],
      ended: false,
      init_uri: null,
    });
  });

  test("malformed playlists", () => {
    expect(() => parseMediaPlaylist("seg.ts\n")).toThrow("not an HLS playlist: the first line is not #EXTM3U");
    expect(() => parseMediaPlaylist("#EXTM3U\n#EXT-X-TARGETDURATION:4\nseg.ts\n")).toThrow("segment seg.ts has no valid #EXTINF duration");
    expect(() => parseMediaPlaylist("#EXTM3U\n#EXTINF:4,\nseg.ts\n")).toThrow("playlist has no valid #EXT-X-TARGETDURATION");
  });
});

describe("segmentBitrates", () => {
  const segments = [
    { duration: 4, bytes: 500_000 }, // 1.0 Mb/s
    { duration: 4, bytes: 1_000_000 }, // 2.0 Mb/s
    { duration: 4, bytes: 750_000 }, // 1.5 Mb/s
    { duration: 0.5, bytes: 250_000 }, // 4.0 Mb/s, but only half a second
  ];

  test("without a target duration: the highest single segment", () => {
    expect(segmentBitrates(segments)).toEqual({ peak: 4_000_000, average: 1_600_000 });
  });

  test("RFC 8216 peak: runs of 0.5–1.5 × target duration, so a short tail segment is averaged in", () => {
    // The tail only counts with segment 2: 8 Mb over 4.5 s = 1.78 Mb/s, below segment 1 alone (2 Mb/s).
    expect(segmentBitrates(segments, 4)).toEqual({ peak: 2_000_000, average: 1_600_000 });
    expect(segmentBitrates([{ duration: 1, bytes: 1000 }], 6)).toEqual({ peak: 8000, average: 8000 });
  });

  test("no usable segment", () => {
    expect(() => segmentBitrates([{ duration: 0, bytes: 10 }])).toThrow("segmentBitrates: no segments with a duration");
  });
});
