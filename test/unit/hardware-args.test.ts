/**
 * The hardware module's argument fragments as whole argv: every codec × accelerator × rate control (the
 * encoder options), and whole chunk commands for each accelerator with hardware decode and GPU scaling of
 * every rung of a ladder from one decode, and with CPU decode + upload for sources the GPU cannot decode.
 */
import { describe, expect, test } from "bun:test";
import { videoChunkArgs, videoEncoderArgs } from "../../src/media/ffmpeg-args.ts";
import { accelerator, canDecodeOnDevice, encoderPool, poolEncoder, testEncodeArgv } from "../../src/media/hardware/index.ts";
import { parseProfile, type ProfileSpec } from "../../src/media/profiles.ts";

type Rc = ProfileSpec["video"]["rate_control"];
const RATE_CONTROLS: Record<string, Rc> = {
  crf: { mode: "crf", crf: 24 },
  bitrate: { mode: "bitrate", bitrate_kbps: 3000 },
  capped: { mode: "bitrate", bitrate_kbps: 3000, maxrate_kbps: 4500, bufsize_kbps: 6000 },
};

function profile(codec: string, encoder: string, rc: Rc, height = 720, id = `p${height}`): ProfileSpec {
  return parseProfile({ id, name: id, container: codec === "vp9" ? "webm" : "mp4", video: { codec, encoder, hardware_fallback: "cpu", height, rate_control: rc, keyframe_interval_s: 2 }, audio: null });
}

// The expected encoder options, written out per accelerator, codec and rate control.
const RC_TAIL: Record<string, string[]> = { crf: [], bitrate: ["-b:v", "3000k"], capped: ["-b:v", "3000k", "-maxrate", "4500k", "-bufsize", "6000k"] };
const NVENC_RC: Record<string, string[]> = { crf: ["-cq", "24", "-b:v", "0"], bitrate: RC_TAIL.bitrate!, capped: RC_TAIL.capped! };
const QSV_RC: Record<string, string[]> = { crf: ["-global_quality", "24"], bitrate: RC_TAIL.bitrate!, capped: RC_TAIL.capped! };
const VAAPI_RC: Record<string, string[]> = { crf: ["-rc_mode", "CQP", "-qp", "24"], bitrate: ["-rc_mode", "VBR", ...RC_TAIL.bitrate!], capped: ["-rc_mode", "VBR", ...RC_TAIL.capped!] };
const SW_RC = (rc: string, crfArgs: string[]) => (rc === "crf" ? crfArgs : RC_TAIL[rc]!);

const EXPECTED: Record<string, (rc: string) => string[]> = {
  "nvenc/h264": (rc) => ["-c:v", "h264_nvenc", "-preset", "p4", "-tune", "hq", "-rc", "vbr", ...NVENC_RC[rc]!, "-no-scenecut", "1", "-forced-idr", "1", "-pix_fmt", "yuv420p"],
  "nvenc/hevc": (rc) => ["-c:v", "hevc_nvenc", "-preset", "p4", "-tune", "hq", "-rc", "vbr", ...NVENC_RC[rc]!, "-no-scenecut", "1", "-forced-idr", "1", "-pix_fmt", "yuv420p"],
  "qsv/h264": (rc) => ["-c:v", "h264_qsv", "-preset", "medium", ...QSV_RC[rc]!, "-forced_idr", "1", "-adaptive_i", "0"],
  "qsv/hevc": (rc) => ["-c:v", "hevc_qsv", "-preset", "medium", ...QSV_RC[rc]!, "-forced_idr", "1", "-adaptive_i", "0"],
  "vaapi/h264": (rc) => ["-c:v", "h264_vaapi", ...VAAPI_RC[rc]!],
  "vaapi/hevc": (rc) => ["-c:v", "hevc_vaapi", ...VAAPI_RC[rc]!],
  "cpu/h264": (rc) => ["-c:v", "libx264", "-preset", "medium", ...SW_RC(rc, ["-crf", "24"]), "-x264-params", "scenecut=0:open_gop=0", "-forced-idr", "1", "-pix_fmt", "yuv420p"],
  "cpu/hevc": (rc) => ["-c:v", "libx265", "-preset", "medium", ...SW_RC(rc, ["-crf", "24"]), "-x265-params", "scenecut=0:open-gop=0:log-level=warning", "-forced-idr", "1", "-pix_fmt", "yuv420p"],
  "cpu/vp9": (rc) => ["-c:v", "libvpx-vp9", "-deadline", "good", "-cpu-used", "4", "-row-mt", "1", ...SW_RC(rc, ["-crf", "24", "-b:v", "0"]), "-pix_fmt", "yuv420p"],
  "cpu/av1": (rc) => ["-c:v", "libsvtav1", "-preset", "8", ...SW_RC(rc, ["-crf", "24"]), "-svtav1-params", "scd=0", "-pix_fmt", "yuv420p"],
};

