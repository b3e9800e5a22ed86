/**
 * Parsers of FFmpeg's self-description, on output captured from the Debian 12 build (ffmpeg 5.1.9) this
 * project targets. Listings are trimmed to a representative excerpt but keep their real header lines.
 */
import { describe, expect, test } from "bun:test";
import {
  HW_ENCODER_CANDIDATES,
  parseCodecList,
  parseFfmpegVersion,
  parseHwaccels,
  poolsFrom,
  testEncodeArgs,
  testFailureReason,
} from "../../src/media/ffmpeg-info.ts";

// `ffmpeg -hide_banner -encoders` / `-decoders` / `-hwaccels` / `-version` (excerpts).
const ENCODERS = `\
Encoders:
 V..... = Video
 A..... = Audio
 S..... = Subtitle
 .F.... = Frame-level multithreading
 ..S... = Slice-level multithreading
 ...X.. = Codec is experimental
 ....B. = Supports draw_horiz_band
 .....D = Supports direct rendering method 1
 ------
 V..... libsvtav1            SVT-AV1(Scalable Video Technology for AV1) encoder (codec av1)
 V.S... ffv1                 FFmpeg video codec #1
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D libx264rgb           libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 RGB (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 V....D h264_vaapi           H.264/AVC (VAAPI) (codec h264)
 V....D libx265              libx265 H.265 / HEVC (codec hevc)
 V....D hevc_nvenc           NVIDIA NVENC hevc encoder (codec hevc)
 V..... hevc_qsv             HEVC (Intel Quick Sync Video acceleration) (codec hevc)
 VFS... prores_ks            Apple ProRes (iCodec Pro) (codec prores)
 V....D libvpx-vp9           libvpx VP9 (codec vp9)
 A..... aac                  AAC (Advanced Audio Coding)
 A..... libopus              libopus Opus (codec opus)
 A..X.. vorbis               Vorbis
 S..... webvtt               WebVTT subtitle
`;

const DECODERS = `\
Decoders:
 V..... = Video
 A..... = Audio
 S..... = Subtitle
 .F.... = Frame-level multithreading
 ..S... = Slice-level multithreading
 ...X.. = Codec is experimental
 ....B. = Supports draw_horiz_band
 .....D = Supports direct rendering method 1
 ------
 V..... libdav1d             dav1d AV1 decoder by VideoLAN (codec av1)
 VFS..D h264                 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10
 V..... h264_cuvid           Nvidia CUVID H264 decoder (codec h264)
 VFS..D hevc                 HEVC (High Efficiency Video Coding)
 V...BD svq3                 Sorenson Vector Quantizer 3 / Sorenson Video 3 / SVQ3
 VFS..D vp9                  Google VP9
 A....D aac                  AAC (Advanced Audio Coding)
 A.S..D dsd_lsbf             DSD (Direct Stream Digital), least significant bit first
 A....D opus                 Opus
 A..X.D sonic                Sonic
 S..... webvtt               WebVTT subtitle
`;

const HWACCELS = `\
Hardware acceleration methods:
vdpau
cuda
vaapi
qsv
drm
opencl
vulkan

`;

const VERSION = `\
ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers
built with gcc 12 (Debian 12.2.0-14+deb12u1)
libavutil      57. 28.100 / 57. 28.100
libavcodec     59. 37.100 / 59. 37.100
`;
const FFPROBE_VERSION = `\
ffprobe version 5.1.9-0+deb12u1 Copyright (c) 2007-2026 the FFmpeg developers
built with gcc 12 (Debian 12.2.0-14+deb12u1)
`;

// stderr of the failing one-frame test encodes on this GPU-less machine.
const NVENC_STDERR = `\
[h264_nvenc @ 0x5585e4774440] Cannot load libcuda.so.1
Error initializing output stream 0:0 -- Error while opening encoder for output stream #0:0 - maybe incorrect parameters such as bit_rate, rate, width or height
`;
const QSV_STDERR = `\
Device creation failed: -542398533.
Failed to set value 'qsv=hw' for option 'init_hw_device': Generic error in an external library
Error parsing global options: Generic error in an external library
`;

describe("parseFfmpegVersion", () => {
  test("reads the version token of ffmpeg and ffprobe", () => {
    expect(parseFfmpegVersion(VERSION)).toBe("5.1.9-0+deb12u1");
    expect(parseFfmpegVersion(FFPROBE_VERSION)).toBe("5.1.9-0+deb12u1");
  });

  test("reads git and release builds", () => {
    expect(parseFfmpegVersion("ffmpeg version N-113000-g1234abcd Copyright (c) 2000-2024 the FFmpeg developers\n")).toBe("N-113000-g1234abcd");
    expect(parseFfmpegVersion("ffmpeg version n7.1 Copyright (c) 2000-2024 the FFmpeg developers")).toBe("n7.1");
  });

  test("is undefined for anything else", () => {
    expect(parseFfmpegVersion("")).toBeUndefined();
    expect(parseFfmpegVersion("GNU coreutils 9.1\n")).toBeUndefined();
    // Only the first line counts: a version mentioned later is not FFmpeg's banner.
    expect(parseFfmpegVersion("something else\nffmpeg version 5.1\n")).toBeUndefined();
  });
});

