import { describe, expect, test } from "bun:test";
import { BUILTIN_PROFILES, expandProfiles, type ProfileSpec } from "../../src/media/profiles.ts";
import { displaySize, even, frameStep, selectRenditions } from "../../src/media/renditions.ts";

const ladder = expandProfiles(["hls_h264_ladder"], {});
const sizes = (rs: { profile: ProfileSpec; width: number; height: number; frame_step: number }[]) =>
  rs.map((r) => [r.profile.id, r.width, r.height, r.frame_step]);
const src = (width: number, height: number, rotation = 0, fps = 30) => ({ width, height, rotation, fps });

describe("selectRenditions", () => {
  test("a 1080p source gets the whole ladder at 16:9", () => {
    expect(sizes(selectRenditions(ladder, src(1920, 1080)))).toEqual([
      ["1080p_h264", 1920, 1080, 1],
      ["720p_h264", 1280, 720, 1],
      ["480p_h264", 854, 480, 1],
      ["360p_h264", 640, 360, 1],
    ]);
  });

  test("returns the profile objects themselves", () => {
    const [first] = selectRenditions(ladder, src(1920, 1080));
    expect(first).toEqual({ profile: BUILTIN_PROFILES["1080p_h264"] as ProfileSpec, width: 1920, height: 1080, frame_step: 1 });
  });

  test("renditions above the source are skipped unless upscaling is allowed", () => {
    expect(sizes(selectRenditions(ladder, src(1280, 720)))).toEqual([
      ["720p_h264", 1280, 720, 1],
      ["480p_h264", 854, 480, 1],
      ["360p_h264", 640, 360, 1],
    ]);
    expect(sizes(selectRenditions(ladder, src(1280, 720), { allowUpscale: true }))[0]).toEqual(["1080p_h264", 1920, 1080, 1]);
  });

  test("a source below every profile keeps the lowest one at the source size (even)", () => {
    expect(sizes(selectRenditions(ladder, src(321, 241)))).toEqual([["360p_h264", 320, 240, 1]]);
    expect(sizes(selectRenditions(ladder, src(176, 144)))).toEqual([["360p_h264", 176, 144, 1]]);
    expect(selectRenditions([], src(1920, 1080))).toEqual([]);
  });

  test("odd and non-16:9 sources: aspect kept, both sides even, no letterbox", () => {
    expect(sizes(selectRenditions(ladder, src(1918, 1080)))).toEqual([
      ["1080p_h264", 1918, 1080, 1],
      ["720p_h264", 1278, 720, 1],
      ["480p_h264", 852, 480, 1],
      ["360p_h264", 640, 360, 1],
    ]);
    // 4:3 and 2.39:1
    expect(sizes(selectRenditions(ladder.slice(2), src(640, 480)))).toEqual([
      ["480p_h264", 640, 480, 1],
      ["360p_h264", 480, 360, 1],
    ]);
    expect(sizes(selectRenditions(ladder.slice(3), src(1920, 804)))).toEqual([["360p_h264", 860, 360, 1]]);
  });

  test("portrait: the profile height is the SHORT side (720p of 1080x1920 is 720x1280)", () => {
    expect(sizes(selectRenditions(ladder, src(1080, 1920)))).toEqual([
      ["1080p_h264", 1080, 1920, 1],
      ["720p_h264", 720, 1280, 1],
      ["480p_h264", 480, 854, 1],
      ["360p_h264", 360, 640, 1],
    ]);
  });

  test("rotation 90/270 (either sign) swaps the coded size; 180 does not", () => {
    const expected = [
      ["720p_h264", 720, 1280, 1],
      ["480p_h264", 480, 854, 1],
      ["360p_h264", 360, 640, 1],
    ];
    for (const rotation of [90, -90, 270, -270]) expect(sizes(selectRenditions(ladder.slice(1), src(1280, 720, rotation)))).toEqual(expected);
    expect(sizes(selectRenditions(ladder.slice(3), src(1280, 720, 180)))).toEqual([["360p_h264", 640, 360, 1]]);
  });

  test("a non-square sample aspect ratio is applied (PAL 16:9 DVD)", () => {
    expect(sizes(selectRenditions(ladder, { ...src(720, 576), sample_aspect_ratio: 64 / 45 }))).toEqual([
      ["480p_h264", 854, 480, 1],
      ["360p_h264", 640, 360, 1],
    ]);
  });

  test("max_fps decimates by a whole divisor", () => {
    const capped = { ...(BUILTIN_PROFILES["360p_h264"] as ProfileSpec), video: { ...(BUILTIN_PROFILES["360p_h264"] as ProfileSpec).video, max_fps: 30 } };
    expect(sizes(selectRenditions([capped], src(1280, 720, 0, 60)))).toEqual([["360p_h264", 640, 360, 2]]);
    expect(sizes(selectRenditions([capped], src(1280, 720, 0, 30)))).toEqual([["360p_h264", 640, 360, 1]]);
  });

  test("rejects an unusable source", () => {
    expect(() => selectRenditions(ladder, src(0, 1080))).toThrow("source size must be positive (got 0x1080)");
    expect(() => selectRenditions(ladder, src(1920, 1080, 0, 0))).toThrow("source fps must be positive (got 0)");
  });
});

describe("helpers", () => {
  test("even() rounds to the nearest even number, at least 2", () => {
    expect([0, 1, 2, 3, 853.33, 426.67, 427, 1279].map(even)).toEqual([2, 2, 2, 4, 854, 426, 428, 1280]);
  });

  test("displaySize()", () => {
    expect([displaySize(src(1920, 1080, 90)), displaySize({ ...src(720, 480), sample_aspect_ratio: 4 / 3 })]).toEqual([
      { width: 1080, height: 1920 },
      { width: 960, height: 480 },
    ]);
  });

  test("frameStep()", () => {
    expect([frameStep(60, 30), frameStep(59.94, 30), frameStep(60000 / 1001, 30000 / 1001), frameStep(50, 30), frameStep(120, 30), frameStep(25, 30), frameStep(30, undefined)]).toEqual([
      2, 2, 2, 2, 4, 1, 1,
    ]);
  });
});
