import { describe, expect, test } from "bun:test";
import { EcmaArray, decodeAmf0, encodeAmf0 } from "../../src/live/rtmp/amf0.ts";
import { aacConfig, audioTagInfo, avcSequenceDimensions, enhancedRtmpRefusal, videoTagInfo } from "../../src/live/flv/media-info.ts";
import { flvHeader, flvTag, FlvTagType } from "../../src/live/flv/tags.ts";
import { MediaFanout, SlowSubscriberError, type MediaTag } from "../../src/live/ingest/fanout.ts";
import { IngestStatsTracker } from "../../src/live/ingest/stats.ts";
import { scriptBody } from "../../src/live/ingest/connection.ts";

const fromHex = (hex: string) => Uint8Array.from(Buffer.from(hex, "hex"));
// Sequence headers as FFmpeg 5.1's libx264 and aac encoders write them into FLV.
const AVC_1080 = fromHex("170000000001640028ffe1001b67640028acd940780227e5c044000003000400000300c83c60c65801000668ebe3cb22c0fdf8f800");
const AVC_854x480_BASELINE = fromHex("17000000000142c01fffe100196742c01fd900d83de6f0110000030001000003003c0f18324801000568cb83cb20");
const AVC_320x240_CBR_VUI = fromHex("17000000000164000dffe100226764000dacd94141fb011000000300100000030326460030d40061ae2a30078a14cb01000468efbcb0fdf8f800");
const AAC_44100_STEREO = fromHex("af00121056e500");
const AAC_48000_MONO = fromHex("af00118856e500");

const enhancedVideo = (fourCc: string) => Uint8Array.of(0x80 | 0x10 | 0, ...new TextEncoder().encode(fourCc), 1, 2, 3);

