/**
 * FFprobe argv builders and readers, on output captured from Debian's FFprobe 5.1 (fixtures verbatim).
 */
import { describe, expect, test } from "bun:test";
import { INPUT_FORMATS } from "../../src/media/input-policy.ts";
import { classifyProbeFailure, ffprobeArgs, keyframeIndexArgs, parseKeyframeCsv, probeContentProblem } from "../../src/media/probe.ts";

// keyframeIndexArgs output for `testsrc2=size=160x120:rate=30 -t 1 -c:v libx264 -g 10 -sc_threshold 0`
// in MP4: packets in DECODE order (B-frames), columns `pts_time,flags`.
const MP4_GOP10 = `\
0.000000,K_
0.133333,__
0.066667,__
0.033333,__
0.100000,__
0.266667,__
0.200000,__
0.166667,__
0.233333,__
0.300000,__
0.333333,K_
0.466667,__
0.400000,__
0.366667,__
0.433333,__
0.600000,__
0.533333,__
0.500000,__
0.566667,__
0.633333,__
0.666667,K_
0.766667,__
0.700000,__
0.733333,__
0.900000,__
0.833333,__
0.800000,__
0.866667,__
0.966667,__
0.933333,__
`;

// The same kind of source (-t 0.4 -g 5) in MPEG-TS: its packets carry side data, so every row has a
// trailing empty column and is followed by an empty line; pts start at the TS offset (1.4 s).
const TS_GOP5 = `\
1.466667,K_,

1.600000,__,

1.533333,__,

1.500000,__,

1.566667,__,

1.633333,K_,

1.766667,__,

1.700000,__,

1.666667,__,

1.733333,__,

1.800000,K_,

1.833333,__
`;

// A raw H.264 elementary stream (-f h264, -t 0.4 -g 5) has no timestamps: every pts is N/A.
const RAW_H264 = `\
N/A,K_
N/A,__
N/A,__
N/A,__
N/A,__
N/A,K_
N/A,__
N/A,__
N/A,__
N/A,__
N/A,K_
N/A,__
`;

describe("argv builders", () => {
  // Every probe opens only its input: FFprobe's protocol and format whitelists (media/input-policy.ts).
  const FILE_ONLY = ["-protocol_whitelist", "file", "-format_whitelist", INPUT_FORMATS.join(",")];
  test("ffprobeArgs", () => {
    expect(ffprobeArgs("/data/in.mp4")).toEqual(["-v", "error", "-print_format", "json", "-show_format", "-show_streams", ...FILE_ONLY, "/data/in.mp4"]);
    expect(ffprobeArgs("https://h/x.mp4?sig=a b")).toEqual([
      "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
      "-max_redirects", "0", "-protocol_whitelist", "http,https,tcp,tls", "-format_whitelist", INPUT_FORMATS.join(","), "https://h/x.mp4?sig=a b",
    ]);
  });

  test("keyframeIndexArgs reads packet flags, no decoding", () => {
    expect(keyframeIndexArgs("/data/in.mp4")).toEqual([
      "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags", "-of", "csv=p=0", ...FILE_ONLY, "/data/in.mp4",
    ]);
  });

  test("an input that looks like an option goes through the file protocol", () => {
    expect(ffprobeArgs("-x.mp4").at(-1)).toBe("file:-x.mp4");
    expect(keyframeIndexArgs("-x.mp4").at(-1)).toBe("file:-x.mp4");
  });
});

