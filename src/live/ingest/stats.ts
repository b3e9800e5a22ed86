/**
 * Ingest statistics from the media a publisher sends. Pure: the caller passes the wall-clock time.
 *
 * Bitrate and frame rate are measured on the MEDIA timestamps over the last ~2 s of media: they then say
 * what the encoder produces (what OBS's "Bitrate" setting means), independent of network jitter or of the
 * machine being busy for a moment; `lastDataAt` says whether data is still arriving.
 */
import { decodeAmf0, isAmf0Object, type Amf0Value } from "../rtmp/amf0.ts";
import { aacConfig, audioTagInfo, avcSequenceDimensions, videoTagInfo } from "../flv/media-info.ts";
import { FlvTagType } from "../flv/tags.ts";
import type { MediaTag } from "./fanout.ts";
import type { IngestStats } from "./types.ts";

export const STATS_WINDOW_MS = 2000;

const VIDEO_CODEC_IDS: Record<number, string> = { 2: "flv1", 4: "vp6f", 5: "vp6a", 7: "h264", 12: "hevc" };
const AUDIO_CODEC_IDS: Record<number, string> = { 2: "mp3", 10: "aac", 11: "speex", 14: "mp3" };
/** Some encoders put a FourCC string in onMetaData instead of the numeric id. */
const CODEC_STRINGS: Record<string, string> = { avc1: "h264", mp4a: "aac", hvc1: "hevc", av01: "av1", vp09: "vp9", ".mp3": "mp3" };

function codecFromMetadata(value: Amf0Value, ids: Record<number, string>): string | null {
  if (typeof value === "number") return ids[value] ?? null;
  if (typeof value === "string") return CODEC_STRINGS[value] ?? value;
  return null;
}

function positive(value: Amf0Value): number | null {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : null;
}

export class IngestStatsTracker {
  private bytesIn = 0;
  private lastDataAt = 0;
  /** (media timestamp, payload bytes) of the audio and video in the window. */
  private window: Array<{ timestamp: number; bytes: number }> = [];
  private windowBytes = 0;
  private videoFrames: number[] = [];
  private keyframes: number[] = [];
  private videoCodec: string | null = null;
  private audioCodec: string | null = null;
  private width: number | null = null;
  private height: number | null = null;
  private audioSampleRate: number | null = null;
  private audioChannels: number | null = null;
  private latest = -1;
  private firstTimestamp: number | undefined;

  constructor(startedAt: number) {
    this.lastDataAt = startedAt;
  }

  /** Bytes read from the socket (everything: chunk headers, commands, media). */
  addBytes(count: number): void {
    this.bytesIn += count;
  }

  /** onMetaData's values fill what the sequence headers do not say. */
  observeMetadata(scriptBody: Uint8Array): void {
    let values: Amf0Value[];
    try {
      values = decodeAmf0(scriptBody);
    } catch {
      return;
    }
    const data = values[1];
    if (!isAmf0Object(data)) return;
    this.videoCodec ??= codecFromMetadata(data.videocodecid, VIDEO_CODEC_IDS);
    this.audioCodec ??= codecFromMetadata(data.audiocodecid, AUDIO_CODEC_IDS);
    this.width ??= positive(data.width);
    this.height ??= positive(data.height);
    this.audioSampleRate ??= positive(data.audiosamplerate);
    this.audioChannels ??= positive(data.audiochannels) ?? (typeof data.stereo === "boolean" ? (data.stereo ? 2 : 1) : null);
  }

  observe(tag: MediaTag, now: number): void {
    this.lastDataAt = now;
    if (tag.type === FlvTagType.video) this.observeVideo(tag);
    else if (tag.type === FlvTagType.audio) this.observeAudio(tag);
    else return;
    this.latest = Math.max(this.latest, tag.timestamp);
    this.firstTimestamp ??= tag.timestamp;
    const horizon = this.latest - STATS_WINDOW_MS;
    // Arrival order is nearly, not strictly, timestamp order (audio and video interleave): data older than
    // the window is not counted at all, the rest leaves the window from the front.
    if (tag.timestamp > horizon) {
      this.window.push({ timestamp: tag.timestamp, bytes: tag.body.length });
      this.windowBytes += tag.body.length;
    }
    while (this.window.length > 0 && this.window[0]!.timestamp <= horizon) this.windowBytes -= this.window.shift()!.bytes;
    while (this.videoFrames.length > 0 && this.videoFrames[0]! <= horizon) this.videoFrames.shift();
  }

  private observeVideo(tag: MediaTag): void {
    const info = videoTagInfo(tag.body);
    if (!info) return;
    if (info.codec) this.videoCodec = info.codec;
    if (info.sequenceHeader) {
      const size = avcSequenceDimensions(tag.body);
      if (size) {
        // The SPS is what the decoder will use: it wins over metadata.
        this.width = size.width;
        this.height = size.height;
      }
      return;
    }
    this.videoFrames.push(tag.timestamp);
    if (info.keyframe) {
      this.keyframes.push(tag.timestamp);
      if (this.keyframes.length > 2) this.keyframes.shift();
    }
  }

  private observeAudio(tag: MediaTag): void {
    const info = audioTagInfo(tag.body);
    if (!info) return;
    if (info.codec) this.audioCodec = info.codec;
    if (info.sequenceHeader) {
      const config = aacConfig(tag.body);
      if (config) {
        this.audioSampleRate = config.sampleRate;
        if (config.channels > 0) this.audioChannels = config.channels;
      }
    } else if (info.codec !== "aac" && info.headerSampleRate > 0) {
      this.audioSampleRate ??= info.headerSampleRate;
      this.audioChannels ??= info.headerChannels;
    }
  }

  /** The numbers now; a publisher that has sent no media for a whole window shows 0 kbit/s and 0 fps. */
  snapshot(now = this.lastDataAt): IngestStats {
    const stalled = now - this.lastDataAt > STATS_WINDOW_MS;
    const first = this.firstTimestamp;
    // Until 2 s of media have arrived, divide by what has (at least 0.5 s, so the first frames do not spike).
    const spanMs = first === undefined ? 0 : Math.max(500, Math.min(STATS_WINDOW_MS, this.latest - first));
    const frames = this.videoFrames;
    const frameSpan = frames.length >= 2 ? frames[frames.length - 1]! - frames[0]! : 0;
    const [previousKey, lastKey] = this.keyframes;
    return {
      bytesIn: this.bytesIn,
      bitrateKbps: spanMs > 0 && !stalled ? Math.round((this.windowBytes * 8) / spanMs) : 0,
      fps: frameSpan > 0 && !stalled ? Math.round(((frames.length - 1) * 1000 * 100) / frameSpan) / 100 : 0,
      keyframeIntervalS: previousKey !== undefined && lastKey !== undefined && lastKey > previousKey ? (lastKey - previousKey) / 1000 : null,
      videoCodec: this.videoCodec,
      audioCodec: this.audioCodec,
      width: this.width,
      height: this.height,
      audioSampleRate: this.audioSampleRate,
      audioChannels: this.audioChannels,
      lastDataAt: this.lastDataAt,
    };
  }
}
