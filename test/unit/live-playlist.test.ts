import { describe, expect, test } from "bun:test";
import {
  emptyWindow,
  endWindow,
  h264CodecOf,
  isRungName,
  mergeWorkerPlaylist,
  parsePushedFile,
  parseWorkerPlaylist,
  renderMasterPlaylist,
  renderMediaPlaylist,
  windowsReady,
  withQuery,
  type MergeOptions,
  type RungWindow,
} from "../../src/kernel/live/delivery/playlist.ts";

/** A playlist as FFmpeg 5.1's HLS muxer writes it with program_date_time and independent_segments. */
function workerPlaylist(epoch: number, first: number, count: number, options: { durations?: number[]; dates?: boolean; urls?: boolean; end?: boolean } = {}): string {
  const lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", `#EXT-X-MEDIA-SEQUENCE:${first}`, "#EXT-X-INDEPENDENT-SEGMENTS"];
  for (let i = first; i < first + count; i++) {
    if (options.dates) lines.push(`#EXT-X-PROGRAM-DATE-TIME:2026-12-05T03:00:${String(10 + i * 2).padStart(2, "0")}.000+0000`);
    lines.push(`#EXTINF:${(options.durations?.[i - first] ?? 2).toFixed(6)},`);
    lines.push(options.urls ? `http://127.0.0.1:8080/internal/live/s/720p/e${epoch}_${i}.ts` : `e${epoch}_${i}.ts`);
  }
  if (options.end) lines.push("#EXT-X-ENDLIST");
  return `${lines.join("\n")}\n`;
}

const options = (overrides: Partial<MergeOptions> = {}): MergeOptions => ({ windowSize: 3, retainExtra: 2, nowMs: Date.parse("2026-12-05T03:00:30Z"), stored: () => true, ...overrides });

function feed(window: RungWindow, epoch: number, first: number, count: number, overrides: Partial<MergeOptions> = {}) {
  return mergeWorkerPlaylist(window, parseWorkerPlaylist(workerPlaylist(epoch, first, count), epoch), options(overrides));
}

describe("pushed file names", () => {
  test("segments and the rung playlist are recognised with their epoch", () => {
    expect(parsePushedFile("e1_0.ts")).toEqual({ kind: "segment", epoch: 1, index: 0 });
    expect(parsePushedFile("e12_345.ts")).toEqual({ kind: "segment", epoch: 12, index: 345 });
    expect(parsePushedFile("e2.m3u8")).toEqual({ kind: "playlist", epoch: 2 });
  });
  test("anything else is refused: other names, paths, extensions, missing parts", () => {
    for (const bad of ["index.m3u8", "master.m3u8", "e1_0.mp4", "e1.ts", "../e1_0.ts", "e1_0.ts.tmp", "E1_0.ts", "e_0.ts", "e1_.ts", "e1_0.ts/", "", "e1234567_0.ts"]) expect(parsePushedFile(bad)).toBeNull();
  });
  test("rung names are short path-safe words", () => {
    expect(isRungName("720p")).toBe(true);
    expect(isRungName("src_pass-1")).toBe(true);
    for (const bad of ["", "..", ".hidden", "a/b", "a b", "x".repeat(33), "720p%2F"]) expect(isRungName(bad)).toBe(false);
  });
});

describe("the worker's playlist", () => {
  test("durations and URIs are read; full URLs are reduced to the file name", () => {
    const parsed = parseWorkerPlaylist(workerPlaylist(3, 5, 2, { durations: [2.002, 1.968], urls: true }), 3);
    expect(parsed).toEqual({
      epoch: 3,
      ended: false,
      segments: [
        { file: "e3_5.ts", durationS: 2.002, programDateTime: null },
        { file: "e3_6.ts", durationS: 1.968, programDateTime: null },
      ],
    });
  });
  test("program date-time is kept per segment (normalised to ISO 8601 UTC); ENDLIST is seen", () => {
    const parsed = parseWorkerPlaylist(workerPlaylist(1, 0, 2, { dates: true, end: true }), 1);
    expect(parsed.segments.map((s) => s.programDateTime)).toEqual(["2026-12-05T03:00:10.000Z", "2026-12-05T03:00:12.000Z"]);
    expect(parsed.ended).toBe(true);
  });
  test("entries of another epoch or with a foreign name are skipped", () => {
    const text = "#EXTM3U\n#EXTINF:2.0,\ne1_0.ts\n#EXTINF:2.0,\ne2_0.ts\n#EXTINF:2.0,\n/etc/passwd\n";
    expect(parseWorkerPlaylist(text, 1).segments.map((s) => s.file)).toEqual(["e1_0.ts"]);
  });
  test("a body that is not a playlist is an error", () => {
    expect(() => parseWorkerPlaylist("hello", 1)).toThrow(/not an HLS playlist/);
  });
});

