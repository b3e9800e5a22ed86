import { describe, expect, test } from "bun:test";
import {
  BUILTIN_LADDERS,
  BUILTIN_PROFILES,
  encoderFor,
  expandProfiles,
  parseProfile,
  type ProfileSpec,
} from "../../src/media/profiles.ts";

const base = () => ({
  id: "custom_720",
  name: "Custom 720p",
  container: "mp4",
  video: { codec: "h264", encoder: "auto", hardware_fallback: "cpu", height: 720, rate_control: { mode: "crf", crf: 23 } },
  audio: { codec: "aac", bitrate_kbps: 128, channels: 2 },
});

function problemsOf(input: unknown): string {
  try {
    parseProfile(input);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected parseProfile to throw");
}

describe("parseProfile", () => {
  test("fills in defaults and keeps everything else", () => {
    expect(parseProfile(base())).toEqual({
      id: "custom_720",
      name: "Custom 720p",
      container: "mp4",
      video: { codec: "h264", encoder: "auto", hardware_fallback: "cpu", height: 720, rate_control: { mode: "crf", crf: 23 }, keyframe_interval_s: 2 },
      audio: { codec: "aac", bitrate_kbps: 128, channels: 2 },
    });
  });

  test("accepts a bitrate-controlled WebM/VP9 profile without audio", () => {
    const input = {
      id: "vp9-video-only",
      name: "VP9",
      description: "no audio",
      container: "webm",
      video: {
        codec: "vp9",
        encoder: "software",
        hardware_fallback: "fail",
        height: 1080,
        rate_control: { mode: "bitrate", bitrate_kbps: 2500, maxrate_kbps: 4000, bufsize_kbps: 5000 },
        preset: "2",
        keyframe_interval_s: 4,
        max_fps: 30,
        pixel_format: "yuv420p",
      },
      audio: null,
    };
    expect(parseProfile(input)).toEqual(input as ProfileSpec);
  });

  test("field errors name the field", () => {
    const input = { ...base(), id: "Bad Id", name: "", extra: true, video: { ...base().video, height: 721, encoder: "gpu" } };
    expect(problemsOf(input)).toBe(
      [
        "invalid profile:",
        "- id must be 1–64 characters of a-z, 0-9, _ and -, starting with a letter or digit",
        "- name must not be empty",
        "- video.encoder must be one of: auto, software, nvenc, qsv, vaapi",
        "- video.height must be even",
        "- extra: unknown field",
      ].join("\n"),
    );
  });

  test("missing fields and wrong types", () => {
    expect(problemsOf({ id: "x", name: "x", container: "mkv" })).toBe(
      ["invalid profile:", "- container must be one of: mp4, webm", "- video: required field is missing", "- audio: required field is missing"].join("\n"),
    );
    expect(problemsOf("720p")).toBe("invalid profile:\n- profile must be an object");
    expect(problemsOf({ ...base(), video: { ...base().video, rate_control: { mode: "vbr" } } })).toBe(
      "invalid profile:\n- video.rate_control.mode must be one of: crf, bitrate",
    );
    expect(problemsOf({ ...base(), video: { ...base().video, height: 100 } })).toBe("invalid profile:\n- video.height must be at least 144");
  });

  test("codec, container and encoder must fit together; messages list the allowed values", () => {
    expect(problemsOf({ ...base(), container: "webm" })).toBe(
      ["invalid profile:", "- video.codec: container webm allows vp9, av1 (got h264)", "- audio.codec: container webm allows opus (got aac)"].join("\n"),
    );
    expect(problemsOf({ ...base(), video: { ...base().video, codec: "vp9", encoder: "nvenc" } })).toBe(
      ["invalid profile:", "- video.codec: container mp4 allows h264, hevc, av1 (got vp9)", "- video.encoder: codec vp9 allows auto, software (got nvenc)"].join("\n"),
    );
    expect(problemsOf({ ...base(), video: { ...base().video, codec: "av1", encoder: "qsv" } })).toBe(
      "invalid profile:\n- video.encoder: codec av1 allows auto, software (got qsv)",
    );
    expect(problemsOf({ ...base(), container: "webm", video: { ...base().video, codec: "av1" }, audio: { codec: "opus", bitrate_kbps: 96, channels: 2, sample_rate: 44100 } })).toBe(
      "invalid profile:\n- audio.sample_rate: codec opus allows 48000 (got 44100)",
    );
  });

  test("rate control and preset are checked against the codec", () => {
    expect(problemsOf({ ...base(), video: { ...base().video, rate_control: { mode: "crf", crf: 55 } } })).toBe(
      "invalid profile:\n- video.rate_control.crf: codec h264 allows 0–51 (got 55)",
    );
    expect(
      problemsOf({ ...base(), container: "webm", video: { ...base().video, codec: "vp9", rate_control: { mode: "crf", crf: 30.5 }, preset: "fast" }, audio: null }),
    ).toBe(
      [
        "invalid profile:",
        "- video.rate_control.crf: codec vp9 allows integers only (got 30.5)",
        "- video.preset: codec vp9 allows 0, 1, 2, 3, 4, 5, 6, 7, 8 (got fast)",
      ].join("\n"),
    );
    expect(problemsOf({ ...base(), video: { ...base().video, rate_control: { mode: "bitrate", bitrate_kbps: 3000, maxrate_kbps: 2000 } } })).toBe(
      [
        "invalid profile:",
        "- video.rate_control: maxrate_kbps and bufsize_kbps must be given together",
        "- video.rate_control.maxrate_kbps must be at least bitrate_kbps (3000, got 2000)",
      ].join("\n"),
    );
  });
});

describe("built-in profiles and ladders", () => {
  test("ids, ladders and that every built-in passes its own validation", () => {
    expect(Object.keys(BUILTIN_PROFILES)).toEqual(["1080p_h264", "720p_h264", "480p_h264", "360p_h264", "4k_hevc", "1080p_vp9", "1080p_av1"]);
    expect(BUILTIN_LADDERS).toEqual({ hls_h264_ladder: ["1080p_h264", "720p_h264", "480p_h264", "360p_h264"] });
    for (const [id, profile] of Object.entries(BUILTIN_PROFILES)) {
      expect(profile.id).toBe(id);
      expect(parseProfile(structuredClone(profile))).toEqual(profile);
    }
  });

  test("720p_h264 in full", () => {
    expect(BUILTIN_PROFILES["720p_h264"]).toEqual({
      id: "720p_h264",
      name: "720p H.264",
      description: "H.264 High, 720p, 3000 kb/s average (capped at 4500 kb/s), AAC stereo 128 kb/s, MP4",
      container: "mp4",
      video: {
        codec: "h264",
        encoder: "software",
        hardware_fallback: "cpu",
        height: 720,
        rate_control: { mode: "bitrate", bitrate_kbps: 3000, maxrate_kbps: 4500, bufsize_kbps: 6000 },
        preset: "fast",
        keyframe_interval_s: 2,
        pixel_format: "yuv420p",
      },
      audio: { codec: "aac", bitrate_kbps: 128, channels: 2, sample_rate: 48000 },
    });
  });

  test("the ladder's rates and the other codecs' key settings", () => {
    const summary = Object.values(BUILTIN_PROFILES).map((p) => [p.id, p.container, p.video.codec, p.video.encoder, p.video.height, p.video.rate_control, p.audio?.codec]);
    expect(summary).toEqual([
      ["1080p_h264", "mp4", "h264", "software", 1080, { mode: "bitrate", bitrate_kbps: 5000, maxrate_kbps: 7500, bufsize_kbps: 10000 }, "aac"],
      ["720p_h264", "mp4", "h264", "software", 720, { mode: "bitrate", bitrate_kbps: 3000, maxrate_kbps: 4500, bufsize_kbps: 6000 }, "aac"],
      ["480p_h264", "mp4", "h264", "software", 480, { mode: "bitrate", bitrate_kbps: 1500, maxrate_kbps: 2250, bufsize_kbps: 3000 }, "aac"],
      ["360p_h264", "mp4", "h264", "software", 360, { mode: "bitrate", bitrate_kbps: 800, maxrate_kbps: 1200, bufsize_kbps: 1600 }, "aac"],
      ["4k_hevc", "mp4", "hevc", "auto", 2160, { mode: "bitrate", bitrate_kbps: 16000, maxrate_kbps: 24000, bufsize_kbps: 32000 }, "aac"],
      ["1080p_vp9", "webm", "vp9", "software", 1080, { mode: "crf", crf: 31 }, "opus"],
      ["1080p_av1", "mp4", "av1", "software", 1080, { mode: "crf", crf: 32 }, "aac"],
    ]);
  });

  test("built-ins are frozen", () => {
    const p = BUILTIN_PROFILES["1080p_h264"] as ProfileSpec;
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.video.rate_control)).toBe(true);
    expect(() => {
      (p.video as { height: number }).height = 1;
    }).toThrow();
  });
});

