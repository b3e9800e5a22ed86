/** Profile frame_rate (issue 14): parsing, the per-chunk grid counts, the chunk's filters and what verification expects. */
import { describe, expect, test } from "bun:test";
import { frameRateOf, parseProfile } from "../../src/core/profile-spec.ts";
import { chunkRenditionFrames, videoChunkArgs } from "../../src/media/args/video-chunk.ts";
import { cfrFrameCount } from "../../src/media/planner.ts";
import { expectedVideo, verifyOutput } from "../../src/media/verify.ts";

const base = {
  id: "p",
  name: "P",
  container: "mp4",
  video: { codec: "h264", encoder: "software", hardware_fallback: "cpu", height: 240, rate_control: { mode: "crf", crf: 23 } },
  audio: null,
};
const withVideo = (extra: Record<string, unknown>) => ({ ...base, video: { ...base.video, ...extra } });

describe("frameRateOf / the profile's video.frame_rate", () => {
  test("numbers and ratios become a ratio FFmpeg takes", () => {
    expect(frameRateOf(25)).toEqual({ numerator: 25, denominator: 1, fps: 25, text: "25" });
    expect(frameRateOf("30000/1001")).toMatchObject({ numerator: 30000, denominator: 1001, text: "30000/1001" });
    expect(frameRateOf(29.97)).toMatchObject({ numerator: 29970, denominator: 1000, text: "29970/1000" });
    expect(frameRateOf("50")).toMatchObject({ fps: 50, text: "50" });
    expect(frameRateOf(undefined)).toBeUndefined();
  });

  test("a profile keeps a valid frame_rate", () => {
    expect(parseProfile(withVideo({ frame_rate: "30000/1001" })).video.frame_rate).toBe("30000/1001");
    expect(parseProfile(withVideo({ frame_rate: 25 })).video.frame_rate).toBe(25);
  });

  test.each([
    [0, "video.frame_rate must be between 1 and 240 frames per second (got 0)"],
    [500, "video.frame_rate must be between 1 and 240 frames per second (got 500)"],
    ["30000/0", "video.frame_rate: the denominator must be positive (got 30000/0)"],
    ["fast", 'video.frame_rate must be a number or a ratio such as "30000/1001" (got "fast")'],
  ])("refuses %p with a message naming the field", (rate, message) => {
    expect(() => parseProfile(withVideo({ frame_rate: rate }))).toThrow(message);
  });

  test("refuses frame_rate together with max_fps, and a value of the wrong type", () => {
    expect(() => parseProfile(withVideo({ frame_rate: 25, max_fps: 30 }))).toThrow("video.frame_rate and video.max_fps cannot be given together");
    expect(() => parseProfile(withVideo({ frame_rate: true }))).toThrow("video.frame_rate must be a number of frames per second");
  });
});

describe("cfrFrameCount: parts cover the global grid exactly once", () => {
  test("chunks of a 4 s source at 25 fps sum to round(duration × 25)", () => {
    const bounds = [0, 1, 2, 2.8, 3.6, 4.000001];
    const counts = bounds.slice(1).map((end, i) => cfrFrameCount(bounds[i]!, end - bounds[i]!, 25));
    expect(counts).toEqual([25, 25, 20, 20, 10]);
    expect(counts.reduce((a, b) => a + b)).toBe(Math.round(4.000001 * 25));
  });

  test("NTSC rate: boundaries off the grid still add up", () => {
    const rate = 30000 / 1001;
    const bounds = [0, 1.0427, 2.5, 3.9];
    const total = bounds.slice(1).reduce((sum, end, i) => sum + cfrFrameCount(bounds[i]!, end - bounds[i]!, rate), 0);
    expect(total).toBe(Math.round(3.9 * rate));
  });
});

describe("videoChunkArgs with a frame_rate rendition", () => {
  const profile = parseProfile(withVideo({ frame_rate: 25, keyframe_interval_s: 1 }));
  const input = {
    input: "/in.mp4",
    start_pts: 2.8,
    start_frame: 72,
    origin_pts: 0,
    duration_s: 0.8,
    frames: 24,
    fps: 30,
    renditions: [{ width: 320, height: 240, encoder: "libx264", profile }],
    output: () => "/out.mp4",
    part_format: "mp4" as const,
  };

  test("back to source time, padded, on the 25 fps grid, rebased; -frames:v is the grid count and -g the output rate's", () => {
    const args = videoChunkArgs(input);
    const graph = args[args.indexOf("-filter_complex") + 1]!;
    expect(graph).toContain("setpts=PTS+2.8/TB,tpad=stop_mode=clone:stop_duration=1,fps=25:round=near,setpts=PTS-STARTPTS");
    expect(args[args.indexOf("-frames:v") + 1]).toBe("20");
    expect(args[args.indexOf("-g") + 1]).toBe("25");
    expect(chunkRenditionFrames(input, input.renditions[0]!)).toBe(20);
  });

  test("without frame_rate the chunk keeps the source's frames and timing", () => {
    const plain = { ...input, renditions: [{ ...input.renditions[0]!, profile: parseProfile(base) }] };
    const args = videoChunkArgs(plain);
    expect(args[args.indexOf("-filter_complex") + 1]).not.toContain("fps=");
    expect(args[args.indexOf("-frames:v") + 1]).toBe("24");
  });

  test("a frame_rate rendition needs the chunk's duration", () => {
    const { duration_s: _, ...noDuration } = input;
    expect(() => videoChunkArgs(noDuration)).toThrow("needs the chunk's duration_s");
  });
});

describe("expectedVideo / verification of a constant-rate output", () => {
  const source = { duration_s: 4.000001, frames: 108, fps: 27, max_interval_s: 1 / 24 };

  test("the grid's count at the target rate, one frame = 1/rate", () => {
    expect(expectedVideo(source, { frame_rate: 25, frame_step: 1 })).toMatchObject({ frames: 100, fps: 25 });
    expect(expectedVideo(source, { frame_rate: 25, frame_step: 1 }).max_interval_s).toBeUndefined();
    const ok = verifyOutput({ source: { duration_s: source.duration_s, ...expectedVideo(source, { frame_rate: 25, frame_step: 1 }) }, output: { video_duration_s: 4, frames: 100 } });
    expect(ok.problems).toEqual([]);
    const short = verifyOutput({ source: { duration_s: source.duration_s, ...expectedVideo(source, { frame_rate: 25, frame_step: 1 }) }, output: { video_duration_s: 3.96, frames: 99 } });
    expect(short.problems).toEqual([
      "video duration 3.96 s differs from the source's 4.000001 s by 0.040001 s (allowed: one frame, 0.04 s)",
      "video has 99 frames, the profile's frame_rate 25 fps over the source's 4.000001 s gives 100 (difference -1)",
    ]);
  });

  test("without frame_rate: the source's frames (decimated by max_fps)", () => {
    expect(expectedVideo(source, { frame_step: 1 })).toEqual({ frames: 108, fps: 27, max_interval_s: 1 / 24 });
    expect(expectedVideo({ duration_s: 4, frames: 240, fps: 60 }, { frame_step: 2 })).toEqual({ frames: 120, fps: 30 });
  });
});
