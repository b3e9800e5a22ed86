/**
 * Issue 14 (first part), the pure pieces: timing on timestamps (variable frame rate), audio tracks (which
 * are carried, how each is encoded and labelled), the audio task's argv keeping the A/V offset, the mux
 * with several tracks, and HLS alternate audio in the master playlist.
 */
import { describe, expect, test } from "bun:test";
import { audioArgs, concatMuxArgs, hlsArgs } from "../../src/media/ffmpeg-args.ts";
import { hlsLanguage, selectAudioTracks, trackAudioSpec, trackLabel } from "../../src/media/audio-tracks.ts";
import { masterPlaylist } from "../../src/media/hls.ts";
import { isVariableRate, parseKeyframeCsv, videoTiming } from "../../src/media/probe.ts";
import { type AudioTrack, audioTracksOf, summarizeProbe } from "../../src/media/source.ts";
import { sourceAudioFrameSeconds } from "../../src/media/verify.ts";

const aac = { codec: "aac" as const, bitrate_kbps: 128, channels: 2 as const };

describe("timing from timestamps", () => {
  // 2 frames at 24 fps then 3 at 30 fps, in decode order (a B-frame comes after the frame it precedes).
  const csv = ["0.000000,K_", "0.083333,K_", "0.041667,__", "0.150000,__", "0.116667,__"].join("\n");

  test("the extent is the last pts plus the last interval; a mixed-rate stream is variable", () => {
    const index = parseKeyframeCsv(csv);
    expect(index.timing).toEqual({ start_s: 0, end_s: 0.183333, min_interval_s: 0.033333, max_interval_s: 0.041667 });
    expect(isVariableRate(index.timing!)).toBe(true);
    expect(index.keyframe_frames).toEqual([0, 2]);
  });

  test("constant rate with 6-decimal jitter is not variable; one frame lasts the fallback interval", () => {
    const t = videoTiming([0, 0.033367, 0.066733, 0.1001])!;
    expect(isVariableRate(t)).toBe(false);
    expect(videoTiming([1.5], 0.04)).toEqual({ start_s: 1.5, end_s: 1.54, min_interval_s: 0, max_interval_s: 0 });
    expect(videoTiming([])).toBeUndefined();
  });

  const streams = [
    { codec_type: "video", codec_name: "h264", width: 320, height: 240, avg_frame_rate: "108000000/3983333", r_frame_rate: "120/1", nb_frames: "108" },
    { codec_type: "audio", codec_name: "aac", channels: 2, sample_rate: "48000", start_time: "0.000000", duration: "4.000000", disposition: { default: 1 }, tags: { language: "eng" } },
  ];

  test("a variable-rate source lasts what its timestamps say, not frames ÷ average rate", () => {
    const s = summarizeProbe({
      format: { format_name: "mov,mp4" },
      streams,
      keyframes: [0, 1, 2, 2.8, 3.6],
      keyframe_frames: [0, 24, 48, 72, 96],
      packets: 108,
      timing: { start_s: 0, end_s: 4, min_interval_s: 0.033333, max_interval_s: 0.041667 },
    });
    expect(s.duration_s).toBe(4);
    expect(s.video.fps).toBe(27);
    expect(s.video).toMatchObject({ start_s: 0, vfr: true, max_interval_s: 0.041667 });
    expect(s.video.peak_fps).toBeCloseTo(30, 3);
  });

  test("without a packet index (older encoder plugin) the duration is frames ÷ rate as before", () => {
    const s = summarizeProbe({ format: { format_name: "mov,mp4" }, streams: [{ ...streams[0], avg_frame_rate: "25/1", nb_frames: "100" }], packets: 100 });
    expect(s.duration_s).toBe(4);
    expect(s.video.vfr).toBeUndefined();
  });

  test("an audio-only source is refused as such", () => {
    expect(() => summarizeProbe({ format: { format_name: "mp3" }, streams: [streams[1]!] })).toThrow("the source has audio but no video stream: audio-only sources are not transcoded");
  });
});

