/**
 * The FFprobe summary (src/media/source.ts), with exact expected values on ffprobe-shaped JSON (the video
 * stream below captured from FFmpeg 5.1's ffprobe). docs/media.md describes what is accepted.
 */
import { describe, expect, test } from "bun:test";
import { parseRate, rotationOf, SourceProblem, summarizeProbe } from "../../src/media/source.ts";

/** Video stream as `ffprobe -show_streams -of json` (FFmpeg 5.1) prints it, trimmed of fields nobody reads. */
function h264Stream(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    index: 0,
    codec_name: "h264",
    profile: "High",
    codec_type: "video",
    codec_tag_string: "avc1",
    width: 1920,
    height: 1080,
    coded_width: 1920,
    coded_height: 1088,
    has_b_frames: 2,
    sample_aspect_ratio: "1:1",
    display_aspect_ratio: "16:9",
    pix_fmt: "yuv420p",
    level: 40,
    r_frame_rate: "30000/1001",
    avg_frame_rate: "30000/1001",
    time_base: "1/30000",
    start_pts: 0,
    start_time: "0.000000",
    duration_ts: 300300,
    duration: "10.010000",
    bit_rate: "4987231",
    nb_frames: "300",
    disposition: { default: 1, dub: 0, original: 0, comment: 0, attached_pic: 0, timed_thumbnails: 0 },
    tags: { language: "und", handler_name: "VideoHandler", vendor_id: "[0][0][0][0]" },
    ...over,
  };
}

function aacStream(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    index: 1,
    codec_name: "aac",
    profile: "LC",
    codec_type: "audio",
    sample_fmt: "fltp",
    sample_rate: "44100",
    channels: 1,
    channel_layout: "mono",
    r_frame_rate: "0/0",
    avg_frame_rate: "0/0",
    time_base: "1/44100",
    duration: "10.008000",
    bit_rate: "69671",
    disposition: { default: 1, attached_pic: 0 },
    ...over,
  };
}

const FORMAT = {
  filename: "in.mp4",
  nb_streams: 2,
  format_name: "mov,mp4,m4a,3gp,3g2,mj2",
  start_time: "0.000000",
  duration: "10.010000",
  size: "6338121",
  bit_rate: "5065431",
  probe_score: 100,
};

describe("parseRate", () => {
  test.each([
    ["30000/1001", 30000 / 1001],
    ["25/1", 25],
    ["0/0", 0],
    ["24/0", 0],
    ["", 0],
    [undefined, 0],
    ["30", 0],
    ["-25/1", 0],
    ["64/45", 64 / 45],
  ])("%p → %p", (r, want) => {
    expect(parseRate(r)).toBe(want);
  });
});

describe("rotationOf", () => {
  test("display matrix side data: -90 → 270, 90 → 90, 180 → 180, -180 → 180", () => {
    const side = (rotation: number) => ({ side_data_list: [{ side_data_type: "Display Matrix", displaymatrix: "\n00000000: 0 65536 0\n", rotation }] });
    expect(rotationOf(side(-90))).toBe(270);
    expect(rotationOf(side(90))).toBe(90);
    expect(rotationOf(side(180))).toBe(180);
    expect(rotationOf(side(-180))).toBe(180);
    expect(rotationOf(side(0))).toBe(0);
    expect(rotationOf(side(-270))).toBe(90);
  });

  test('legacy tags.rotate "90" → 90; side data wins over the tag', () => {
    expect(rotationOf({ tags: { rotate: "90" } })).toBe(90);
    expect(rotationOf({ tags: { rotate: "270" } })).toBe(270);
    expect(rotationOf({ tags: { rotate: "garbage" } })).toBe(0);
    expect(rotationOf({ tags: { rotate: "90" }, side_data_list: [{ side_data_type: "Display Matrix", rotation: -90 }] })).toBe(270);
    // Side data without a rotation (e.g. spherical or CPB properties) does not hide the tag.
    expect(rotationOf({ tags: { rotate: "180" }, side_data_list: [{ side_data_type: "CPB properties", max_bitrate: 0 }] })).toBe(180);
  });

  test("no rotation at all → 0; off-axis angles snap to the nearest quarter turn", () => {
    expect(rotationOf({})).toBe(0);
    expect(rotationOf({ side_data_list: [{ rotation: -89.99 }] })).toBe(270);
    expect(rotationOf({ side_data_list: [{ rotation: 450 }] })).toBe(90);
  });
});

