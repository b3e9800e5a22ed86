/** Which requested profiles a small source does not get, and why (src/media/renditions.ts skippedProfiles). */
import { expect, test } from "bun:test";
import { expandProfiles } from "../../src/media/profiles-builtin.ts";
import { selectRenditions, skippedProfiles } from "../../src/media/renditions.ts";

test("a 321x241 anamorphic source (SAR 4:3) asked for the 1080p ladder: one rendition at its own size, the rest reported", () => {
  const ladder = expandProfiles(["hls_h264_ladder"], {});
  const source = { width: 321, height: 241, rotation: 0, fps: 25, sample_aspect_ratio: 4 / 3 };
  const renditions = selectRenditions(ladder, source);
  expect(renditions.map((r) => [r.profile.id, r.width, r.height])).toEqual([["360p_h264", 426, 240]]);
  expect(skippedProfiles(ladder, renditions, source)).toEqual([
    { profile: "1080p_h264", reason: "1080p is larger than the source (241p): profiles are not scaled up" },
    { profile: "720p_h264", reason: "720p is larger than the source (241p): profiles are not scaled up" },
    { profile: "480p_h264", reason: "480p is larger than the source (241p): profiles are not scaled up" },
  ]);
});

test("a portrait 480x854 source: the short side decides; nothing is skipped that fits", () => {
  const ladder = expandProfiles(["hls_h264_ladder"], {});
  const source = { width: 480, height: 854, rotation: 0, fps: 30 };
  const renditions = selectRenditions(ladder, source);
  expect(renditions.map((r) => r.profile.id)).toEqual(["480p_h264", "360p_h264"]);
  expect(skippedProfiles(ladder, renditions, source).map((s) => s.profile)).toEqual(["1080p_h264", "720p_h264"]);
});
