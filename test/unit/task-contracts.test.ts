/**
 * Task contracts (src/core/task-contracts.ts): for every task type, a real sample of its params and of its
 * result passes; a malformed one is refused with a message that names what is wrong.
 */
import { describe, expect, test } from "bun:test";
import { BUILTIN_PROFILES } from "../../src/media/profiles.ts";
import { sampleAnalysis } from "../fixtures/task-samples.ts";
import { checkParams, checkResult, isTaskType, paramsOf, resultOf, TASK_TYPES, type TaskType } from "../../src/core/task-contracts.ts";

const profile = BUILTIN_PROFILES["360p_h264"]!;
const rendition = { profile, width: 640, height: 360, encoder: "libx264", frame_step: 1 };

const PARAMS = {
  analyze: { source_url: "https://example.com/in.mp4", storage: "storage-fs" },
  video: {
    source_url: "uploads/in.mp4",
    storage: "storage-fs",
    chunk: { seq: 0, start_pts: 1.4, start_frame: 0, frames: 250, duration_s: 10 },
    chunk_count: 1,
    group: 0,
    fps: 25,
    renditions: [rendition],
    parts_prefix: "jobs/j1/parts/",
  },
  audio: { source_url: "uploads/in.mp4", storage: "storage-fs", audio: profile.audio!, key: "jobs/j1/parts/audio_0.m4a" },
  package: {
    storage: "storage-fs",
    output_prefix: "jobs/j1/",
    outputs: ["mp4", "hls"],
    thumbnails: { poster: true, sprite: false, interval_s: 10 },
    source: { duration_s: 10, frames: 250, fps: 25, has_audio: true },
    renditions: [{ ...rendition, parts: [{ key: "jobs/j1/parts/v0_360p_h264_00000.mp4", frames: 250, seq: 0 }], audio_key: "jobs/j1/parts/audio_0.m4a" }],
  },
  live: {
    stream_id: "s1",
    session_id: "ss1",
    source_url: "http://10.0.0.5:8080/internal/live/ss1/source.flv",
    push_url: "http://10.0.0.5:8080/internal/live/ss1",
    token: "t0k3n",
    segment_seconds: 2,
    rungs: [{ name: "720p", width: 1280, height: 720, video_kbps: 2500, fps: 30 }, { name: "360p", width: 640, height: 360, video_kbps: 700 }],
    audio_kbps: 128,
  },
  restream: {
    restream_id: "6f1c2a4e-8d0b-4c3e-9a57-2b1d0e9f4c11",
    destinations_url: "http://10.0.0.5:8080/internal/restreams/6f1c2a4e-8d0b-4c3e-9a57-2b1d0e9f4c11/claim",
    token: "wrt1.x.y.z",
    input: { kind: "file", source_url: "uploads/show.mp4", storage: "storage-fs", loop: true },
  },
} satisfies Record<TaskType, unknown>;

/** The analyze result as the worker makes it: summarizeProbe over FFprobe's JSON of a 10 s 25 fps clip. */
const ANALYSIS = sampleAnalysis({ format_name: "mov,mp4,m4a,3gp,3g2,mj2", size: "123456", bit_rate: "98765" });

const RESULTS = {
  analyze: ANALYSIS,
  video: { parts: [{ profile: "360p_h264", key: "jobs/j1/parts/v0_360p_h264_00000.mp4", frames: 250, size: 81_920 }] },
  audio: { key: "jobs/j1/parts/audio_0.m4a", size: 160_000, duration_s: 10, sample_rate: 48000, codec: "aac" },
  package: {
    outputs: [
      { kind: "hls", key: "jobs/j1/hls/master.m3u8", prefix: "jobs/j1/hls/", size_bytes: 90_000, duration_s: 10, details: { segment_seconds: 6 } },
      { kind: "mp4", profile: "360p_h264", key: "jobs/j1/360p_h264.mp4", size_bytes: 85_000, duration_s: 10, width: 640, height: 360, bitrate: 68_000, video_codec: "h264", audio_codec: "aac", details: {} },
      { kind: "thumbnail", key: "jobs/j1/thumbnails/poster.jpg", size_bytes: 4_000, width: 640 },
    ],
  },
  live: { reason: "source_ended", media_seconds: 3600.5 },
  restream: {
    reason: "input_ended",
    position_s: 12.5,
    destinations: [{ id: "d1", publisher: "rtmp", status: "stopped", bitrate_kbps: 0, uptime_s: 0, reconnects: 2, last_error: "Connection refused" }],
  },
} satisfies Record<TaskType, unknown>;

const without = (o: object, key: string) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));
const problemOf = (r: { ok: true } | { ok: false; problem: string }) => (r.ok ? "accepted" : r.problem);

describe("every task type has a contract", () => {
  test("the five types, and nothing else is one", () => {
    expect([...TASK_TYPES]).toEqual(["analyze", "video", "audio", "package", "live", "restream"]);
    expect(isTaskType("video")).toBe(true);
    expect(isTaskType("live")).toBe(true);
    expect(isTaskType("transcode")).toBe(false);
    expect(isTaskType(undefined)).toBe(false);
  });

  for (const type of TASK_TYPES) {
    test(`${type}: real params and result pass and come back equal`, () => {
      expect(checkParams(type, PARAMS[type])).toEqual({ ok: true, value: PARAMS[type] as never });
      expect(checkResult(type, RESULTS[type])).toEqual({ ok: true, value: RESULTS[type] as never });
    });

    test(`${type}: nothing, null and a string are refused`, () => {
      for (const bad of [undefined, null, "x"]) {
        expect(checkParams(type, bad).ok).toBe(false);
        expect(checkResult(type, bad).ok).toBe(false);
      }
    });
  }
});

