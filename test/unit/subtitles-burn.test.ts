/** Burned subtitles (media/subtitles-burn.ts): which track the option names, and the FFmpeg pieces. */
import { describe, expect, test } from "bun:test";
import { burnExtractArgs, burnFilters, isBurned, resolveBurn } from "../../src/media/subtitles-burn.ts";
import { videoChunkArgs } from "../../src/media/args/video-chunk.ts";
import type { ProfileSpec } from "../../src/media/profile-spec.ts";

// Stream 2: SRT eng, 3: PGS eng (bitmap, left out), 4: ASS fra.
const source = {
  subtitle_tracks: [
    { index: 2, codec: "subrip", language: "eng", title: null },
    { index: 4, codec: "ass", language: "fra", title: "Français" },
  ],
  ignored_streams: [
    { index: 3, type: "subtitle", codec: "hdmv_pgs_subtitle", language: "eng" },
    { index: 5, type: "data", codec: "tmcd" },
  ],
};
const sidecars = [{ language: "deu", name: "Deutsch" }];

describe("resolveBurn", () => {
  test("track N is FFmpeg's 0:s:N, bitmap streams counted", () => {
    expect(resolveBurn({ track: 0 }, source, [])).toEqual({ choice: { kind: "stream", index: 2, codec: "subrip" }, label: "track 0 (eng, subrip)" });
    expect(resolveBurn({ track: 2 }, source, [])).toEqual({ choice: { kind: "stream", index: 4, codec: "ass" }, label: "track 2 (fra, ass)" });
  });

  test("a bitmap track is skipped with the reason (a warning, not a failure)", () => {
    const r = resolveBurn({ track: 1 }, source, []);
    expect("skip" in r && r.skip).toEqual({
      track: "track 1 (eng, hdmv_pgs_subtitle)",
      burned: false,
      reason: "bitmap subtitles (hdmv_pgs_subtitle) cannot be burned in (only text subtitles: SRT, ASS/SSA, mov_text, WebVTT): the outputs have no burned subtitles and the track is dropped",
    });
  });

  test("a track the source lacks names the tracks it has", () => {
    const r = resolveBurn({ track: 7 }, source, []);
    expect("error" in r && r.error).toBe(
      "burn_subtitles names subtitle track 7, which the source does not have (its subtitle tracks: track 0 (eng, subrip), track 1 (eng, hdmv_pgs_subtitle), track 2 (fra, ass))",
    );
    expect(resolveBurn({ track: 0 }, {}, [])).toEqual({ error: "burn_subtitles names subtitle track 0, which the source does not have (its subtitle tracks: none)" });
  });

  test("sidecars by position", () => {
    expect(resolveBurn({ sidecar: 0 }, source, sidecars)).toEqual({ choice: { kind: "sidecar", position: 0 }, label: 'sidecar 0 (deu, "Deutsch")' });
    expect("error" in resolveBurn({ sidecar: 1 }, source, sidecars)).toBe(true);
  });

  test("a language must name exactly one track, source or sidecar", () => {
    expect(resolveBurn({ language: "FRA" }, source, sidecars)).toEqual({ choice: { kind: "stream", index: 4, codec: "ass" }, label: "track 2 (fra, ass)" });
    expect(resolveBurn({ language: "deu" }, source, sidecars)).toEqual({ choice: { kind: "sidecar", position: 0 }, label: 'sidecar 0 (deu, "Deutsch")' });
    const several = resolveBurn({ language: "eng" }, source, sidecars);
    expect("error" in several && several.error).toContain('which several tracks have (track 0 (eng, subrip), track 1 (eng, hdmv_pgs_subtitle)): name one with "track" or "sidecar"');
    const none = resolveBurn({ language: "jpn" }, source, sidecars);
    expect("error" in none && none.error).toContain('no subtitle track has (tracks: track 0 (eng, subrip), track 1 (eng, hdmv_pgs_subtitle), track 2 (fra, ass), sidecar 0 (deu, "Deutsch"))');
  });

  test("isBurned matches the soft track of the same stream or sidecar only", () => {
    const stream = { kind: "stream", index: 2, codec: "subrip" } as const;
    expect(isBurned(stream, { stream: 2 })).toBe(true);
    expect(isBurned(stream, { stream: 4 })).toBe(false);
    expect(isBurned(stream, { sidecar: 0 })).toBe(false);
    expect(isBurned({ kind: "sidecar", position: 0 }, { sidecar: 0 })).toBe(true);
    expect(isBurned(undefined, { stream: 2 })).toBe(false);
  });
});

describe("burn arguments", () => {
  test("extraction keeps the stream's own times; a sidecar is moved by the first frame's pts", () => {
    expect(burnExtractArgs({ input: "/s.mkv", stream: 2, offset_s: 0, output: "/t/burn.ass" })).toEqual(["-copyts", "-i", "/s.mkv", "-map", "0:2", "-c:s", "ass", "-f", "ass", "/t/burn.ass"]);
    expect(burnExtractArgs({ input: "/x.srt", format: "srt", offset_s: 1.4, output: "/t/burn.ass" })).toEqual(["-copyts", "-itsoffset", "1.4", "-f", "srt", "-i", "/x.srt", "-map", "0:s:0", "-c:s", "ass", "-f", "ass", "/t/burn.ass"]);
  });

  test("the chunk's frames go back to source time around the ass filter", () => {
    expect(burnFilters("/t/burn.ass", 2)).toEqual(["setpts=PTS+2/TB", "ass=filename='/t/burn.ass'", "setpts=PTS-STARTPTS"]);
    expect(burnFilters("/t/burn.ass", -0.04)[0]).toBe("setpts=PTS-0.04/TB");
    expect(burnFilters("/t/burn.ass", 1.4000001)[0]).toBe("setpts=PTS+1.4/TB");
    expect(() => burnFilters("/t/it's.ass", 0)).toThrow("unusable path");
  });

  test("videoChunkArgs burns once, before the split into renditions", () => {
    const profile = { id: "p", container: "mp4", video: { codec: "h264", keyframe_interval_s: 2, rate_control: { mode: "crf", crf: 23 }, preset: "veryfast" }, audio: null } as unknown as ProfileSpec;
    const args = videoChunkArgs({
      input: "/s.mkv",
      start_pts: 2,
      start_frame: 50,
      frames: 25,
      fps: 25,
      renditions: [
        { width: 320, height: 240, encoder: "libx264", profile },
        { width: 160, height: 120, encoder: "libx264", profile },
      ],
      output: (i) => `/t/r${i}.mp4`,
      part_format: "mp4",
      burn: { ass_path: "/t/burn.ass" },
    });
    const graph = args[args.indexOf("-filter_complex") + 1]!;
    expect(graph.startsWith("[0:v]setpts=PTS-STARTPTS,setpts=PTS+2/TB,ass=filename='/t/burn.ass',setpts=PTS-STARTPTS,split=2")).toBe(true);
  });
});