describe("audio tracks", () => {
  const probeStreams = [
    { codec_type: "video" },
    { codec_type: "audio", codec_name: "aac", channels: 2, sample_rate: "48000", start_time: "0.107", tags: { language: "eng", title: "English", DURATION: "00:00:04.128000000" }, disposition: { default: 0 } },
    { codec_type: "audio", codec_name: "aac", channels: 1, sample_rate: "22050", start_time: "0.082", tags: { language: "fra" }, disposition: { default: 1 } },
    { codec_type: "audio", codec_name: "ac3", channels: 6, sample_rate: "44100", duration: "4.0", disposition: { default: 0 } },
  ];
  const tracks = audioTracksOf(probeStreams);

  test("every audio stream with its tags; a Matroska DURATION tag is where the stream ends", () => {
    expect(tracks).toEqual([
      { index: 0, codec: "aac", channels: 2, sample_rate: 48000, start_s: 0.107, duration_s: 4.021, language: "eng", title: "English", default: false },
      { index: 1, codec: "aac", channels: 1, sample_rate: 22050, start_s: 0.082, duration_s: null, language: "fra", title: null, default: true },
      { index: 2, codec: "ac3", channels: 6, sample_rate: 44100, start_s: 0, duration_s: 4, language: "und", title: null, default: false },
    ]);
    // No default flag anywhere: the first track is the default.
    expect(audioTracksOf([probeStreams[1]!, probeStreams[3]!]).map((t) => t.default)).toEqual([true, false]);
  });

  test("selection by index or language, one default, and an unknown entry named with what the source has", () => {
    const all = selectAudioTracks(tracks, undefined) as { tracks: AudioTrack[] };
    expect(all.tracks.map((t) => [t.index, t.default])).toEqual([[0, false], [1, true], [2, false]]);
    const picked = selectAudioTracks(tracks, ["ENG", 2]) as { tracks: AudioTrack[] };
    expect(picked.tracks.map((t) => [t.index, t.default])).toEqual([[0, true], [2, false]]);
    expect(selectAudioTracks(tracks, [])).toEqual({ tracks: [] });
    expect(selectAudioTracks(tracks, ["jpn", 7])).toEqual({
      error: 'audio_tracks names "jpn", 7, which the source does not have (its audio tracks: 0 (eng, "English"), 1 (fra), 2 (und))',
    });
  });

  test("rates players handle badly are resampled to 48 kHz; 44.1/48 kHz and fixed profile rates are kept", () => {
    expect([8000, 22050, 44100, 48000, 96000].map((r) => trackAudioSpec(aac, { sample_rate: r }).sample_rate)).toEqual([48000, 48000, undefined, undefined, 48000]);
    expect(trackAudioSpec({ ...aac, sample_rate: 44100 }, { sample_rate: 8000 }).sample_rate).toBe(44100);
  });

  test("labels and HLS languages", () => {
    expect(tracks.map(trackLabel)).toEqual(["English", "fra", "track 2"]);
    expect(["eng", "fra", "ger", "und", "", "pt-BR", "x y"].map(hlsLanguage)).toEqual(["en", "fr", "de", undefined, undefined, "pt-br", undefined]);
  });

  test("source frame lengths: how exactly a container states where a track ends", () => {
    expect([sourceAudioFrameSeconds("aac", 8000), sourceAudioFrameSeconds("mp3", 44100), sourceAudioFrameSeconds("opus", 48000), sourceAudioFrameSeconds("pcm_s16le", 48000)]).toEqual([0.128, 1152 / 44100, 0.02, 0]);
  });
});

