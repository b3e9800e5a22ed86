/**
 * The picture decisions (src/media/filters): what a source's field order and colour make the chunk's filter
 * graph and encoder tags do, on ffprobe-shaped streams (fields as FFmpeg 5.1's ffprobe prints them for the
 * corpus clips of test/fixtures/media-corpus.ts), and the refusal of a codec FFmpeg does not know.
 */
import { describe, expect, test } from "bun:test";
import { videoChunkArgs } from "../../src/media/args/video-chunk.ts";
import { DEINTERLACE, planPicture, renditionBitDepth, SDR_BT709_TAGS } from "../../src/media/filters/picture.ts";
import { bitDepthOf, hdrTransfer, isInterlaced, videoTraitsOf } from "../../src/media/filters/traits.ts";
import { ignoredStreamsOf, unsupportedCodecProblem } from "../../src/media/probe.ts";
import { parseProfile } from "../../src/media/profile-spec.ts";
import { BUILTIN_PROFILES } from "../../src/media/profiles-builtin.ts";

/** `ffprobe -show_streams` of hdr-pq.mp4 (libx265 Main 10, PQ), trimmed. */
const HDR_PQ = { codec_name: "hevc", pix_fmt: "yuv420p10le", color_range: "tv", color_space: "bt2020nc", color_transfer: "smpte2084", color_primaries: "bt2020", field_order: "progressive" };
/** interlaced-51.mkv (x264 with +ildct, -field_order tt): no colour stated. */
const INTERLACED = { codec_name: "h264", pix_fmt: "yuv420p", field_order: "tt", color_range: "unknown", color_space: "unknown", color_transfer: "unknown" };

describe("traits from ffprobe", () => {
  test("an HDR10 stream: its colour, 10 bits, progressive", () => {
    const traits = videoTraitsOf(HDR_PQ);
    expect(traits).toEqual({ field_order: "progressive", color_primaries: "bt2020", color_transfer: "smpte2084", color_space: "bt2020nc", color_range: "tv", bit_depth: 10 });
    expect(hdrTransfer(traits)).toBe("smpte2084");
    expect(isInterlaced(traits)).toBe(false);
  });

  test("what ffprobe calls unknown is left out; tt, bb, tb and bt are interlaced", () => {
    expect(videoTraitsOf(INTERLACED)).toEqual({ field_order: "tt", bit_depth: 8 });
    for (const order of ["tt", "bb", "tb", "bt"]) expect(isInterlaced({ field_order: order })).toBe(true);
    for (const order of ["progressive", "unknown", undefined]) expect(isInterlaced(order ? { field_order: order } : {})).toBe(false);
    expect(hdrTransfer({ color_transfer: "arib-std-b67" })).toBe("arib-std-b67");
    expect(hdrTransfer({ color_transfer: "bt709" })).toBeUndefined();
  });

  test("bit depth from the pixel format name", () => {
    expect([bitDepthOf("yuv420p"), bitDepthOf("yuvj420p"), bitDepthOf("nv12"), bitDepthOf("yuv420p10le"), bitDepthOf("p010le"), bitDepthOf("gray12le"), bitDepthOf("rgb48le"), bitDepthOf("unknown")]).toEqual([8, 8, 8, 10, 10, 12, 16, undefined]);
    expect([renditionBitDepth("yuv420p"), renditionBitDepth(undefined), renditionBitDepth("yuv420p10le")]).toEqual([8, 8, 10]);
  });
});

