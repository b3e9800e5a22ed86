/**
 * Audio grouping in the VOD task parameters (src/media/task-params.ts): one audio encode per distinct audio
 * rendition, never per chunk.
 */
import { describe, expect, test } from "bun:test";
import { audioGroups } from "../../src/media/task-params.ts";
import { BUILTIN_PROFILES, type ProfileSpec } from "../../src/media/profiles.ts";

describe("audioGroups", () => {
  const base = BUILTIN_PROFILES["720p_h264"]!;
  const custom = (id: string, audio: ProfileSpec["audio"]): ProfileSpec => ({ ...base, id, name: id, audio });

  test("profiles with the same audio share one encode; distinct audio → distinct groups, in first-seen order", () => {
    const groups = audioGroups([BUILTIN_PROFILES["1080p_h264"]!, BUILTIN_PROFILES["1080p_vp9"]!, BUILTIN_PROFILES["720p_h264"]!, BUILTIN_PROFILES["480p_h264"]!]);
    expect(groups.map((g) => g.profiles)).toEqual([["1080p_h264", "720p_h264", "480p_h264"], ["1080p_vp9"]]);
    expect(groups[0]!.audio.codec).toBe("aac");
    expect(groups[1]!.audio).toEqual({ codec: "opus", bitrate_kbps: 128, channels: 2, sample_rate: 48000 });
  });

  test("bitrate, channels and sample rate each split a group; a profile without audio is skipped", () => {
    const groups = audioGroups([
      custom("a", { codec: "aac", bitrate_kbps: 128, channels: 2 }),
      custom("b", { codec: "aac", bitrate_kbps: 128, channels: 2 }),
      custom("c", { codec: "aac", bitrate_kbps: 96, channels: 2 }),
      custom("d", { codec: "aac", bitrate_kbps: 128, channels: 1 }),
      custom("e", { codec: "aac", bitrate_kbps: 128, channels: 2, sample_rate: 44100 }),
      custom("f", null),
      custom("g", { codec: "aac", bitrate_kbps: 128, channels: 2, sample_rate: 44100 }),
    ]);
    expect(groups.map((g) => g.profiles)).toEqual([["a", "b"], ["c"], ["d"], ["e", "g"]]);
    expect(groups.map((g) => g.audio.bitrate_kbps)).toEqual([128, 96, 128, 128]);
  });

  test("no profiles or no audio → no groups", () => {
    expect(audioGroups([])).toEqual([]);
    expect(audioGroups([custom("x", null)])).toEqual([]);
  });
});