describe("the sliding window", () => {
  test("new segments get growing sequence numbers; the window keeps the last N; the rest is retired, then expired", () => {
    let r = feed(emptyWindow(), 1, 0, 2);
    expect(r.added.map((s) => [s.file, s.sequence])).toEqual([["e1_0.ts", 0], ["e1_1.ts", 1]]);
    // FFmpeg's playlist repeats the segments already known: only the new ones are added.
    r = feed(r.window, 1, 0, 4);
    expect(r.added.map((s) => s.file)).toEqual(["e1_2.ts", "e1_3.ts"]);
    expect(r.window.segments.map((s) => s.file)).toEqual(["e1_1.ts", "e1_2.ts", "e1_3.ts"]);
    expect(r.window.retired).toEqual(["e1_0.ts"]);
    expect(r.expired).toEqual([]);
    r = feed(r.window, 1, 2, 4); // e1_2 … e1_5 (the worker's own window slid too)
    expect(r.window.segments.map((s) => s.sequence)).toEqual([3, 4, 5]);
    expect(r.window.retired).toEqual(["e1_1.ts", "e1_2.ts"]);
    expect(r.expired).toEqual(["e1_0.ts"]);
    const text = renderMediaPlaylist(r.window);
    expect(text).toContain("#EXT-X-MEDIA-SEQUENCE:3\n");
    expect(text).toContain("#EXT-X-DISCONTINUITY-SEQUENCE:0\n");
    expect(text).not.toContain("#EXT-X-DISCONTINUITY\n");
  });

  test("a segment listed but not stored (its PUT failed) is left out; the ones after it still come", () => {
    let r = feed(emptyWindow(), 1, 0, 3, { stored: (file) => file !== "e1_1.ts" });
    expect(r.window.segments.map((s) => s.file)).toEqual(["e1_0.ts", "e1_2.ts"]);
    r = feed(r.window, 1, 0, 4, { stored: (file) => file !== "e1_1.ts" });
    expect(r.added.map((s) => s.file)).toEqual(["e1_3.ts"]);
  });

  test("a segment whose PUT finished after a later one was listed stays out (the playlist runs forward)", () => {
    let r = feed(emptyWindow(), 1, 0, 3, { stored: (file) => file !== "e1_1.ts" });
    r = feed(r.window, 1, 0, 4);
    expect(r.added.map((s) => s.file)).toEqual(["e1_3.ts"]);
    expect(r.window.segments.map((s) => s.file)).toEqual(["e1_0.ts", "e1_2.ts", "e1_3.ts"]);
  });

  test("a new epoch (restarted transcode) continues the sequence after a discontinuity; the count grows once it slides out", () => {
    let r = feed(emptyWindow(), 1, 0, 3);
    r = feed(r.window, 2, 0, 1);
    expect(r.added).toEqual([expect.objectContaining({ file: "e2_0.ts", sequence: 3, epoch: 2, discontinuity: true })]);
    let text = renderMediaPlaylist(r.window);
    expect(text).toContain("#EXT-X-MEDIA-SEQUENCE:1\n");
    expect(text).toContain("#EXT-X-DISCONTINUITY-SEQUENCE:0\n");
    // Exactly one discontinuity, right before the new epoch's first segment.
    expect(text.match(/#EXT-X-DISCONTINUITY\n/g)?.length).toBe(1);
    expect(text).toMatch(/e1_2\.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:[^\n]+\n#EXTINF:2\.000,\ne2_0\.ts\n/);
    // The next segment of epoch 2 is no discontinuity.
    r = feed(r.window, 2, 0, 2);
    expect(r.added.map((s) => s.discontinuity)).toEqual([false]);
    // Slide the discontinuity out: EXT-X-DISCONTINUITY-SEQUENCE becomes 1.
    r = feed(r.window, 2, 0, 5);
    text = renderMediaPlaylist(r.window);
    expect(r.window.segments.map((s) => s.file)).toEqual(["e2_2.ts", "e2_3.ts", "e2_4.ts"]);
    expect(text).toContain("#EXT-X-DISCONTINUITY-SEQUENCE:1\n");
    expect(text).toContain("#EXT-X-MEDIA-SEQUENCE:5\n");
    expect(text).not.toContain("#EXT-X-DISCONTINUITY\n");
  });

  test("the very first epoch need not be 1 and gives no discontinuity", () => {
    const r = feed(emptyWindow(), 2, 0, 1);
    expect(r.added[0]!.discontinuity).toBe(false);
  });

  test("a playlist of an older epoch (a replaced transcode still running) changes nothing", () => {
    const r = feed(feed(emptyWindow(), 2, 0, 2).window, 1, 0, 5);
    expect(r.stale).toBe(true);
    expect(r.window.segments.map((s) => s.file)).toEqual(["e2_0.ts", "e2_1.ts"]);
  });

  test("target duration is the longest rounded duration and never decreases", () => {
    const parsed = parseWorkerPlaylist(workerPlaylist(1, 0, 2, { durations: [2.4, 2.6] }), 1);
    let r = mergeWorkerPlaylist(emptyWindow(), parsed, options());
    expect(r.window.targetDurationS).toBe(3);
    r = feed(r.window, 1, 2, 3);
    expect(renderMediaPlaylist(r.window)).toContain("#EXT-X-TARGETDURATION:3\n");
  });

  test("program date-time: the worker's when given, else counted back from the time the playlist came", () => {
    const dated = mergeWorkerPlaylist(emptyWindow(), parseWorkerPlaylist(workerPlaylist(1, 0, 1, { dates: true }), 1), options());
    expect(dated.added[0]!.programDateTime).toBe("2026-12-05T03:00:10.000Z");
    const undated = feed(emptyWindow(), 1, 0, 2, { nowMs: Date.parse("2026-12-05T03:00:30Z") });
    expect(undated.added.map((s) => s.programDateTime)).toEqual(["2026-12-05T03:00:26.000Z", "2026-12-05T03:00:28.000Z"]);
  });

  test("an ended window lists ENDLIST and takes nothing more", () => {
    const ended = endWindow(feed(emptyWindow(), 1, 0, 2).window);
    expect(renderMediaPlaylist(ended).trimEnd().endsWith("#EXT-X-ENDLIST")).toBe(true);
    expect(feed(ended, 1, 0, 4).stale).toBe(true);
  });

  test("the rendered media playlist has every required tag in order", () => {
    const text = renderMediaPlaylist(feed(emptyWindow(), 1, 0, 2).window);
    expect(text.split("\n").slice(0, 6)).toEqual(["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2", "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-DISCONTINUITY-SEQUENCE:0", "#EXT-X-INDEPENDENT-SEGMENTS"]);
    expect(text).toContain("#EXTINF:2.000,\ne1_0.ts\n");
    expect(text).not.toContain("#EXT-X-ENDLIST");
  });

  test("the window state survives JSON (it is stored beside the segments)", () => {
    const window = feed(feed(emptyWindow(), 1, 0, 4).window, 2, 0, 1).window;
    expect(JSON.parse(JSON.stringify(window))).toEqual(window);
  });
});

describe("the master playlist", () => {
  const rungs = [
    { name: "360p", width: 640, height: 360, videoKbps: 800 },
    { name: "720p", width: 1280, height: 720, videoKbps: 2800, fps: 30 },
  ];
  test("one variant per rung, highest first, with bandwidth, resolution and codecs", () => {
    expect(renderMasterPlaylist(rungs, 128)).toBe(
      [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-STREAM-INF:BANDWIDTH=3220800,AVERAGE-BANDWIDTH=2928000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",FRAME-RATE=30.000',
        "720p/index.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=1020800,AVERAGE-BANDWIDTH=928000,RESOLUTION=640x360,CODECS="avc1.64001e,mp4a.40.2"',
        "360p/index.m3u8",
        "",
      ].join("\n"),
    );
  });
  test("the H.264 level follows frame size and rate", () => {
    expect(h264CodecOf({ name: "a", width: 320, height: 240, videoKbps: 1 })).toBe("avc1.64001e");
    expect(h264CodecOf({ name: "a", width: 1920, height: 1080, videoKbps: 1, fps: 30 })).toBe("avc1.640028");
    expect(h264CodecOf({ name: "a", width: 1920, height: 1080, videoKbps: 1, fps: 60 })).toBe("avc1.64002a");
    expect(h264CodecOf({ name: "a", width: 3840, height: 2160, videoKbps: 1, fps: 60 })).toBe("avc1.640034");
  });
  test("ready only when every rung has the minimum of segments", () => {
    const two = feed(emptyWindow(), 1, 0, 2).window;
    const three = feed(emptyWindow(), 1, 0, 3).window;
    expect(windowsReady(new Map([["a", three], ["b", two]]), ["a", "b"], 3)).toBe(false);
    expect(windowsReady(new Map([["a", three], ["b", three]]), ["a", "b"], 3)).toBe(true);
    expect(windowsReady(new Map([["a", three]]), ["a", "b"], 3)).toBe(false);
    expect(windowsReady(new Map(), [], 3)).toBe(false);
  });
});

describe("playback token in URIs", () => {
  test("every URI line gets the query; tags are left alone", () => {
    expect(withQuery("#EXTM3U\n#EXTINF:2.000,\ne1_0.ts\nx.ts?a=1\n", "token=abc")).toBe("#EXTM3U\n#EXTINF:2.000,\ne1_0.ts?token=abc\nx.ts?a=1&token=abc\n");
    expect(withQuery("#EXTM3U\na.ts\n", "")).toBe("#EXTM3U\na.ts\n");
  });
});