describe("planPicture", () => {
  test("a progressive SDR source gets no filter and no tags (the encoder repeats the source's own)", () => {
    expect(planPicture({ field_order: "progressive", color_space: "smpte170m" }, ["yuv420p", "yuv420p"])).toEqual({ shared: [], perRendition: [[], []], colorArgs: [[], []] });
    expect(planPicture(undefined, ["yuv420p"])).toEqual({ shared: [], perRendition: [[]], colorArgs: [[]] });
  });

  test("an interlaced source is deinterlaced once, one frame per frame, before the split", () => {
    const plan = planPicture(videoTraitsOf(INTERLACED), ["yuv420p", "yuv420p"]);
    expect(plan.shared).toEqual(["bwdif=mode=send_frame:parity=auto:deint=interlaced"]);
    expect(plan.perRendition).toEqual([[], []]);
  });

  test("HDR into 8-bit renditions: tone-mapped once (zimg linearises with the source's own transfer), tagged BT.709", () => {
    const plan = planPicture(videoTraitsOf(HDR_PQ), ["yuv420p", "yuv420p"]);
    expect(plan.shared[0]).toBe("zscale=tin=smpte2084:min=2020_ncl:pin=2020:rin=limited:t=linear:npl=100");
    expect(plan.shared.slice(1)).toEqual(["format=gbrpf32le", "zscale=p=709", "tonemap=tonemap=hable:desat=0", "zscale=t=709:m=709:r=limited", "format=yuv420p"]);
    expect(plan.colorArgs).toEqual([SDR_BT709_TAGS, SDR_BT709_TAGS]);
    expect(SDR_BT709_TAGS).toEqual(["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv"]);
    const hlg = planPicture({ color_transfer: "arib-std-b67", color_primaries: "bt2020", color_space: "bt2020nc", color_range: "pc" }, ["yuv420p"]);
    expect(hlg.shared[0]).toBe("zscale=tin=arib-std-b67:min=2020_ncl:pin=2020:rin=full:t=linear:npl=100");
  });

  test("an interlaced HDR source: deinterlaced first, then tone-mapped", () => {
    const plan = planPicture({ ...videoTraitsOf(HDR_PQ), field_order: "bb" }, ["yuv420p"]);
    expect(plan.shared[0]).toBe(DEINTERLACE);
    expect(plan.shared[1]).toStartWith("zscale=tin=smpte2084");
  });

  test("a 10-bit rendition beside an 8-bit one keeps the HDR picture and repeats the source's tags", () => {
    const plan = planPicture(videoTraitsOf(HDR_PQ), ["yuv420p", "yuv420p10le"]);
    expect(plan.shared).toEqual([]);
    expect(plan.perRendition[0]).toHaveLength(6);
    expect(plan.perRendition[1]).toEqual([]);
    expect(plan.colorArgs[1]).toEqual(["-color_primaries", "bt2020", "-color_trc", "smpte2084", "-colorspace", "bt2020nc", "-color_range", "tv"]);
  });
});

describe("the chunk's ffmpeg", () => {
  const base = { input: "in.mkv", start_pts: 1, frames: 25, fps: 25, output: (i: number) => `r${i}.mp4`, part_format: "mp4" as const };
  const rendition = (id: "360p_h264" | "480p_h264", height: number) => ({ width: (height * 4) / 3, height, encoder: "libx264", profile: BUILTIN_PROFILES[id]!, frame_step: 1 });

  test("deinterlace and tone map sit between the timestamp rebase and the split; every output gets the BT.709 tags", () => {
    const args = videoChunkArgs({ ...base, renditions: [rendition("480p_h264", 480), rendition("360p_h264", 360)], traits: { ...videoTraitsOf(HDR_PQ), field_order: "tt" } });
    const graph = args[args.indexOf("-filter_complex") + 1]!;
    expect(graph).toStartWith("[0:v]setpts=PTS-STARTPTS,bwdif=mode=send_frame:parity=auto:deint=interlaced,zscale=tin=smpte2084");
    expect(graph).toContain("format=yuv420p,split=2[s0][s1];[s0]scale=640:480,setsar=1[v0];[s1]scale=480:360,setsar=1[v1]");
    expect(args.filter((a) => a === "-color_trc")).toHaveLength(2);
    expect(args[args.indexOf("-color_trc") + 1]).toBe("bt709");
  });

  test("without traits the graph is what it was: no filter, no tags", () => {
    const args = videoChunkArgs({ ...base, renditions: [rendition("360p_h264", 360)] });
    expect(args[args.indexOf("-filter_complex") + 1]).toBe("[0:v]setpts=PTS-STARTPTS,scale=480:360,setsar=1[v0]");
    expect(args).not.toContain("-color_trc");
  });
});

describe("unsupportedCodecProblem", () => {
  test("a codec FFmpeg does not know is refused by the container's name for it", () => {
    expect(unsupportedCodecProblem({ codec_name: "unknown", codec_tag_string: "wenc", codec_type: "video" }, "video")).toBe(
      'the video codec "wenc" is not supported: FFmpeg cannot decode it; convert the source to a common codec (H.264, HEVC, VP9, AV1, ProRes…)',
    );
    expect(unsupportedCodecProblem({ codec_tag_string: "[0][0][0][0]" }, "video")).toContain("the video codec (the container names none FFmpeg knows) is not supported");
  });

  test("a codec FFmpeg names is accepted", () => {
    expect(unsupportedCodecProblem({ codec_name: "h264", codec_tag_string: "avc1" }, "video")).toBeUndefined();
    expect(unsupportedCodecProblem({ codec_name: "prores", codec_tag_string: "apcn" }, "video")).toBeUndefined();
  });
});