describe("summarizeProbe", () => {
  test("a 29.97 fps H.264 + AAC MP4: frames from the packet count, duration = frames / fps, keyframes with frames", () => {
    const s = summarizeProbe({
      format: FORMAT,
      streams: [h264Stream(), aacStream()],
      packets: 300,
      keyframes: [0, 2.002, 4.004, 6.006, 8.008],
      keyframe_frames: [0, 60, 120, 180, 240],
    });
    expect(s).toEqual({
      duration_s: 300 / (30000 / 1001),
      size_bytes: 6338121,
      bit_rate: 5065431,
      format: "mov,mp4,m4a,3gp,3g2,mj2",
      video: { codec: "h264", width: 1920, height: 1080, fps: 30000 / 1001, frames: 300, rotation: 0, sar: 1, pix_fmt: "yuv420p", profile: "High", traits: { bit_depth: 8 } },
      audio: { codec: "aac", channels: 1, sample_rate: 44100, duration_s: 10.008 },
      audio_tracks: [{ index: 0, codec: "aac", channels: 1, sample_rate: 44100, duration_s: 10.008, start_s: 0, language: "und", title: null, default: true }],
      keyframes: [
        { pts: 0, frame: 0 },
        { pts: 2.002, frame: 60 },
        { pts: 4.004, frame: 120 },
        { pts: 6.006, frame: 180 },
        { pts: 8.008, frame: 240 },
      ],
    });
    expect(s.duration_s).toBeCloseTo(10.01, 9);
  });

  test("packets override nb_frames (which may be absent, e.g. in MKV/WebM)", () => {
    const s = summarizeProbe({ format: { ...FORMAT, format_name: "matroska,webm" }, streams: [h264Stream({ nb_frames: undefined, avg_frame_rate: "25/1", r_frame_rate: "25/1" })], packets: 250 });
    expect(s.video.frames).toBe(250);
    expect(s.duration_s).toBe(10);
    expect(s.audio).toBeNull();
    expect(s.keyframes).toEqual([]);
  });

  test("a cut-off MP4 whose index lists more frames than can be read is refused as truncated", () => {
    expect(() => summarizeProbe({ format: FORMAT, streams: [h264Stream({ nb_frames: "300" })], packets: 150 })).toThrow(
      new SourceProblem("the file is truncated: its index lists 300 video frames but only 150 can be read"),
    );
    expect(summarizeProbe({ format: FORMAT, streams: [h264Stream({ nb_frames: "300" })], packets: 300 }).video.frames).toBe(300);
  });

  test("without a packet count nb_frames is used", () => {
    const s = summarizeProbe({ format: FORMAT, streams: [h264Stream({ avg_frame_rate: "25/1" })] });
    expect(s.video.frames).toBe(300);
    expect(s.duration_s).toBe(12);
  });

  test("avg_frame_rate 0/0 falls back to r_frame_rate", () => {
    const s = summarizeProbe({ format: FORMAT, streams: [h264Stream({ avg_frame_rate: "0/0", r_frame_rate: "24/1", nb_frames: "240" })], packets: 240 });
    expect(s.video.fps).toBe(24);
    expect(s.duration_s).toBe(10);
  });

  test("keyframe frames default to round(pts · fps) when the index has none", () => {
    const s = summarizeProbe({ format: FORMAT, streams: [h264Stream({ avg_frame_rate: "25/1", nb_frames: "250" })], packets: 250, keyframes: [0, 2, 4.04] });
    expect(s.keyframes).toEqual([
      { pts: 0, frame: 0 },
      { pts: 2, frame: 50 },
      { pts: 4.04, frame: 101 },
    ]);
  });

  test("rotation from side_data_list -90 → 270 (and dimensions are kept as coded)", () => {
    const s = summarizeProbe({
      format: FORMAT,
      streams: [
        h264Stream({
          width: 1080,
          height: 1920,
          side_data_list: [{ side_data_type: "Display Matrix", displaymatrix: "\n00000000:            0       65536           0\n00000001:       -65536           0           0\n00000002:            0           0  1073741824\n", rotation: -90 }],
        }),
        aacStream(),
      ],
      packets: 300,
    });
    expect(s.video.rotation).toBe(270);
    expect([s.video.width, s.video.height]).toEqual([1080, 1920]);
  });

  test('rotation from tags.rotate "90" → 90', () => {
    const s = summarizeProbe({ format: FORMAT, streams: [h264Stream({ tags: { language: "und", rotate: "90" } }), aacStream()], packets: 300 });
    expect(s.video.rotation).toBe(90);
  });

  test('sample aspect ratio "64:45" (anamorphic PAL DVD) is parsed; "0:1" and absent → 1', () => {
    const pal = summarizeProbe({ format: FORMAT, streams: [h264Stream({ width: 720, height: 576, sample_aspect_ratio: "64:45", avg_frame_rate: "25/1", nb_frames: "250" })], packets: 250 });
    expect(pal.video.sar).toBe(64 / 45);
    const unknown = summarizeProbe({ format: FORMAT, streams: [h264Stream({ sample_aspect_ratio: "0:1" })], packets: 300 });
    expect(unknown.video.sar).toBe(1);
    const absent = summarizeProbe({ format: FORMAT, streams: [h264Stream({ sample_aspect_ratio: undefined })], packets: 300 });
    expect(absent.video.sar).toBe(1);
  });

  test("an attached picture (cover art) is not the video stream", () => {
    const cover = {
      index: 0,
      codec_name: "mjpeg",
      codec_type: "video",
      width: 600,
      height: 600,
      r_frame_rate: "90000/1",
      avg_frame_rate: "0/0",
      nb_frames: "1",
      disposition: { default: 0, attached_pic: 1, timed_thumbnails: 0 },
      tags: { comment: "Cover (front)" },
    };
    // Music file with cover art only: audio-only source.
    expect(() => summarizeProbe({ format: FORMAT, streams: [cover, aacStream({ index: 1 })], packets: 1 })).toThrow(SourceProblem);
    expect(() => summarizeProbe({ format: FORMAT, streams: [cover, aacStream({ index: 1 })], packets: 1 })).toThrow(
      "the source has audio but no video stream: audio-only sources are not transcoded",
    );
    // Cover first, real video second: the real video is chosen.
    const s = summarizeProbe({ format: FORMAT, streams: [cover, h264Stream({ index: 1 }), aacStream({ index: 2 })], packets: 300 });
    expect(s.video.codec).toBe("h264");
    expect(s.video.width).toBe(1920);
  });

  test("no video stream → SourceProblem", () => {
    expect(() => summarizeProbe({ format: FORMAT, streams: [aacStream()] })).toThrow(new SourceProblem("the source has audio but no video stream: audio-only sources are not transcoded (docs/media.md); submit a video, or add a still picture to the audio"));
    expect(() => summarizeProbe({ format: FORMAT, streams: [] })).toThrow(new SourceProblem("the source has no audio or video streams"));
    expect(() => summarizeProbe({})).toThrow(SourceProblem);
  });

  test("unusable streams → SourceProblem naming the problem", () => {
    expect(() => summarizeProbe({ format: FORMAT, streams: [h264Stream({ avg_frame_rate: "0/0", r_frame_rate: "0/0" })], packets: 10 })).toThrow("no usable frame rate");
    expect(() => summarizeProbe({ format: FORMAT, streams: [h264Stream({ nb_frames: undefined })], packets: 0 })).toThrow("has no frames");
    expect(() => summarizeProbe({ format: FORMAT, streams: [h264Stream({ width: 0 })], packets: 300 })).toThrow("has no dimensions");
    expect(() => summarizeProbe({ format: FORMAT, streams: [h264Stream()], packets: 120 })).toThrow(
      "the file is truncated: its index lists 300 video frames but only 120 can be read",
    );
  });

  test('format size/bit_rate "N/A" → null; audio without duration → null', () => {
    const s = summarizeProbe({ format: { format_name: "mpegts", size: "N/A", bit_rate: "N/A" }, streams: [h264Stream(), aacStream({ duration: undefined })], packets: 300 });
    expect(s.size_bytes).toBeNull();
    expect(s.bit_rate).toBeNull();
    expect(s.format).toBe("mpegts");
    expect(s.audio?.duration_s).toBeNull();
  });
});