describe("FLV media info", () => {
  test("video and audio tag headers", () => {
    expect(videoTagInfo(AVC_1080)).toEqual({ codecId: 7, codec: "h264", keyframe: true, sequenceHeader: true });
    expect(videoTagInfo(Uint8Array.of(0x27, 1, 0, 0, 0))).toEqual({ codecId: 7, codec: "h264", keyframe: false, sequenceHeader: false });
    expect(audioTagInfo(AAC_48000_MONO)).toMatchObject({ soundFormat: 10, codec: "aac", sequenceHeader: true });
    expect(audioTagInfo(Uint8Array.of(0x2f, 0xff))).toMatchObject({ codec: "mp3", sequenceHeader: false, headerSampleRate: 44100, headerChannels: 2 });
  });

  test("width and height from the SPS: cropping (1080p, 854 wide) and a VUI with HRD parameters", () => {
    expect(avcSequenceDimensions(AVC_1080)).toEqual({ width: 1920, height: 1080 });
    expect(avcSequenceDimensions(AVC_854x480_BASELINE)).toEqual({ width: 854, height: 480 });
    expect(avcSequenceDimensions(AVC_320x240_CBR_VUI)).toEqual({ width: 320, height: 240 });
    expect(avcSequenceDimensions(AVC_1080.subarray(0, 12))).toBeUndefined();
  });

  test("AAC sample rate and channels from the AudioSpecificConfig", () => {
    expect(aacConfig(AAC_44100_STEREO)).toEqual({ sampleRate: 44100, channels: 2 });
    expect(aacConfig(AAC_48000_MONO)).toEqual({ sampleRate: 48000, channels: 1 });
  });

  test("Enhanced RTMP is refused with a message naming the codec; classic codecs pass", () => {
    expect(enhancedRtmpRefusal("video", enhancedVideo("hvc1"))).toBe("HEVC (hvc1) over Enhanced RTMP is not supported: FFmpeg 5.1 cannot demux it; set OBS to H.264");
    expect(enhancedRtmpRefusal("video", enhancedVideo("av01"))).toBe("AV1 (av01) over Enhanced RTMP is not supported: FFmpeg 5.1 cannot demux it; set OBS to H.264");
    expect(enhancedRtmpRefusal("video", enhancedVideo("vp09"))).toStartWith("VP9 (vp09) over Enhanced RTMP");
    expect(enhancedRtmpRefusal("video", enhancedVideo("avc1"))).toBe("H.264 (avc1) over Enhanced RTMP is not supported: FFmpeg 5.1 cannot demux it; turn off multitrack video in OBS (classic H.264 works)");
    expect(enhancedRtmpRefusal("audio", Uint8Array.of(0x90, ...new TextEncoder().encode("Opus")))).toBe("Opus (Opus) over Enhanced RTMP is not supported: FFmpeg 5.1 cannot demux it; set OBS to AAC");
    expect(enhancedRtmpRefusal("video", AVC_1080)).toBeUndefined();
    expect(enhancedRtmpRefusal("audio", AAC_48000_MONO)).toBeUndefined();
  });

  test("FLV header and tag framing (extended timestamp byte, previous tag size)", () => {
    expect([...flvHeader(true, true)]).toEqual([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);
    expect(flvHeader(false, true)[4]).toBe(1);
    const tag = flvTag(FlvTagType.video, 0x12345678, Uint8Array.of(0xaa, 0xbb));
    expect([...tag]).toEqual([9, 0, 0, 2, 0x34, 0x56, 0x78, 0x12, 0, 0, 0, 0xaa, 0xbb, 0, 0, 0, 13]);
  });

  test("@setDataFrame is cut off the data message; other data is not passed on", () => {
    const body = scriptBody(encodeAmf0("@setDataFrame", "onMetaData", new EcmaArray({ width: 320 })));
    expect(decodeAmf0(body!)).toEqual(["onMetaData", { width: 320 }]);
    expect(scriptBody(encodeAmf0("onCuePoint", {}))).toBeUndefined();
  });
});

interface ParsedTag {
  type: number;
  timestamp: number;
  body: Uint8Array;
}
function parseFlv(bytes: Uint8Array): { flags: number; tags: ParsedTag[] } {
  expect(new TextDecoder().decode(bytes.subarray(0, 3))).toBe("FLV");
  const tags: ParsedTag[] = [];
  let offset = 13;
  while (offset + 11 <= bytes.length) {
    const size = (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    const timestamp = ((bytes[offset + 7]! << 24) | (bytes[offset + 4]! << 16) | (bytes[offset + 5]! << 8) | bytes[offset + 6]!) >>> 0;
    tags.push({ type: bytes[offset]!, timestamp, body: bytes.subarray(offset + 11, offset + 11 + size) });
    offset += 11 + size + 4;
  }
  expect(offset).toBe(bytes.length);
  return { flags: bytes[4]!, tags };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const frame = (timestamp: number, keyframe: boolean, size = 100): MediaTag => ({ type: FlvTagType.video, timestamp, body: Uint8Array.from({ length: size }, (_, i) => (i === 0 ? (keyframe ? 0x17 : 0x27) : i === 1 ? 1 : 0)) });
const audio = (timestamp: number): MediaTag => ({ type: FlvTagType.audio, timestamp, body: Uint8Array.of(0xaf, 1, 0x21, 0x10) });

describe("FLV fan-out", () => {
  test("a late subscriber gets header, metadata and sequence headers, then the GOP from the latest keyframe", async () => {
    const fanout = new MediaFanout();
    fanout.setMetadata(encodeAmf0("onMetaData", new EcmaArray({ width: 320 })));
    fanout.push({ type: FlvTagType.video, timestamp: 0, body: AVC_320x240_CBR_VUI });
    fanout.push({ type: FlvTagType.audio, timestamp: 0, body: AAC_48000_MONO });
    for (let t = 0; t < 3000; t += 40) {
      fanout.push(frame(t, t % 2000 === 0));
      fanout.push(audio(t + 5));
    }
    const stream = fanout.subscribe();
    fanout.push(frame(3000, false));
    fanout.end();
    const { flags, tags } = parseFlv(await readAll(stream));
    expect(flags).toBe(5);
    expect(tags.slice(0, 3).map((t) => t.type)).toEqual([FlvTagType.script, FlvTagType.video, FlvTagType.audio]);
    expect(decodeAmf0(tags[0]!.body)[0]).toBe("onMetaData");
    expect([...tags[1]!.body]).toEqual([...AVC_320x240_CBR_VUI]);
    // The header part is stamped with the first frame's time, so the subscriber sees no jump.
    expect(tags[0]!.timestamp).toBe(2000);
    const media = tags.slice(3);
    expect(media[0]).toMatchObject({ type: FlvTagType.video, timestamp: 2000 });
    expect(videoTagInfo(media[0]!.body)!.keyframe).toBe(true);
    expect(media.at(-1)!.timestamp).toBe(3000);
    expect(media.filter((t) => t.type === FlvTagType.video)).toHaveLength(26); // 2000..2960 and 3000
  });

  test("a subscriber that never reads is dropped once it is maxQueueBytes behind; the others get everything", async () => {
    const fanout = new MediaFanout();
    const slow = fanout.subscribe({ maxQueueBytes: 5000 });
    const healthy = fanout.subscribe();
    const healthyBytes = readAll(healthy);
    for (let t = 0; t < 2000; t += 40) fanout.push(frame(t, t === 0, 1000));
    expect(fanout.subscriberCount).toBe(1);
    fanout.end();
    const reader = slow.getReader();
    await expect(reader.read()).rejects.toBeInstanceOf(SlowSubscriberError);
    const { tags } = parseFlv(await healthyBytes);
    expect(tags.filter((t) => t.type === FlvTagType.video)).toHaveLength(50);
  });

  test("a subscriber that cancels is removed; one that joins after the end gets a finished stream", async () => {
    const fanout = new MediaFanout();
    const stream = fanout.subscribe();
    await stream.cancel();
    expect(fanout.subscriberCount).toBe(0);
    fanout.push(frame(0, true));
    fanout.end();
    const { tags } = parseFlv(await readAll(fanout.subscribe()));
    expect(tags).toEqual([]);
  });

  test("a joiner when no keyframe is cached gets video only from the next keyframe", async () => {
    const fanout = new MediaFanout();
    fanout.push(frame(0, false)); // a stream that began without a keyframe: nothing cached
    const stream = fanout.subscribe();
    fanout.push(frame(40, false));
    fanout.push(audio(50));
    fanout.push(frame(80, true));
    fanout.end();
    const { tags } = parseFlv(await readAll(stream));
    expect(tags.map((t) => [t.type, t.timestamp])).toEqual([
      [FlvTagType.audio, 50],
      [FlvTagType.video, 80],
    ]);
  });
});

describe("ingest stats", () => {
  test("bitrate, fps and keyframe interval from media timestamps; codecs and sizes from sequence headers and metadata", () => {
    const stats = new IngestStatsTracker(0);
    stats.observeMetadata(encodeAmf0("onMetaData", new EcmaArray({ width: 640, height: 360, videocodecid: 7, audiocodecid: 10, audiosamplerate: 44100, stereo: true })));
    expect(stats.snapshot()).toMatchObject({ width: 640, height: 360, videoCodec: "h264", audioCodec: "aac", audioSampleRate: 44100, audioChannels: 2 });
    stats.observe({ type: FlvTagType.video, timestamp: 0, body: AVC_320x240_CBR_VUI }, 1);
    stats.observe({ type: FlvTagType.audio, timestamp: 0, body: AAC_48000_MONO }, 1);
    // 4 s at 25 fps: 3500-byte frames (700 kbit/s) plus 20 audio frames a second of 625 bytes (100 kbit/s).
    for (let t = 0; t < 4000; t += 40) stats.observe(frame(t, t % 2000 === 0, 3500), 1000 + t);
    for (let t = 0; t < 4000; t += 50) stats.observe({ type: FlvTagType.audio, timestamp: t, body: new Uint8Array(625).fill(0xaf) }, 1000 + t);
    stats.addBytes(12345);
    const snapshot = stats.snapshot();
    expect(snapshot.bitrateKbps).toBeGreaterThanOrEqual(790);
    expect(snapshot.bitrateKbps).toBeLessThanOrEqual(810);
    expect(snapshot.fps).toBe(25);
    expect(snapshot.keyframeIntervalS).toBe(2);
    // The SPS and the AAC config win over what onMetaData claimed.
    expect(snapshot).toMatchObject({ width: 320, height: 240, audioSampleRate: 48000, audioChannels: 1, bytesIn: 12345, lastDataAt: 1000 + 3950 });
    // A publisher that stops sending shows no bitrate once a whole window has passed without media.
    expect(stats.snapshot(1000 + 3950 + 1000).bitrateKbps).toBeGreaterThan(0);
    expect(stats.snapshot(1000 + 3950 + 2500)).toMatchObject({ bitrateKbps: 0, fps: 0, keyframeIntervalS: 2 });
  });
});