describe("argv", () => {
  test("the audio task maps one track and puts it on the video's clock: late audio padded, early audio cut", () => {
    expect(audioArgs({ input: "/in.mkv", audio: aac, output: "/a.m4a", track: 2, start_s: 1.48 })).toEqual([
      "-copyts", "-i", "/in.mkv", "-vn", "-sn", "-dn", "-map", "0:a:2",
      "-af", "asetpts=PTS-1.48/TB,aresample=async=1:first_pts=0",
      "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-map_metadata", "-1", "-map_chapters", "-1", "-f", "mp4", "/a.m4a",
    ]);
    expect(audioArgs({ input: "/in.mp4", audio: aac, output: "/a.m4a", start_s: -0.08 })).toContain("asetpts=PTS+0.08/TB,aresample=async=1:first_pts=0");
    // Without a start (older plans) the track is taken as it is.
    expect(audioArgs({ input: "/in.mp4", audio: aac, output: "/a.m4a" }).slice(0, 6)).toEqual(["-i", "/in.mp4", "-vn", "-sn", "-dn", "-map"]);
  });

  test("the mux carries every track with its language, title and exactly one default", () => {
    const args = concatMuxArgs({
      concat_list: "/l.txt",
      output: "/o.mp4",
      container: "mp4",
      faststart: true,
      audio_tracks: [
        { path: "/a0.m4a", language: "eng", title: "English", default: false },
        { path: "/a1.m4a", language: "fra", title: null, default: true },
      ],
    });
    expect(args.join(" ")).toBe(
      "-f concat -safe 0 -i /l.txt -i /a0.m4a -i /a1.m4a -map 0:v:0 -map 1:a:0 -map 2:a:0 -c copy " +
        "-metadata:s:a:0 language=eng -metadata:s:a:0 handler_name=English -disposition:a:0 0 -metadata:s:a:1 language=fra -disposition:a:1 default " +
        "-movflags +faststart -f mp4 /o.mp4",
    );
  });

  test("HLS segments of a video-only variant and of an audio rendition", () => {
    const base = { input: "/x.mp4", out_dir_playlist: "/h/index.m3u8", segment_pattern: "/h/seg_%05d.ts", segment_seconds: 6, segment_type: "mpegts" as const };
    expect(hlsArgs({ ...base, streams: "video" }).slice(0, 5)).toEqual(["-i", "/x.mp4", "-map", "0:v:0", "-c"]);
    expect(hlsArgs({ ...base, streams: "audio" }).slice(0, 5)).toEqual(["-i", "/x.mp4", "-map", "0:a:0", "-c"]);
    expect(hlsArgs(base).slice(0, 7)).toEqual(["-i", "/x.mp4", "-map", "0:v:0", "-map", "0:a:0?", "-c"]);
  });
});

describe("HLS master with alternate audio", () => {
  const variant = { uri: "360p/index.m3u8", bandwidth: 500_000, average_bandwidth: 400_000, width: 320, height: 240, codecs: "avc1.64000d,mp4a.40.2", audio_group: "audio0" };
  test("EXT-X-MEDIA per track, one DEFAULT, and the variant naming its group", () => {
    const text = masterPlaylist(
      [variant],
      [
        { group_id: "audio0", uri: "audio0_0/index.m3u8", name: "English", language: "en", default: false, channels: 2 },
        { group_id: "audio0", uri: "audio0_1/index.m3u8", name: "Français", language: "fr", default: true, channels: 2 },
        { group_id: "audio0", uri: "audio0_2/index.m3u8", name: "track 2", default: false, channels: 2 },
      ],
    );
    expect(text.split("\n").filter((l) => l.startsWith("#EXT-X-MEDIA") || l.startsWith("#EXT-X-STREAM-INF"))).toEqual([
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio0",NAME="English",LANGUAGE="en",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio0_0/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio0",NAME="Français",LANGUAGE="fr",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="audio0_1/index.m3u8"',
      '#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio0",NAME="track 2",DEFAULT=NO,AUTOSELECT=YES,CHANNELS="2",URI="audio0_2/index.m3u8"',
      '#EXT-X-STREAM-INF:BANDWIDTH=500000,AVERAGE-BANDWIDTH=400000,RESOLUTION=320x240,CODECS="avc1.64000d,mp4a.40.2",AUDIO="audio0"',
    ]);
  });

  test("a variant naming a group with no rendition, or a quote in a NAME, is refused", () => {
    expect(() => masterPlaylist([variant])).toThrow("no audio rendition in group audio0");
    expect(() => masterPlaylist([variant], [{ group_id: "audio0", uri: "a/index.m3u8", name: 'say "hi"', default: true, channels: 2 }])).toThrow("invalid NAME");
  });
});