describe("expandProfiles", () => {
  const custom = { mine: parseProfile({ ...base(), id: "mine" }) };

  test("expands ladders in place and drops duplicates (first occurrence wins)", () => {
    const ids = expandProfiles(["720p_h264", "hls_h264_ladder", "mine", "1080p_av1", "mine"], custom).map((p) => p.id);
    expect(ids).toEqual(["720p_h264", "1080p_h264", "480p_h264", "360p_h264", "mine", "1080p_av1"]);
  });

  test("returns the profile objects themselves", () => {
    expect(expandProfiles(["mine", "4k_hevc"], custom)).toEqual([custom.mine, BUILTIN_PROFILES["4k_hevc"] as ProfileSpec]);
  });

  test("names every unknown id, never substitutes", () => {
    expect(() => expandProfiles(["720p_h264", "9000p", "constructor", "9000p"], custom)).toThrow('unknown profiles: "9000p", "constructor"');
    expect(() => expandProfiles(["nope"], {})).toThrow('unknown profile: "nope"');
    expect(() => expandProfiles([], custom)).toThrow("no profiles requested");
  });
});

describe("encoderFor", () => {
  const withVideo = (video: Partial<ProfileSpec["video"]>): ProfileSpec => {
    const p = parseProfile(base());
    return { ...p, video: { ...p.video, ...video } };
  };
  const none = { nvidia: false, qsv: false, vaapi: false };
  const all = { nvidia: true, qsv: true, vaapi: true };

  test("auto prefers NVIDIA, then QSV, then VAAPI, then software", () => {
    const auto = withVideo({ encoder: "auto" });
    expect([
      encoderFor(auto, all),
      encoderFor(auto, { nvidia: false, qsv: true, vaapi: true }),
      encoderFor(auto, { nvidia: false, qsv: false, vaapi: true }),
      encoderFor(auto, none),
      encoderFor(withVideo({ codec: "hevc", encoder: "auto" }), all),
    ]).toEqual([
      { encoder: "h264_nvenc", pool: "nvidia" },
      { encoder: "h264_qsv", pool: "qsv" },
      { encoder: "h264_vaapi", pool: "vaapi" },
      { encoder: "libx264", pool: "cpu" },
      { encoder: "hevc_nvenc", pool: "nvidia" },
    ]);
  });

  test("VP9 and AV1 are software whatever the hardware", () => {
    expect([encoderFor(withVideo({ codec: "vp9" }), all), encoderFor(withVideo({ codec: "av1" }), all)]).toEqual([
      { encoder: "libvpx-vp9", pool: "cpu" },
      { encoder: "libsvtav1", pool: "cpu" },
    ]);
  });

  test("software is software even on a GPU host", () => {
    expect(encoderFor(withVideo({ codec: "hevc", encoder: "software" }), all)).toEqual({ encoder: "libx265", pool: "cpu" });
  });

  test("an explicit family: used when present, else the fallback policy decides", () => {
    expect([
      encoderFor(withVideo({ encoder: "nvenc", hardware_fallback: "fail" }), all),
      encoderFor(withVideo({ encoder: "qsv", hardware_fallback: "fail" }), all),
      encoderFor(withVideo({ encoder: "vaapi", hardware_fallback: "fail" }), all),
      encoderFor(withVideo({ encoder: "nvenc", hardware_fallback: "cpu" }), none),
      encoderFor(withVideo({ codec: "hevc", encoder: "nvenc", hardware_fallback: "fail" }), { nvidia: false, qsv: true, vaapi: true }),
      encoderFor(withVideo({ codec: "vp9", encoder: "nvenc" }), all),
    ]).toEqual([
      { encoder: "h264_nvenc", pool: "nvidia" },
      { encoder: "h264_qsv", pool: "qsv" },
      { encoder: "h264_vaapi", pool: "vaapi" },
      { encoder: "libx264", pool: "cpu" },
      { error: 'profile "custom_720" requires hevc_nvenc (nvenc) but no nvidia encoder is available and hardware_fallback is "fail"' },
      { error: 'profile "custom_720": codec vp9 has no nvenc encoder' },
    ]);
  });
});