describe("parseCodecList", () => {
  test("parses encoders after the legend, with kind and description", () => {
    expect(parseCodecList(ENCODERS)).toEqual([
      { name: "libsvtav1", kind: "video", description: "SVT-AV1(Scalable Video Technology for AV1) encoder (codec av1)" },
      { name: "ffv1", kind: "video", description: "FFmpeg video codec #1" },
      { name: "libx264", kind: "video", description: "libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)" },
      { name: "libx264rgb", kind: "video", description: "libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 RGB (codec h264)" },
      { name: "h264_nvenc", kind: "video", description: "NVIDIA NVENC H.264 encoder (codec h264)" },
      { name: "h264_vaapi", kind: "video", description: "H.264/AVC (VAAPI) (codec h264)" },
      { name: "libx265", kind: "video", description: "libx265 H.265 / HEVC (codec hevc)" },
      { name: "hevc_nvenc", kind: "video", description: "NVIDIA NVENC hevc encoder (codec hevc)" },
      { name: "hevc_qsv", kind: "video", description: "HEVC (Intel Quick Sync Video acceleration) (codec hevc)" },
      { name: "prores_ks", kind: "video", description: "Apple ProRes (iCodec Pro) (codec prores)" },
      { name: "libvpx-vp9", kind: "video", description: "libvpx VP9 (codec vp9)" },
      { name: "aac", kind: "audio", description: "AAC (Advanced Audio Coding)" },
      { name: "libopus", kind: "audio", description: "libopus Opus (codec opus)" },
      { name: "vorbis", kind: "audio", description: "Vorbis" },
      { name: "webvtt", kind: "subtitle", description: "WebVTT subtitle" },
    ]);
  });

  test("parses decoders, whatever the flag letters", () => {
    expect(parseCodecList(DECODERS)).toEqual([
      { name: "libdav1d", kind: "video", description: "dav1d AV1 decoder by VideoLAN (codec av1)" },
      { name: "h264", kind: "video", description: "H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10" },
      { name: "h264_cuvid", kind: "video", description: "Nvidia CUVID H264 decoder (codec h264)" },
      { name: "hevc", kind: "video", description: "HEVC (High Efficiency Video Coding)" },
      { name: "svq3", kind: "video", description: "Sorenson Vector Quantizer 3 / Sorenson Video 3 / SVQ3" },
      { name: "vp9", kind: "video", description: "Google VP9" },
      { name: "aac", kind: "audio", description: "AAC (Advanced Audio Coding)" },
      { name: "dsd_lsbf", kind: "audio", description: "DSD (Direct Stream Digital), least significant bit first" },
      { name: "opus", kind: "audio", description: "Opus" },
      { name: "sonic", kind: "audio", description: "Sonic" },
      { name: "webvtt", kind: "subtitle", description: "WebVTT subtitle" },
    ]);
  });

  test("never mistakes legend lines for codecs, even without the separator", () => {
    const legendOnly = ENCODERS.slice(0, ENCODERS.indexOf(" ------"));
    expect(parseCodecList(legendOnly)).toEqual([]);
    const noSeparator = ENCODERS.replace(" ------\n", "");
    expect(parseCodecList(noSeparator).map((c) => c.name)).toEqual(parseCodecList(ENCODERS).map((c) => c.name));
  });

  test("is empty for empty output", () => {
    expect(parseCodecList("")).toEqual([]);
  });
});

describe("parseHwaccels", () => {
  test("lists the methods under the header", () => {
    expect(parseHwaccels(HWACCELS)).toEqual(["vdpau", "cuda", "vaapi", "qsv", "drm", "opencl", "vulkan"]);
  });

  test("is empty when the build has none", () => {
    expect(parseHwaccels("Hardware acceleration methods:\n\n")).toEqual([]);
  });
});

describe("HW_ENCODER_CANDIDATES", () => {
  test("covers the three families in preference order", () => {
    expect(HW_ENCODER_CANDIDATES).toEqual({
      nvidia: ["h264_nvenc", "hevc_nvenc", "av1_nvenc"],
      qsv: ["h264_qsv", "hevc_qsv", "av1_qsv", "vp9_qsv"],
      vaapi: ["h264_vaapi", "hevc_vaapi", "av1_vaapi", "vp9_vaapi"],
    });
  });
});