describe("parseKeyframeCsv", () => {
  test("pts_time is the FIRST column, flags the second (real MP4 output)", () => {
    expect(parseKeyframeCsv(MP4_GOP10)).toMatchObject({ keyframes: [0, 0.333333, 0.666667], packets: 30, keyframe_frames: [0, 10, 20] });
  });

  test("MPEG-TS rows with a trailing column and blank lines", () => {
    expect(parseKeyframeCsv(TS_GOP5)).toMatchObject({ keyframes: [1.466667, 1.633333, 1.8], packets: 12, keyframe_frames: [0, 5, 10] });
  });

  test("packets without a pts count as packets, never as keyframes", () => {
    expect(parseKeyframeCsv(RAW_H264)).toMatchObject({ keyframes: [], packets: 12, keyframe_frames: [] });
  });

  test("keyframes are sorted; discard/corrupt flags next to K still mark a keyframe", () => {
    expect(parseKeyframeCsv("2.000000,K_\n0.000000,K_\n1.000000,KD\n0.500000,_C\n")).toMatchObject({ keyframes: [0, 1, 2], packets: 4, keyframe_frames: [0, 2, 3] });
  });

  test("keyframe frame numbers count packets by pts, not decode order (B-frames)", () => {
    // decode order I P B B P B B with pts 0, 3, 1, 2, 6, 4, 5 (in frame units of 1 s); second I at pts 7.
    const csv = "0,K_\n3,__\n1,__\n2,__\n6,__\n4,__\n5,__\n7,K_\n9,__\n8,__\n";
    expect(parseKeyframeCsv(csv)).toMatchObject({ keyframes: [0, 7], packets: 10, keyframe_frames: [0, 7] });
  });

  test("empty output", () => {
    expect(parseKeyframeCsv("")).toMatchObject({ keyframes: [], packets: 0, keyframe_frames: [] });
  });
});

describe("classifyProbeFailure (stderr of `ffprobe -v error …` as captured)", () => {
  test("a text file renamed .mp4, a zero-byte or truncated MP4: the summary and the demuxer's detail", () => {
    const stderr = "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d44ac9b1c0] moov atom not found\n/tmp/enc/text.mp4: Invalid data found when processing input\n";
    expect(classifyProbeFailure(stderr, 1)).toEqual({
      code: "WE-JOB-007",
      message: "cannot read the source: Invalid data found when processing input (moov atom not found)",
    });
  });

  test("a missing file", () => {
    expect(classifyProbeFailure("/tmp/enc/missing.mp4: No such file or directory\n", 1)).toEqual({
      code: "WE-JOB-007",
      message: "cannot read the source: No such file or directory",
    });
  });

  test("an HTTP 404 (the URL, with its port, is not part of the message)", () => {
    expect(classifyProbeFailure("http://127.0.0.1:44133/x.mp4: Server returned 404 Not Found\n", 1)).toEqual({
      code: "WE-JOB-007",
      message: "cannot read the source: Server returned 404 Not Found",
    });
  });

  test("a refused connection: the protocol's line already contains the summary", () => {
    const stderr = "[tcp @ 0x55eeb8e0a800] Connection to tcp://127.0.0.1:1 failed: Connection refused\nhttp://127.0.0.1:1/x.mp4: Connection refused\n";
    expect(classifyProbeFailure(stderr, 1).message).toBe("cannot read the source: Connection to tcp://127.0.0.1:1 failed: Connection refused");
  });

  test("a directory", () => {
    expect(classifyProbeFailure("/etc: Is a directory\n", 1).message).toBe("cannot read the source: Is a directory");
  });

  test("no stderr at all", () => {
    expect(classifyProbeFailure("", 3).message).toBe("cannot read the source: ffprobe exited with code 3 and no error output");
  });

  test("the message stays short", () => {
    expect(classifyProbeFailure(`in.mp4: ${"x".repeat(2000)}\n`, 1).message.length).toBeLessThan(400);
  });
});

describe("probeContentProblem", () => {
  test("video or audio is enough", () => {
    expect(probeContentProblem({ streams: [{ codec_type: "video" }] })).toBeUndefined();
    expect(probeContentProblem({ streams: [{ codec_type: "audio" }] })).toBeUndefined();
  });

  test("no streams, or only subtitles/data (a WebVTT file probes fine)", () => {
    expect(probeContentProblem({ streams: [] })).toBe("no audio or video streams");
    expect(probeContentProblem({})).toBe("no audio or video streams");
    expect(probeContentProblem({ streams: [{ codec_type: "subtitle" }, { codec_type: "data" }] })).toBe("no audio or video streams");
  });
});
