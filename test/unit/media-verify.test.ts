import { describe, expect, test } from "bun:test";
import { audioFrameSeconds, keyframesAligned, verifyOutput } from "../../src/media/verify.ts";

const source = { duration_s: 40, frames: 1200, fps: 30, audio_duration_s: 40 };

describe("verifyOutput", () => {
  test("the measured good case: 1200/1200 frames, AAC one frame longer than the video", () => {
    expect(
      verifyOutput({ source, output: { video_duration_s: 40, frames: 1200, audio_duration_s: 40.008, audio_sample_rate: 48000 } }),
    ).toEqual({ ok: true, problems: [] });
  });

  test("limits are inclusive: exactly one video frame, exactly one AAC frame + 1 ms", () => {
    expect(
      verifyOutput({
        source,
        output: { video_duration_s: 40 + 1 / 30, frames: 1200, audio_duration_s: 40 + 1 / 30 - 1024 / 48000 - 0.001, audio_sample_rate: 48000 },
      }),
    ).toEqual({ ok: true, problems: [] });
  });

  test("every failed rule, with its numbers", () => {
    expect(
      verifyOutput({ source, output: { video_duration_s: 40.1, frames: 1203, audio_duration_s: 40.2, audio_sample_rate: 48000 } }),
    ).toEqual({
      ok: false,
      problems: [
        "video duration 40.1 s differs from the source's 40 s by 0.1 s (allowed: one frame, 0.033333 s)",
        "video has 1203 frames, the source has 1200 (difference 3)",
        "audio ends at 40.2 s, expected 40 s as in the source: off by +0.2 s (allowed: one aac frame + 1 ms, 0.022333 s)",
      ],
    });
  });

  test("a frame too few fails even when the duration is within a frame", () => {
    expect(verifyOutput({ source, output: { video_duration_s: 40 - 1 / 30, frames: 1199 } })).toEqual({
      ok: false,
      problems: ["video has 1199 frames, the source has 1200 (difference -1)", "audio is missing: the source has 40 s of it"],
    });
  });

  test("the audio frame depends on codec and rate: 20 ms for Opus, 1024 samples for AAC", () => {
    const output = { video_duration_s: 40, frames: 1200, audio_duration_s: 40.024, audio_sample_rate: 48000 };
    expect([
      verifyOutput({ source, output: { ...output, audio_codec: "opus" } }),
      verifyOutput({ source, output }),
      verifyOutput({ source, output: { ...output, audio_sample_rate: 44100 } }),
    ]).toEqual([
      { ok: false, problems: ["audio ends at 40.024 s, expected 40 s as in the source: off by +0.024 s (allowed: one opus frame + 1 ms, 0.021 s)"] },
      { ok: false, problems: ["audio ends at 40.024 s, expected 40 s as in the source: off by +0.024 s (allowed: one aac frame + 1 ms, 0.022333 s)"] },
      { ok: true, problems: [] },
    ]);
  });

  test("a source whose audio is shorter than its video is reproduced, not flagged", () => {
    const short = { ...source, audio_duration_s: 39.5 };
    expect(verifyOutput({ source: short, output: { video_duration_s: 40, frames: 1200, audio_duration_s: 39.51, audio_sample_rate: 48000 } })).toEqual({
      ok: true,
      problems: [],
    });
    expect(verifyOutput({ source: short, output: { video_duration_s: 40, frames: 1200, audio_duration_s: 39.7, audio_sample_rate: 48000 } })).toEqual({
      ok: false,
      problems: ["audio ends at 39.7 s, expected 39.5 s as in the source: off by +0.2 s (allowed: one aac frame + 1 ms, 0.022333 s)"],
    });
  });

  test("a source without audio: no audio rule", () => {
    expect(verifyOutput({ source: { duration_s: 10.01, frames: 240, fps: 24000 / 1001 }, output: { video_duration_s: 10.01, frames: 240 } })).toEqual({
      ok: true,
      problems: [],
    });
  });

  test("issue 14: Matroska audio 40 ms longer than its video is compared with the source's audio, not with the output's video", () => {
    const mkv = { duration_s: 20, frames: 500, fps: 25, audio_tracks: [{ label: "audio track 0 (und)", end_s: 20.039 }] };
    expect(verifyOutput({ source: mkv, output: { video_duration_s: 20, frames: 500, audio_tracks: [{ duration_s: 20.05, sample_rate: 48000 }] } })).toEqual({ ok: true, problems: [] });
    // The same output of a source whose audio ended with its video is wrong by those 50 ms, and says so.
    const even = { ...mkv, audio_tracks: [{ label: "audio track 0 (und)", end_s: 20 }] };
    expect(verifyOutput({ source: even, output: { video_duration_s: 20, frames: 500, audio_tracks: [{ duration_s: 20.05, sample_rate: 48000 }] } }).problems).toEqual([
      "audio track 0 (und) ends at 20.05 s, expected 20 s as in the source: off by +0.05 s (allowed: one aac frame + 1 ms, 0.022333 s)",
    ]);
  });

  test("late audio: the output track starts later and ends where the source's does, each track on its own", () => {
    const source = {
      duration_s: 4,
      frames: 100,
      fps: 25,
      audio_tracks: [
        { label: "audio track 0 (English)", end_s: 4.2 },
        { label: "audio track 1 (Français)", end_s: 4.021 },
      ],
    };
    const output = (second: number) => ({ video_duration_s: 4, frames: 100, audio_tracks: [{ duration_s: 4.21, sample_rate: 48000 }, { start_s: 0, duration_s: second, sample_rate: 48000 }] });
    expect(verifyOutput({ source, output: output(4.03) })).toEqual({ ok: true, problems: [] });
    expect(verifyOutput({ source, output: output(3.2) }).problems).toEqual([
      "audio track 1 (Français) ends at 3.2 s, expected 4.021 s as in the source: off by -0.821 s (allowed: one aac frame + 1 ms, 0.022333 s)",
    ]);
    expect(verifyOutput({ source, output: { video_duration_s: 4, frames: 100, audio_tracks: [{ duration_s: 4.2 }] } }).problems).toEqual([
      "audio track 1 (Français) is missing: the source has 4.021 s of it",
    ]);
  });

  test("a variable-rate source: one frame of tolerance is its longest frame interval", () => {
    const vfr = { duration_s: 4, frames: 108, fps: 27, max_interval_s: 1 / 24 };
    expect(verifyOutput({ source: vfr, output: { video_duration_s: 4.04, frames: 108 } })).toEqual({ ok: true, problems: [] });
    expect(verifyOutput({ source: vfr, output: { video_duration_s: 3.966667 - 1 / 24, frames: 108 } }).problems).toEqual([
      "video duration 3.925 s differs from the source's 4 s by 0.075 s (allowed: the longest frame interval, 0.041667 s)",
    ]);
  });

  test("audioFrameSeconds", () => {
    expect([audioFrameSeconds("aac", 48000), audioFrameSeconds("aac", 44100), audioFrameSeconds("aac", undefined), audioFrameSeconds("opus", 24000)]).toEqual([
      1024 / 48000,
      1024 / 44100,
      1024 / 48000,
      0.02,
    ]);
  });
});

describe("keyframesAligned", () => {
  test("identical lists, within tolerance, and the trivial cases", () => {
    expect(keyframesAligned([[0, 2, 4], [0, 2.0004, 4], [0, 2, 3.9996]], 0.0005)).toEqual({ ok: true, problems: [] });
    expect(keyframesAligned([[0, 2]], 0)).toEqual({ ok: true, problems: [] });
    expect(keyframesAligned([], 0)).toEqual({ ok: true, problems: [] });
  });

  test("the first mismatch of each variant, with times", () => {
    expect(
      keyframesAligned(
        [
          [0, 2.002, 4.004, 6.006],
          [0, 2.002, 4.171, 6.173],
          [0, 2.002, 4.004],
          [0, 2.002, 4.004, 6.006, 8.008],
        ],
        0.001,
      ),
    ).toEqual({
      ok: false,
      problems: [
        "variant 1 keyframe 2 is at 4.171 s, variant 0 has it at 4.004 s (tolerance 0.001 s)",
        "variant 2 has 3 keyframes, variant 0 has 4 (first unmatched: 6.006 s in variant 0)",
        "variant 3 has 5 keyframes, variant 0 has 4 (first unmatched: 8.008 s in variant 3)",
      ],
    });
  });
});
