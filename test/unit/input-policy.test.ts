/** What FFmpeg/FFprobe may open per input (src/media/input-policy.ts): whole argv arrays, and FFmpeg's refusal text. */
import { describe, expect, test } from "bun:test";
import { guardInputs, INPUT_FORMATS, inputOptions, refusedFormatReason } from "../../src/media/input-policy.ts";

const FORMATS = INPUT_FORMATS.join(",");

describe("inputOptions", () => {
  test("a local path: the file protocol only, container formats only", () => {
    expect(inputOptions("/data/uploads/a.mp4")).toEqual(["-protocol_whitelist", "file", "-format_whitelist", FORMATS]);
  });

  test("a URL: no redirects, network protocols only", () => {
    expect(inputOptions("https://h/x.mp4?sig=1")).toEqual(["-max_redirects", "0", "-protocol_whitelist", "http,https,tcp,tls", "-format_whitelist", FORMATS]);
  });

  test("a format named by the argv itself gets no format whitelist", () => {
    expect(inputOptions("/tmp/w/list.txt", { formatNamed: true })).toEqual(["-protocol_whitelist", "file"]);
  });

  test("no playlist or reference format is accepted", () => {
    for (const f of ["hls", "dash", "concat", "imf", "sdp", "image2", "lavfi", "rtsp", "tee", "applehttp"]) expect(INPUT_FORMATS).not.toContain(f);
  });
});

describe("guardInputs", () => {
  test("options before every -i, by the kind of each input", () => {
    expect(guardInputs(["-seek_timestamp", "1", "-ss", "2", "-i", "https://h/x.mp4", "-i", "/tmp/a.m4a", "-map", "0:v", "-c", "copy", "out.mp4"])).toEqual([
      "-seek_timestamp", "1", "-ss", "2",
      "-max_redirects", "0", "-protocol_whitelist", "http,https,tcp,tls", "-format_whitelist", FORMATS, "-i", "https://h/x.mp4",
      "-protocol_whitelist", "file", "-format_whitelist", FORMATS, "-i", "/tmp/a.m4a",
      "-map", "0:v", "-c", "copy", "out.mp4",
    ]);
  });

  test("the packager's own concat list (-f concat) keeps its format; the next input is checked again", () => {
    expect(guardInputs(["-f", "concat", "-safe", "0", "-i", "/w/list.txt", "-i", "/w/audio.m4a", "-c", "copy", "-f", "mp4", "/w/out.mp4"])).toEqual([
      "-f", "concat", "-safe", "0", "-protocol_whitelist", "file", "-i", "/w/list.txt",
      "-protocol_whitelist", "file", "-format_whitelist", FORMATS, "-i", "/w/audio.m4a",
      "-c", "copy", "-f", "mp4", "/w/out.mp4",
    ]);
  });

  test("an argv without inputs is unchanged", () => {
    expect(guardInputs(["-version"])).toEqual(["-version"]);
  });
});

describe("refusedFormatReason (stderr as FFprobe 5.1 writes it)", () => {
  test("an HLS playlist", () => {
    const stderr = "[hls @ 0x55a70fbd35c0] Format not on whitelist 'mov,mpegts'\nevil.m3u8: Invalid argument\n";
    expect(refusedFormatReason(stderr)).toBe(
      "the source is an HLS playlist, which is refused: FFmpeg would open the files or URLs it lists, which no check covers; submit the media file itself (e.g. one rendition's MP4 or TS)",
    );
  });

  test("a concat script and another format", () => {
    expect(refusedFormatReason("[concat @ 0x5] Format not on whitelist 'mov'\nx: Invalid argument")).toContain("the source is a concat script, which is refused");
    expect(refusedFormatReason("[wav @ 0x5] Format not on whitelist 'mov'\nx: Invalid argument")).toBe(`the source's container format "wav" is not accepted (accepted: ${INPUT_FORMATS.join(", ")})`);
  });

  test("other failures are not this one", () => {
    expect(refusedFormatReason("x.mp4: Invalid data found when processing input")).toBeUndefined();
  });
});