describe("encoder options: every codec × accelerator × rate control", () => {
  for (const [key, expected] of Object.entries(EXPECTED)) {
    const [accel, codec] = key.split("/") as ["nvenc" | "qsv" | "vaapi" | "cpu", string];
    for (const [rcName, rc] of Object.entries(RATE_CONTROLS)) {
      test(`${accel} ${codec} ${rcName}`, () => {
        const encoder = accelerator(accel).encoders[codec as "h264"]!;
        const p = profile(codec, accel === "cpu" ? "software" : accel, rc);
        expect(videoEncoderArgs(encoder, p)).toEqual(expected(rcName));
        expect(encoderPool(encoder)).toBe(accel === "cpu" ? "cpu" : `${accel}:${codec}`);
      });
    }
  }

  test("NVENC on a chosen GPU names it; device frames get no -pix_fmt conversion", () => {
    const p = profile("h264", "nvenc", RATE_CONTROLS.crf!);
    expect(videoEncoderArgs("h264_nvenc", p, { index: 1 }, true)).toEqual(["-c:v", "h264_nvenc", "-gpu", "1", "-preset", "p4", "-tune", "hq", "-rc", "vbr", "-cq", "24", "-b:v", "0", "-no-scenecut", "1", "-forced-idr", "1"]);
  });

  test("pools name the proven encoder", () => {
    expect([poolEncoder("nvenc:hevc"), poolEncoder("qsv:h264"), poolEncoder("cpu"), poolEncoder("nvidia")]).toEqual([
      { accelerator: "nvenc", encoder: "hevc_nvenc" },
      { accelerator: "qsv", encoder: "h264_qsv" },
      undefined,
      undefined,
    ]);
  });
});

const ladder = (codec: string, encoder: string, accel: string) => [
  { width: 1280, height: 720, encoder, profile: profile(codec, accel, RATE_CONTROLS.capped!, 720, "r720") },
  { width: 640, height: 360, encoder, profile: profile(codec, accel, RATE_CONTROLS.crf!, 360, "r360"), frame_step: 2 },
];
const chunk = { input: "/src/in.mp4", start_pts: 0, frames: 50, fps: 25, output: (i: number) => `/w/r${i}.mp4`, part_format: "mp4" as const };
const seek = ["-seek_timestamp", "1", "-ss", "-0.001", "-i", "/src/in.mp4"];
const tail = (i: number, frames: number, g: string) => ["-force_key_frames", "expr:gte(t,n_forced*2)", "-g", g, "-map_metadata", "-1", "-map_chapters", "-1", "-movie_timescale", "1000000", "-f", "mp4", `/w/r${i}.mp4`];
const out = (i: number, frames: number) => ["-map", `[v${i}]`, "-an", "-frames:v", String(frames), "-fps_mode", "passthrough"];
const SELECT = "select=not(mod(n+0\\,2))";

