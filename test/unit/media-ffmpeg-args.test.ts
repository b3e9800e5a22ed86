import { describe, expect, test } from "bun:test";
import {
  audioArgs,
  concatList,
  concatMuxArgs,
  decimatedFrameCount,
  hlsArgs,
  seconds,
  seekPreroll,
  spriteArgs,
  spriteVtt,
  thumbnailArgs,
  videoChunkArgs,
  videoEncoderArgs,
} from "../../src/media/ffmpeg-args.ts";
import { BUILTIN_PROFILES, parseProfile, type ProfileSpec } from "../../src/media/profiles.ts";

const P = (id: string) => BUILTIN_PROFILES[id] as ProfileSpec;
const part = (i: number) => `/tmp/job/c3/r${i}.mp4`;

function custom(video: Record<string, unknown>, container: "mp4" | "webm" = "mp4"): ProfileSpec {
  return parseProfile({
    id: "c",
    name: "c",
    container,
    video: { encoder: "auto", hardware_fallback: "cpu", height: 720, rate_control: { mode: "crf", crf: 23 }, ...video },
    audio: null,
  });
}

describe("videoChunkArgs", () => {
  test("two libx264 renditions from one decode into MP4 parts", () => {
    expect(
      videoChunkArgs({
        input: "/src/in.mp4",
        start_pts: 40.04,
        frames: 480,
        fps: 24000 / 1001,
        renditions: [
          { width: 1280, height: 720, encoder: "libx264", profile: P("720p_h264") },
          { width: 640, height: 360, encoder: "libx264", profile: P("360p_h264") },
        ],
        output: part,
        part_format: "mp4",
      }),
    ).toEqual([
      ...["-seek_timestamp", "1", "-ss", "40.039", "-i", "/src/in.mp4"],
      "-filter_complex",
      "[0:v]setpts=PTS-STARTPTS,split=2[s0][s1];[s0]scale=1280:720,setsar=1[v0];[s1]scale=640:360,setsar=1[v1]",
      ...["-map", "[v0]", "-an", "-frames:v", "480", "-fps_mode", "passthrough"],
      ...["-c:v", "libx264", "-preset", "fast", "-b:v", "3000k", "-maxrate", "4500k", "-bufsize", "6000k"],
      ...["-x264-params", "scenecut=0:open_gop=0", "-forced-idr", "1", "-pix_fmt", "yuv420p"],
      ...["-force_key_frames", "expr:gte(t,n_forced*2)", "-g", "48"],
      ...["-map_metadata", "-1", "-map_chapters", "-1", "-movie_timescale", "1000000", "-f", "mp4", "/tmp/job/c3/r0.mp4"],
      ...["-map", "[v1]", "-an", "-frames:v", "480", "-fps_mode", "passthrough"],
      ...["-c:v", "libx264", "-preset", "fast", "-b:v", "800k", "-maxrate", "1200k", "-bufsize", "1600k"],
      ...["-x264-params", "scenecut=0:open_gop=0", "-forced-idr", "1", "-pix_fmt", "yuv420p"],
      ...["-force_key_frames", "expr:gte(t,n_forced*2)", "-g", "48"],
      ...["-map_metadata", "-1", "-map_chapters", "-1", "-movie_timescale", "1000000", "-f", "mp4", "/tmp/job/c3/r1.mp4"],
    ]);
  });

  test("one rendition (no split), MPEG-TS part, first chunk at pts 0, CRF", () => {
    expect(
      videoChunkArgs({
        input: "https://example.com/a b.mov",
        start_pts: 0,
        frames: 300,
        fps: 30,
        renditions: [{ width: 640, height: 360, encoder: "libx264", profile: custom({ codec: "h264", height: 360, keyframe_interval_s: 1 }) }],
        output: () => "/tmp/p.ts",
        part_format: "mpegts",
      }),
    ).toEqual([
      ...["-seek_timestamp", "1", "-ss", "-0.001", "-i", "https://example.com/a b.mov"],
      ...["-filter_complex", "[0:v]setpts=PTS-STARTPTS,scale=640:360,setsar=1[v0]"],
      ...["-map", "[v0]", "-an", "-frames:v", "300", "-fps_mode", "passthrough"],
      ...["-c:v", "libx264", "-preset", "medium", "-crf", "23", "-x264-params", "scenecut=0:open_gop=0", "-forced-idr", "1", "-pix_fmt", "yuv420p"],
      ...["-force_key_frames", "expr:gte(t,n_forced*1)", "-g", "30"],
      ...["-map_metadata", "-1", "-map_chapters", "-1", "-f", "mpegts", "/tmp/p.ts"],
    ]);
  });

  test("HEVC parts carry the hvc1 tag; VP9 gets keyint_min = g", () => {
    const hevc = videoChunkArgs({
      input: "in",
      start_pts: 10,
      frames: 100,
      fps: 25,
      renditions: [{ width: 3840, height: 2160, encoder: "libx265", profile: P("4k_hevc") }],
      output: () => "out",
      part_format: "mp4",
    });
    expect(hevc.slice(hevc.indexOf("-c:v"))).toEqual([
      ...["-c:v", "libx265", "-preset", "fast", "-b:v", "16000k", "-maxrate", "24000k", "-bufsize", "32000k"],
      ...["-x265-params", "scenecut=0:open-gop=0:log-level=warning", "-forced-idr", "1", "-pix_fmt", "yuv420p"],
      ...["-force_key_frames", "expr:gte(t,n_forced*2)", "-g", "50", "-tag:v", "hvc1"],
      ...["-map_metadata", "-1", "-map_chapters", "-1", "-movie_timescale", "1000000", "-f", "mp4", "out"],
    ]);
    const vp9 = videoChunkArgs({
      input: "in",
      start_pts: 10,
      frames: 100,
      fps: 30000 / 1001,
      renditions: [{ width: 1920, height: 1080, encoder: "libvpx-vp9", profile: P("1080p_vp9") }],
      output: () => "out",
      part_format: "mp4",
    });
    expect(vp9.slice(vp9.indexOf("-c:v"))).toEqual([
      ...["-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "4", "-row-mt", "1", "-crf", "31", "-b:v", "0", "-pix_fmt", "yuv420p"],
      ...["-force_key_frames", "expr:gte(t,n_forced*2)", "-g", "60", "-keyint_min", "60"],
      ...["-map_metadata", "-1", "-map_chapters", "-1", "-movie_timescale", "1000000", "-f", "mp4", "out"],
    ]);
  });

  test("QSV and VAAPI: a device for the filter graph and an upload per branch", () => {
    const profile = custom({ codec: "h264", encoder: "vaapi", rate_control: { mode: "crf", crf: 24 } });
    expect(
      videoChunkArgs({
        input: "in",
        start_pts: 2,
        frames: 60,
        fps: 30,
        renditions: [{ width: 1280, height: 720, encoder: "h264_vaapi", profile }],
        output: () => "out",
        part_format: "mpegts",
        vaapi_device: "/dev/dri/renderD129",
      }),
    ).toEqual([
      ...["-init_hw_device", "vaapi=va:/dev/dri/renderD129", "-filter_hw_device", "va"],
      ...["-seek_timestamp", "1", "-ss", "1.999", "-i", "in"],
      ...["-filter_complex", "[0:v]setpts=PTS-STARTPTS,scale=1280:720,setsar=1,format=nv12,hwupload[v0]"],
      ...["-map", "[v0]", "-an", "-frames:v", "60", "-fps_mode", "passthrough"],
      ...["-c:v", "h264_vaapi", "-rc_mode", "CQP", "-qp", "24"],
      ...["-force_key_frames", "expr:gte(t,n_forced*2)", "-g", "60"],
      ...["-map_metadata", "-1", "-map_chapters", "-1", "-f", "mpegts", "out"],
    ]);
    const qsv = videoChunkArgs({
      input: "in",
      start_pts: 2,
      frames: 60,
      fps: 30,
      renditions: [{ width: 1280, height: 720, encoder: "hevc_qsv", profile: custom({ codec: "hevc", encoder: "qsv" }) }],
      output: () => "out",
      part_format: "mp4",
    });
    expect(qsv.slice(0, 4)).toEqual(["-init_hw_device", "qsv=qs", "-filter_hw_device", "qs"]);
    expect(qsv[qsv.indexOf("-filter_complex") + 1]).toBe("[0:v]setpts=PTS-STARTPTS,scale=1280:720,setsar=1,format=nv12,hwupload=extra_hw_frames=64[v0]");
  });

  test("max_fps decimation keeps the global frame grid", () => {
    const profile = custom({ codec: "h264", max_fps: 30 });
    const args = videoChunkArgs({
      input: "in",
      start_pts: 20.0167,
      start_frame: 1201,
      frames: 600,
      fps: 60,
      renditions: [
        { width: 1280, height: 720, encoder: "libx264", profile: P("720p_h264") },
        { width: 1280, height: 720, encoder: "libx264", profile, frame_step: 2 },
      ],
      output: (i) => `o${i}`,
      part_format: "mp4",
    });
    expect(args[args.indexOf("-filter_complex") + 1]).toBe(
      "[0:v]setpts=PTS-STARTPTS,split=2[s0][s1];[s0]scale=1280:720,setsar=1[v0];[s1]select=not(mod(n+1\\,2)),scale=1280:720,setsar=1[v1]",
    );
    // Frames 1201..1800: the even ones, 1202..1800, are 300; -g follows the output rate.
    const outputs = args.flatMap((a, i) => (a === "-frames:v" || a === "-g" ? [a, args[i + 1]] : []));
    expect(outputs).toEqual(["-frames:v", "600", "-g", "120", "-frames:v", "300", "-g", "60"]);
  });

  test("refuses what FFmpeg 5.1 cannot do", () => {
    const base = { input: "in", start_pts: 0, frames: 10, fps: 30, output: () => "o", part_format: "mp4" as const };
    expect(() => videoChunkArgs({ ...base, renditions: [] })).toThrow("videoChunkArgs: no renditions");
    expect(() =>
      videoChunkArgs({ ...base, part_format: "mpegts", renditions: [{ width: 2, height: 2, encoder: "libsvtav1", profile: P("1080p_av1") }] }),
    ).toThrow("videoChunkArgs: av1 parts cannot be written as MPEG-TS (FFmpeg 5.1); use mp4");
    const h264 = P("720p_h264");
    expect(() =>
      videoChunkArgs({
        ...base,
        renditions: [
          { width: 2, height: 2, encoder: "h264_qsv", profile: h264 },
          { width: 2, height: 2, encoder: "h264_vaapi", profile: h264 },
        ],
      }),
    ).toThrow("videoChunkArgs: cannot mix qsv and vaapi encoders in one process");
    expect(() => videoChunkArgs({ ...base, frames: 0, renditions: [{ width: 2, height: 2, encoder: "libx264", profile: h264 }] })).toThrow(
      "videoChunkArgs: frames must be a positive integer (got 0)",
    );
    expect(() => videoEncoderArgs("mpeg4", h264)).toThrow("no argument builder for encoder mpeg4");
  });
});

describe("videoEncoderArgs", () => {
  test("SVT-AV1", () => {
    expect(videoEncoderArgs("libsvtav1", P("1080p_av1"))).toEqual([
      ...["-c:v", "libsvtav1", "-preset", "8", "-crf", "32", "-svtav1-params", "scd=0", "-pix_fmt", "yuv420p"],
    ]);
  });

  test("NVENC: constant quality and capped bitrate", () => {
    expect(videoEncoderArgs("hevc_nvenc", custom({ codec: "hevc", encoder: "nvenc", rate_control: { mode: "crf", crf: 28 } }))).toEqual([
      ...["-c:v", "hevc_nvenc", "-preset", "p4", "-tune", "hq", "-rc", "vbr", "-cq", "28", "-b:v", "0"],
      ...["-no-scenecut", "1", "-forced-idr", "1", "-pix_fmt", "yuv420p"],
    ]);
    expect(videoEncoderArgs("h264_nvenc", P("1080p_h264"))).toEqual([
      ...["-c:v", "h264_nvenc", "-preset", "p4", "-tune", "hq", "-rc", "vbr", "-b:v", "5000k", "-maxrate", "7500k", "-bufsize", "10000k"],
      ...["-no-scenecut", "1", "-forced-idr", "1", "-pix_fmt", "yuv420p"],
    ]);
  });

  test("QSV and VAAPI rate control", () => {
    expect(videoEncoderArgs("h264_qsv", custom({ codec: "h264", encoder: "qsv", rate_control: { mode: "crf", crf: 22.6 } }))).toEqual([
      ...["-c:v", "h264_qsv", "-preset", "medium", "-global_quality", "23", "-forced_idr", "1", "-adaptive_i", "0"],
    ]);
    expect(videoEncoderArgs("hevc_vaapi", custom({ codec: "hevc", encoder: "vaapi", rate_control: { mode: "bitrate", bitrate_kbps: 4000 } }))).toEqual([
      ...["-c:v", "hevc_vaapi", "-rc_mode", "VBR", "-b:v", "4000k"],
    ]);
  });
});

describe("small helpers", () => {
  test("seconds() never uses exponents and keeps µs", () => {
    expect([0, -0.0000001, 1e-7, 4.170833333, 2.085417, 0.1 + 0.2, 12345.6789999, -0.001].map(seconds)).toEqual([
      "0",
      "0",
      "0",
      "4.170833",
      "2.085417",
      "0.3",
      "12345.679",
      "-0.001",
    ]);
  });

  test("seekPreroll() is 1 ms, or a quarter frame above 250 fps", () => {
    expect([seekPreroll(24000 / 1001), seekPreroll(250), seekPreroll(1000)]).toEqual([0.001, 0.001, 0.00025]);
  });

  test("decimatedFrameCount()", () => {
    expect([
      decimatedFrameCount(0, 600, 1),
      decimatedFrameCount(0, 600, 2),
      decimatedFrameCount(1201, 600, 2),
      decimatedFrameCount(1200, 599, 2),
      decimatedFrameCount(1, 1, 2),
      decimatedFrameCount(3, 7, 4),
    ]).toEqual([600, 300, 300, 300, 0, 2]);
  });
});

describe("audioArgs", () => {
  test("AAC for the whole file, on the video's clock (0 = the first video frame)", () => {
    expect(audioArgs({ input: "/src/in.ts", audio: P("720p_h264").audio as NonNullable<ProfileSpec["audio"]>, output: "/tmp/a.m4a", start_s: 1.4 })).toEqual([
      ...["-copyts", "-i", "/src/in.ts", "-vn", "-sn", "-dn", "-map", "0:a:0", "-af", "asetpts=PTS-1.4/TB,aresample=async=1:first_pts=0"],
      ...["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"],
      ...["-map_metadata", "-1", "-map_chapters", "-1", "-f", "mp4", "/tmp/a.m4a"],
    ]);
  });

  test("Opus always at 48 kHz, into WebM; AAC without a fixed rate keeps the source's", () => {
    expect(audioArgs({ input: "in", audio: { codec: "opus", bitrate_kbps: 96, channels: 1 }, output: "a.webm" })).toEqual([
      ...["-i", "in", "-vn", "-sn", "-dn", "-map", "0:a:0", "-c:a", "libopus", "-b:a", "96k", "-ac", "1", "-ar", "48000"],
      ...["-map_metadata", "-1", "-map_chapters", "-1", "-f", "webm", "a.webm"],
    ]);
    expect(audioArgs({ input: "in", audio: { codec: "aac", bitrate_kbps: 64, channels: 2 }, output: "a.m4a" })).toEqual([
      ...["-i", "in", "-vn", "-sn", "-dn", "-map", "0:a:0", "-c:a", "aac", "-b:a", "64k", "-ac", "2"],
      ...["-map_metadata", "-1", "-map_chapters", "-1", "-f", "mp4", "a.m4a"],
    ]);
  });
});

describe("concat and mux", () => {
  test("concatList quotes single quotes and refuses line breaks", () => {
    expect(concatList(["/tmp/job/p0.mp4", "/tmp/it's/p1.mp4", "rel ative.mp4"])).toBe(
      "ffconcat version 1.0\nfile '/tmp/job/p0.mp4'\nfile '/tmp/it'\\''s/p1.mp4'\nfile 'rel ative.mp4'\n",
    );
    expect(() => concatList(["a\nb"])).toThrow('concatList: a path with a line break cannot be listed: "a\\nb"');
    expect(() => concatList([])).toThrow("concatList: no parts");
  });

  test("MP4 with audio, HEVC tagged hvc1, faststart", () => {
    expect(concatMuxArgs({ concat_list: "/t/list.txt", audio: "/t/a.m4a", output: "/t/out.mp4", container: "mp4", faststart: true, video_codec: "hevc" })).toEqual([
      ...["-f", "concat", "-safe", "0", "-i", "/t/list.txt", "-i", "/t/a.m4a", "-map", "0:v:0", "-map", "1:a:0", "-c", "copy"],
      ...["-tag:v", "hvc1", "-movflags", "+faststart", "-f", "mp4", "/t/out.mp4"],
    ]);
  });

  test("WebM without audio: no MP4 flags", () => {
    expect(concatMuxArgs({ concat_list: "l", output: "o.webm", container: "webm", faststart: true, video_codec: "vp9" })).toEqual([
      ...["-f", "concat", "-safe", "0", "-i", "l", "-map", "0:v:0", "-c", "copy", "-f", "webm", "o.webm"],
    ]);
  });

  test("hlsArgs: MPEG-TS and fMP4 segments", () => {
    expect(hlsArgs({ input: "o.mp4", out_dir_playlist: "/h/720p/index.m3u8", segment_pattern: "/h/720p/seg_%05d.ts", segment_seconds: 6, segment_type: "mpegts" })).toEqual([
      ...["-i", "o.mp4", "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-f", "hls"],
      ...["-hls_time", "6", "-hls_playlist_type", "vod", "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts"],
      ...["-hls_segment_filename", "/h/720p/seg_%05d.ts", "/h/720p/index.m3u8"],
    ]);
    expect(hlsArgs({ input: "o.mp4", out_dir_playlist: "p.m3u8", segment_pattern: "s%d.m4s", segment_seconds: 4, segment_type: "fmp4", init_filename: "i.mp4" })).toEqual([
      ...["-i", "o.mp4", "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy", "-f", "hls"],
      ...["-hls_time", "4", "-hls_playlist_type", "vod", "-hls_flags", "independent_segments", "-hls_segment_type", "fmp4"],
      ...["-hls_fmp4_init_filename", "i.mp4", "-hls_segment_filename", "s%d.m4s", "p.m3u8"],
    ]);
  });
});

describe("thumbnails", () => {
  test("poster", () => {
    expect(thumbnailArgs({ input: "o.mp4", at_s: 12.5, width: 640, output: "poster.jpg" })).toEqual([
      ...["-ss", "12.5", "-i", "o.mp4", "-map", "0:v:0", "-frames:v", "1", "-vf", "scale=640:-2"],
      ...["-c:v", "mjpeg", "-q:v", "2", "-f", "image2", "-update", "1", "poster.jpg"],
    ]);
  });

  test("sprite sheet", () => {
    expect(spriteArgs({ input: "o.mp4", interval_s: 10, columns: 10, rows: 5, tile_width: 160, tile_height: 90, output: "sprite.jpg" })).toEqual([
      ...["-i", "o.mp4", "-map", "0:v:0", "-vf", "fps=1/10,scale=160:90,setsar=1,tile=10x5"],
      ...["-frames:v", "1", "-c:v", "mjpeg", "-q:v", "3", "-f", "image2", "-update", "1", "sprite.jpg"],
    ]);
  });

  test("spriteVtt: one cue per tile, the last one ends at the duration", () => {
    expect(spriteVtt({ interval_s: 10, count: 4, columns: 3, tile_width: 160, tile_height: 90, sprite_url: "sprite.jpg", duration_s: 3725.5 - 3690 })).toBe(
      [
        "WEBVTT",
        "",
        "00:00:00.000 --> 00:00:10.000",
        "sprite.jpg#xywh=0,0,160,90",
        "",
        "00:00:10.000 --> 00:00:20.000",
        "sprite.jpg#xywh=160,0,160,90",
        "",
        "00:00:20.000 --> 00:00:30.000",
        "sprite.jpg#xywh=320,0,160,90",
        "",
        "00:00:30.000 --> 00:00:35.500",
        "sprite.jpg#xywh=0,90,160,90",
        "",
      ].join("\n"),
    );
    expect(spriteVtt({ interval_s: 3600, count: 3, columns: 3, tile_width: 1, tile_height: 1, sprite_url: "s.jpg", duration_s: 3600 * 1.5 + 0.0004 })).toBe(
      "WEBVTT\n\n00:00:00.000 --> 01:00:00.000\ns.jpg#xywh=0,0,1,1\n\n01:00:00.000 --> 01:30:00.000\ns.jpg#xywh=1,0,1,1\n",
    );
  });
});