describe("testEncodeArgs", () => {
  const head = ["-hide_banner", "-nostdin", "-loglevel", "error"];
  const input = ["-f", "lavfi", "-i", "color=c=black:s=256x256:r=25:d=0.04", "-frames:v", "1"];

  // The device, upload and encoder options of the real pipeline (media/hardware/, the same as videoChunkArgs uses).
  test("nvidia feeds system-memory frames straight to NVENC, with the pipeline's encoder options", () => {
    expect(testEncodeArgs("h264_nvenc", "nvidia", {})).toEqual([
      ...head, ...input, "-vf", "scale=256:256,setsar=1",
      "-c:v", "h264_nvenc", "-preset", "p4", "-tune", "hq", "-rc", "vbr", "-cq", "30", "-b:v", "0", "-no-scenecut", "1", "-forced-idr", "1", "-pix_fmt", "yuv420p",
      "-f", "null", "-",
    ]);
    expect(testEncodeArgs("hevc_nvenc", "nvidia", { gpuIndex: 1 })).toContain("-gpu");
  });

  test("qsv uploads through an explicit QSV device", () => {
    expect(testEncodeArgs("hevc_qsv", "qsv", {})).toEqual([
      ...head, "-init_hw_device", "qsv=qs", "-filter_hw_device", "qs", ...input,
      "-vf", "scale=256:256,setsar=1,format=nv12,hwupload=extra_hw_frames=64",
      "-c:v", "hevc_qsv", "-preset", "medium", "-global_quality", "30", "-forced_idr", "1", "-adaptive_i", "0", "-f", "null", "-",
    ]);
  });

  test("vaapi uploads through the default render node", () => {
    expect(testEncodeArgs("h264_vaapi", "vaapi", {})).toEqual([
      ...head, "-init_hw_device", "vaapi=va:/dev/dri/renderD128", "-filter_hw_device", "va", ...input,
      "-vf", "scale=256:256,setsar=1,format=nv12,hwupload", "-c:v", "h264_vaapi", "-rc_mode", "CQP", "-qp", "30", "-f", "null", "-",
    ]);
  });

  test("vaapi uses the configured render node", () => {
    expect(testEncodeArgs("vp9_vaapi", "vaapi", { vaapiDevice: "/dev/dri/renderD129" })).toEqual([
      ...head, "-init_hw_device", "vaapi=va:/dev/dri/renderD129", "-filter_hw_device", "va", ...input,
      "-vf", "scale=256:256,setsar=1,format=nv12,hwupload", "-c:v", "vp9_vaapi", "-rc_mode", "CQP", "-qp", "30", "-f", "null", "-",
    ]);
  });
});

describe("testFailureReason", () => {
  test("prefers the encoder's own line over FFmpeg's generic last line", () => {
    expect(testFailureReason(NVENC_STDERR, "h264_nvenc")).toBe("Cannot load libcuda.so.1");
  });

  test("falls back to the last line", () => {
    expect(testFailureReason(QSV_STDERR, "h264_qsv")).toBe("Error parsing global options: Generic error in an external library");
  });

  test("says so when there is no output", () => {
    expect(testFailureReason("\n", "h264_nvenc")).toBe("test encode failed with no error output");
  });
});

describe("poolsFrom", () => {
  const none = [
    { family: "nvidia" as const, encoders: [] },
    { family: "qsv" as const, encoders: [] },
    { family: "vaapi" as const, encoders: [] },
  ];

  test("cpu needs both libx264 and aac", () => {
    expect(poolsFrom({ encoders: ["libx264", "aac", "h264_nvenc"], hardware: none })).toEqual(["cpu"]);
    expect(poolsFrom({ encoders: ["libx264"], hardware: none })).toEqual([]);
    expect(poolsFrom({ encoders: ["aac"], hardware: none })).toEqual([]);
  });

  test("a hardware pool is one proven encoder (<accelerator>:<codec>), in a fixed order", () => {
    const hardware = [
      { family: "vaapi" as const, encoders: ["h264_vaapi"] },
      { family: "qsv" as const, encoders: [] },
      { family: "nvidia" as const, encoders: ["hevc_nvenc"] },
    ];
    expect(poolsFrom({ encoders: ["libx264", "aac"], hardware })).toEqual(["cpu", "nvenc:hevc", "vaapi:h264"]);
    expect(poolsFrom({ encoders: [], hardware })).toEqual(["nvenc:hevc", "vaapi:h264"]);
    // A degraded device's pools are withheld until it passes its test encode again.
    expect(poolsFrom({ encoders: ["libx264", "aac"], hardware }, new Set(["nvenc:hevc"]))).toEqual(["cpu", "vaapi:h264"]);
  });
});