describe("10-bit profiles keep HDR", () => {
  const hevc10 = (over: Record<string, unknown> = {}) => ({
    id: "hevc10",
    name: "HEVC Main 10",
    container: "mp4",
    video: { codec: "hevc", encoder: "software", hardware_fallback: "cpu", height: 240, rate_control: { mode: "crf", crf: 28 }, pixel_format: "yuv420p10le", ...over },
    audio: null,
  });

  test("yuv420p10le is for HEVC and AV1 with the software encoders", () => {
    expect(parseProfile(hevc10()).video.pixel_format).toBe("yuv420p10le");
    expect(parseProfile(hevc10({ codec: "av1", preset: "8" })).video.pixel_format).toBe("yuv420p10le");
    expect(() => parseProfile(hevc10({ codec: "h264" }))).toThrow("video.pixel_format: yuv420p10le is for codecs hevc, av1 (got h264)");
    expect(() => parseProfile(hevc10({ encoder: "nvenc" }))).toThrow("video.pixel_format: yuv420p10le needs encoder software (got nvenc)");
    expect(() => parseProfile(hevc10({ pixel_format: "yuv444p" }))).toThrow("video.pixel_format must be one of: yuv420p, yuv420p10le");
  });

  test("an HDR10 source into a 10-bit HEVC rendition: no tone mapping, 10-bit, the source's tags", () => {
    const profile = parseProfile(hevc10());
    const args = videoChunkArgs({ input: "in.mp4", start_pts: 0, frames: 25, fps: 25, output: () => "r0.mp4", part_format: "mp4", renditions: [{ width: 320, height: 240, encoder: "libx265", profile, frame_step: 1 }], traits: videoTraitsOf(HDR_PQ) });
    expect(args[args.indexOf("-filter_complex") + 1]).toBe("[0:v]setpts=PTS-STARTPTS,scale=320:240,setsar=1[v0]");
    expect(args[args.indexOf("-pix_fmt") + 1]).toBe("yuv420p10le");
    const tags = ["-color_primaries", "-color_trc", "-colorspace", "-color_range"].map((flag) => args[args.indexOf(flag) + 1]);
    expect(tags).toEqual(["bt2020", "smpte2084", "bt2020nc", "tv"]);
  });
});

describe("ignoredStreamsOf", () => {
  test("bitmap subtitles, timecode, attachments, cover art and a second video are reported; the first video, audio and text subtitles (carried) are not", () => {
    const streams = [
      { index: 0, codec_type: "video", codec_name: "h264" },
      { index: 1, codec_type: "audio", codec_name: "aac" },
      { index: 2, codec_type: "subtitle", codec_name: "subrip", tags: { language: "eng" } },
      { index: 3, codec_type: "subtitle", codec_name: "hdmv_pgs_subtitle", tags: { language: "fra" } },
      { index: 4, codec_type: "data", codec_name: "unknown", codec_tag_string: "tmcd" },
      { index: 5, codec_type: "attachment", codec_name: "ttf" },
      { index: 6, codec_type: "video", codec_name: "mjpeg", disposition: { attached_pic: 1 } },
      { index: 7, codec_type: "video", codec_name: "h264" },
    ];
    expect(ignoredStreamsOf(streams)).toEqual([
      { index: 3, type: "subtitle", codec: "hdmv_pgs_subtitle", language: "fra", reason: "bitmap subtitles (hdmv_pgs_subtitle) are dropped: only text subtitles are converted to WebVTT/mov_text (docs/media.md)" },
      { index: 4, type: "data", codec: "tmcd", reason: "timecode and data tracks are not carried" },
      { index: 5, type: "attachment", codec: "ttf", reason: "attachments (fonts, files) are not carried" },
      { index: 6, type: "video", codec: "mjpeg", reason: "cover art is not carried" },
      { index: 7, type: "video", codec: "h264", reason: "only the first video stream is transcoded" },
    ]);
  });

  test("cover art before the video does not make the real video 'second'", () => {
    const streams = [
      { index: 0, codec_type: "video", codec_name: "png", disposition: { attached_pic: 1 } },
      { index: 1, codec_type: "video", codec_name: "h264", disposition: { attached_pic: 0 } },
    ];
    expect(ignoredStreamsOf(streams).map((s) => s.index)).toEqual([0]);
  });
});