describe("chunk commands: hardware decode and GPU scaling for every rung from one decode", () => {
  test("NVENC: NVDEC into CUDA frames on GPU 1, split, scale_cuda per rung", () => {
    for (const codec of ["h264", "hevc"]) {
      const encoder = `${codec}_nvenc`;
      const argv = videoChunkArgs({ ...chunk, renditions: ladder(codec, encoder, "nvenc"), hardware: { device: { index: 1 }, decode: true } });
      const enc = (rc: string[]) => ["-c:v", encoder, "-gpu", "1", "-preset", "p4", "-tune", "hq", "-rc", "vbr", ...rc, "-no-scenecut", "1", "-forced-idr", "1"];
      expect(argv).toEqual([
        ...["-hwaccel", "cuda", "-hwaccel_output_format", "cuda", "-hwaccel_device", "1"],
        ...seek,
        "-filter_complex",
        `[0:v]setpts=PTS-STARTPTS,split=2[s0][s1];[s0]scale_cuda=1280:720,setsar=1[v0];[s1]${SELECT},scale_cuda=640:360,setsar=1[v1]`,
        ...out(0, 50), ...enc(NVENC_RC.capped!), ...tail(0, 50, "50"),
        ...out(1, 25), ...enc(NVENC_RC.crf!), ...tail(1, 25, "25"),
      ].flatMap((x) => (codec === "hevc" && x === "-map_metadata" ? ["-tag:v", "hvc1", x] : [x])));
    }
  });

  test("QSV: QSV decode on the derived device of a render node, scale_qsv per rung", () => {
    const argv = videoChunkArgs({ ...chunk, renditions: ladder("h264", "h264_qsv", "qsv"), hardware: { device: { path: "/dev/dri/renderD129" }, decode: true } });
    const enc = (rc: string[]) => ["-c:v", "h264_qsv", "-preset", "medium", ...rc, "-forced_idr", "1", "-adaptive_i", "0"];
    expect(argv).toEqual([
      ...["-init_hw_device", "vaapi=va:/dev/dri/renderD129", "-init_hw_device", "qsv=qs@va", "-hwaccel_device", "qs", "-filter_hw_device", "qs"],
      ...["-hwaccel", "qsv", "-hwaccel_output_format", "qsv"],
      ...seek,
      "-filter_complex",
      `[0:v]setpts=PTS-STARTPTS,split=2[s0][s1];[s0]scale_qsv=w=1280:h=720,setsar=1[v0];[s1]${SELECT},scale_qsv=w=640:h=360,setsar=1[v1]`,
      ...out(0, 50), ...enc(QSV_RC.capped!), ...tail(0, 50, "50"),
      ...out(1, 25), ...enc(QSV_RC.crf!), ...tail(1, 25, "25"),
    ]);
  });

  test("VAAPI: VAAPI decode on the default render node, scale_vaapi per rung", () => {
    const argv = videoChunkArgs({ ...chunk, renditions: ladder("hevc", "hevc_vaapi", "vaapi"), hardware: { decode: true } });
    expect(argv).toEqual([
      ...["-init_hw_device", "vaapi=va:/dev/dri/renderD128", "-hwaccel_device", "va", "-filter_hw_device", "va"],
      ...["-hwaccel", "vaapi", "-hwaccel_output_format", "vaapi"],
      ...seek,
      "-filter_complex",
      `[0:v]setpts=PTS-STARTPTS,split=2[s0][s1];[s0]scale_vaapi=w=1280:h=720:format=nv12,setsar=1[v0];[s1]${SELECT},scale_vaapi=w=640:h=360:format=nv12,setsar=1[v1]`,
      ...out(0, 50), "-c:v", "hevc_vaapi", ...VAAPI_RC.capped!, ...tail(0, 50, "50").slice(0, 4), "-tag:v", "hvc1", ...tail(0, 50, "50").slice(4),
      ...out(1, 25), "-c:v", "hevc_vaapi", ...VAAPI_RC.crf!, ...tail(1, 25, "25").slice(0, 4), "-tag:v", "hvc1", ...tail(1, 25, "25").slice(4),
    ]);
  });

  test("CPU decode + upload for what the GPU cannot decode (QSV), and NVENC taking system frames", () => {
    const qsv = videoChunkArgs({ ...chunk, renditions: ladder("h264", "h264_qsv", "qsv").slice(0, 1), hardware: { decode: false } });
    expect(qsv).toEqual([
      ...["-init_hw_device", "qsv=qs", "-filter_hw_device", "qs"],
      ...seek,
      "-filter_complex",
      "[0:v]setpts=PTS-STARTPTS,scale=1280:720,setsar=1,format=nv12,hwupload=extra_hw_frames=64[v0]",
      ...out(0, 50), "-c:v", "h264_qsv", "-preset", "medium", ...QSV_RC.capped!, "-forced_idr", "1", "-adaptive_i", "0", ...tail(0, 50, "50"),
    ]);
    const nv = videoChunkArgs({ ...chunk, renditions: ladder("h264", "h264_nvenc", "nvenc").slice(0, 1), hardware: { device: { index: 0 } } });
    expect(nv).toEqual([
      ...seek,
      "-filter_complex",
      "[0:v]setpts=PTS-STARTPTS,scale=1280:720,setsar=1[v0]",
      ...out(0, 50), "-c:v", "h264_nvenc", "-gpu", "0", "-preset", "p4", "-tune", "hq", "-rc", "vbr", ...NVENC_RC.capped!, "-no-scenecut", "1", "-forced-idr", "1", "-pix_fmt", "yuv420p", ...tail(0, 50, "50"),
    ]);
  });

  test("a CPU filter on the picture (deinterlace) keeps decoding on the CPU", () => {
    const argv = videoChunkArgs({ ...chunk, renditions: ladder("h264", "h264_nvenc", "nvenc").slice(0, 1), hardware: { decode: true }, traits: { field_order: "tt" } });
    expect(argv).not.toContain("-hwaccel");
    expect(argv.join(" ")).toContain("scale=1280:720");
  });

  test("the planner's decision: 8-bit 4:2:0 of a known codec decodes on the GPU; 10-bit 4:2:2 and odd codecs do not", () => {
    for (const id of ["nvenc", "qsv", "vaapi"] as const) {
      const a = accelerator(id);
      expect([
        canDecodeOnDevice(a, { codec: "h264", pix_fmt: "yuv420p" }),
        canDecodeOnDevice(a, { codec: "hevc", pix_fmt: "yuvj420p" }),
        canDecodeOnDevice(a, { codec: "h264", pix_fmt: "yuv422p10le" }),
        canDecodeOnDevice(a, { codec: "prores", pix_fmt: "yuv420p" }),
        canDecodeOnDevice(a, { codec: "h264", pix_fmt: null }),
      ]).toEqual([true, true, false, false, false]);
    }
    expect(canDecodeOnDevice(accelerator("cpu"), { codec: "h264", pix_fmt: "yuv420p" })).toBe(false);
  });

  test("mixing two hardware accelerators in one run is refused", () => {
    expect(() => videoChunkArgs({ ...chunk, renditions: [...ladder("h264", "h264_nvenc", "nvenc").slice(0, 1), ...ladder("h264", "h264_vaapi", "vaapi").slice(0, 1)] })).toThrow(
      "videoChunkArgs: cannot mix nvenc and vaapi encoders in one process",
    );
  });
});

describe("test encode: the pipeline's own fragments", () => {
  test("NVENC on GPU 1", () => {
    expect(testEncodeArgv("hevc_nvenc", accelerator("nvenc"), { index: 1 })).toEqual([
      ...["-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=black:s=256x256:r=25:d=0.04", "-frames:v", "1"],
      ...["-vf", "scale=256:256,setsar=1", "-c:v", "hevc_nvenc", "-gpu", "1", "-preset", "p4", "-tune", "hq", "-rc", "vbr", "-cq", "30", "-b:v", "0"],
      ...["-no-scenecut", "1", "-forced-idr", "1", "-pix_fmt", "yuv420p", "-f", "null", "-"],
    ]);
  });
});