describe("malformed params are refused with the field that is wrong", () => {
  test.each([
    ["analyze without a source", "analyze", { storage: "storage-fs" }, /^source_url: required field is missing$/],
    ["video with a chunk of 0 frames", "video", { ...PARAMS.video, chunk: { ...PARAMS.video.chunk, frames: 0 } }, /^chunk\.frames: Invalid value: Expected >=1 but received 0$/],
    ["video with no renditions", "video", { ...PARAMS.video, renditions: [] }, /^renditions: Invalid length/],
    ["video whose profile is not a profile", "video", { ...PARAMS.video, renditions: [{ ...rendition, profile: { ...profile, container: "avi" } }] }, /container must be one of: mp4, webm/],
    ["audio with 6 channels", "audio", { ...PARAMS.audio, audio: { ...profile.audio!, channels: 6 } }, /audio\.channels must be one of: 1, 2/],
    ["restream with a keyless but unknown input kind", "restream", { ...PARAMS.restream, input: { kind: "rtsp", source_url: "x" } }, /Invalid type/],
    ["restream whose claim URL is not http", "restream", { ...PARAMS.restream, destinations_url: "ftp://k/claim" }, /must be an http\(s\) URL/],
    ["package with an unknown output format", "package", { ...PARAMS.package, outputs: ["mp4", "dash"] }, /^outputs\.1: Invalid type: Expected \("mp4" \| "hls"\) but received "dash"$/],
  ] as const)("%s", (_name, type, params, message) => {
    expect(problemOf(checkParams(type, params))).toMatch(message);
  });

  test("fields a worker does not know are dropped, not passed on", () => {
    const r = checkParams("analyze", { ...PARAMS.analyze, extra: 1 });
    expect(r).toEqual({ ok: true, value: PARAMS.analyze });
  });
});

describe("malformed results are refused with a useful message", () => {
  test.each([
    ["an empty analysis", "analyze", {}, "the analysis gave no usable duration (undefined)"],
    ["no analysis at all", "analyze", null, "the analysis result is empty"],
    ["an analysis without a frame count", "analyze", { ...ANALYSIS, video: { ...ANALYSIS.video, frames: undefined } }, "the analysis gave no usable video frames (undefined)"],
    ["an analysis without its format", "analyze", without(ANALYSIS, "format"), "the analysis has no format"],
    ["an analysis with a format that is not text", "analyze", { ...ANALYSIS, format: 7 }, "format: Invalid type: Expected string but received 7"],
    ["an analysis without video", "analyze", { ...ANALYSIS, video: undefined }, "the analysis found no video stream"],
    ["an analysis with fps 0", "analyze", { ...ANALYSIS, video: { ...ANALYSIS.video, fps: 0 } }, "the analysis gave no usable video fps (0)"],
    ["an analysis with an infinite duration", "analyze", { ...ANALYSIS, duration_s: Infinity }, "the analysis gave no usable duration (Infinity)"],
    ["an analysis whose keyframes are not a list", "analyze", { ...ANALYSIS, keyframes: "x" }, "the analysis has no usable keyframe index"],
    ["a video result without parts", "video", {}, "parts: required field is missing"],
    ["a video part with a fractional frame count", "video", { parts: [{ profile: "360p_h264", key: "k", frames: 2.5 }] }, "parts.0.frames: Invalid integer: Received 2.5"],
    ["an audio result without its key", "audio", { size: 1 }, "key: required field is missing"],
    ["a package output of an unknown kind", "package", { outputs: [{ kind: "zip", key: "k", size_bytes: 1 }] }, 'outputs.0.kind: Invalid type: Expected ("mp4" | "webm" | "hls" | "thumbnail" | "sprite" | "vtt") but received "zip"'],
    ["a package output with a negative size", "package", { outputs: [{ kind: "mp4", key: "k", size_bytes: -1 }] }, "outputs.0.size_bytes: Invalid value: Expected >=0 but received -1"],
  ] as const)("%s", (_name, type, result, message) => {
    expect(problemOf(checkResult(type, result))).toBe(message);
  });

  test("media results need what the kernel builds on; informational fields are optional", () => {
    expect(checkResult("video", { parts: [{ profile: "360p_h264", key: "k", frames: 250 }] }).ok).toBe(true);
    expect(checkResult("audio", { key: "jobs/j1/parts/audio_0.m4a" }).ok).toBe(true);
  });
});

describe("stored rows are read through the contract too", () => {
  test("a valid row gives its typed value; an invalid one throws naming the type and the problem", () => {
    expect(paramsOf("video", PARAMS.video).chunk.frames).toBe(250);
    expect(resultOf("analyze", ANALYSIS).video.fps).toBe(25);
    expect(() => resultOf("analyze", { duration_s: 10 })).toThrow("stored analyze task result is invalid: the analysis found no video stream");
    expect(() => paramsOf("audio", {})).toThrow("stored audio task params are invalid: source_url: required field is missing");
  });
});
