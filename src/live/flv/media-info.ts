/**
 * What the first bytes of an RTMP audio/video message say (they are FLV tag bodies): codec, keyframe,
 * sequence header, Enhanced-RTMP FourCC; and the codec parameters inside the sequence headers (AVC SPS for
 * width/height, AAC AudioSpecificConfig for sample rate and channels). Pure.
 */

export interface VideoTagInfo {
  codecId: number;
  codec: string | null;
  keyframe: boolean;
  /** An AVC decoder configuration record (must reach every subscriber before any frame). */
  sequenceHeader: boolean;
  /** Enhanced RTMP: the FourCC of the codec (hvc1, av01, vp09) when the IsExHeader bit is set. */
  fourCc?: string;
}

export interface AudioTagInfo {
  soundFormat: number;
  codec: string | null;
  sequenceHeader: boolean;
  /** From the tag header: only meaningful for non-AAC codecs (AAC always says 44 kHz stereo). */
  headerSampleRate: number;
  headerChannels: number;
  fourCc?: string;
}

const VIDEO_CODECS: Record<number, string> = { 2: "flv1", 3: "flashsv", 4: "vp6f", 5: "vp6a", 6: "flashsv2", 7: "h264" };
const AUDIO_CODECS: Record<number, string> = { 0: "pcm", 1: "adpcm_swf", 2: "mp3", 3: "pcm_s16le", 4: "nellymoser", 5: "nellymoser", 6: "nellymoser", 7: "pcm_alaw", 8: "pcm_mulaw", 10: "aac", 11: "speex", 14: "mp3" };
const ENHANCED_CODECS: Record<string, string> = { hvc1: "HEVC", av01: "AV1", vp09: "VP9", avc1: "H.264", "ac-3": "AC-3", "ec-3": "E-AC-3", Opus: "Opus", fLaC: "FLAC", ".mp3": "MP3", mp4a: "AAC" };

function fourCcAt(payload: Uint8Array, offset: number): string {
  return String.fromCharCode(...payload.subarray(offset, offset + 4));
}

export function videoTagInfo(payload: Uint8Array): VideoTagInfo | undefined {
  if (payload.length < 1) return undefined;
  const first = payload[0]!;
  if (first & 0x80) {
    // Enhanced RTMP: 1 bit IsExHeader, 3 bits frame type, 4 bits packet type, then a FourCC.
    const frameType = (first >> 4) & 0x07;
    const packetType = first & 0x0f;
    return { codecId: -1, codec: null, keyframe: frameType === 1, sequenceHeader: packetType === 0, fourCc: payload.length >= 5 ? fourCcAt(payload, 1) : "????" };
  }
  const frameType = first >> 4;
  const codecId = first & 0x0f;
  return {
    codecId,
    codec: VIDEO_CODECS[codecId] ?? null,
    keyframe: frameType === 1,
    sequenceHeader: codecId === 7 && payload.length >= 2 && payload[1] === 0,
  };
}

export function audioTagInfo(payload: Uint8Array): AudioTagInfo | undefined {
  if (payload.length < 1) return undefined;
  const first = payload[0]!;
  const soundFormat = first >> 4;
  if (soundFormat === 9) {
    // Enhanced RTMP (v2) audio: the FourCC follows the header byte.
    return { soundFormat, codec: null, sequenceHeader: (first & 0x0f) === 0, headerSampleRate: 0, headerChannels: 0, fourCc: payload.length >= 5 ? fourCcAt(payload, 1) : "????" };
  }
  return {
    soundFormat,
    codec: AUDIO_CODECS[soundFormat] ?? null,
    sequenceHeader: soundFormat === 10 && payload.length >= 2 && payload[1] === 0,
    headerSampleRate: [5512, 11025, 22050, 44100][(first >> 2) & 0x03]!,
    headerChannels: (first & 0x01) + 1,
  };
}

/**
 * The refusal text for an Enhanced-RTMP message, naming the codec, or undefined for a classic FLV codec.
 * FFmpeg 5.1 (Debian 12) cannot demux Enhanced RTMP, so the live transcode could not read the stream.
 */
export function enhancedRtmpRefusal(type: "audio" | "video", payload: Uint8Array): string | undefined {
  const info = type === "video" ? videoTagInfo(payload) : audioTagInfo(payload);
  if (!info?.fourCc) return undefined;
  const name = ENHANCED_CODECS[info.fourCc] ?? "the codec";
  // H.264 in the enhanced framing comes from OBS's multitrack video: the codec is fine, the framing is not.
  const advice = info.fourCc === "avc1" ? "turn off multitrack video in OBS (classic H.264 works)" : type === "video" ? "set OBS to H.264" : "set OBS to AAC";
  return `${name} (${info.fourCc}) over Enhanced RTMP is not supported: FFmpeg 5.1 cannot demux it; ${advice}`;
}

const AAC_SAMPLE_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Sample rate and channels from an AAC sequence header tag body (AF 00 + AudioSpecificConfig). */
export function aacConfig(payload: Uint8Array): { sampleRate: number; channels: number } | undefined {
  if (payload.length < 4) return undefined;
  const bits = new BitReader(payload.subarray(2));
  try {
    let objectType = bits.bits(5);
    if (objectType === 31) objectType = 32 + bits.bits(6);
    const frequencyIndex = bits.bits(4);
    const sampleRate = frequencyIndex === 15 ? bits.bits(24) : AAC_SAMPLE_RATES[frequencyIndex];
    const channelConfig = bits.bits(4);
    if (sampleRate === undefined) return undefined;
    // Channel configuration 7 is 7.1 (8 channels); 0 means "in the stream" (unknown here).
    const channels = channelConfig === 7 ? 8 : channelConfig;
    return { sampleRate, channels };
  } catch {
    return undefined;
  }
}

/** Reads bits MSB first; throws RangeError past the end. */
class BitReader {
  private position = 0;
  constructor(private readonly data: Uint8Array) {}
  bit(): number {
    const byte = this.position >> 3;
    if (byte >= this.data.length) throw new RangeError("end of data");
    const value = (this.data[byte]! >> (7 - (this.position & 7))) & 1;
    this.position++;
    return value;
  }
  bits(count: number): number {
    let value = 0;
    for (let i = 0; i < count; i++) value = value * 2 + this.bit();
    return value;
  }
  /** Exp-Golomb unsigned. */
  ue(): number {
    let zeros = 0;
    while (this.bit() === 0) {
      if (++zeros > 31) throw new RangeError("bad Exp-Golomb code");
    }
    return 2 ** zeros - 1 + this.bits(zeros);
  }
  se(): number {
    const value = this.ue();
    return value & 1 ? (value + 1) / 2 : -(value / 2);
  }
}

/** The NAL unit without its emulation prevention bytes (00 00 03 → 00 00). */
function unescapeNal(nal: Uint8Array): Uint8Array {
  const out: number[] = [];
  let zeros = 0;
  for (const byte of nal) {
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    out.push(byte);
  }
  return Uint8Array.from(out);
}

const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

/** Width and height coded in an H.264 SPS NAL unit (with its one-byte NAL header). */
export function spsDimensions(nal: Uint8Array): { width: number; height: number } | undefined {
  try {
    const bits = new BitReader(unescapeNal(nal).subarray(1));
    const profile = bits.bits(8);
    bits.bits(16); // constraint flags, level
    bits.ue(); // seq_parameter_set_id
    let chromaFormat = 1;
    if (HIGH_PROFILES.has(profile)) {
      chromaFormat = bits.ue();
      if (chromaFormat === 3) bits.bit(); // separate_colour_plane_flag
      bits.ue(); // bit_depth_luma_minus8
      bits.ue(); // bit_depth_chroma_minus8
      bits.bit(); // qpprime_y_zero_transform_bypass_flag
      if (bits.bit()) {
        for (let i = 0; i < (chromaFormat === 3 ? 12 : 8); i++) {
          if (!bits.bit()) continue;
          const size = i < 6 ? 16 : 64;
          let last = 8;
          let next = 8;
          for (let j = 0; j < size && next !== 0; j++) {
            next = (last + bits.se() + 256) % 256;
            last = next === 0 ? last : next;
          }
        }
      }
    }
    bits.ue(); // log2_max_frame_num_minus4
    const pocType = bits.ue();
    if (pocType === 0) bits.ue();
    else if (pocType === 1) {
      bits.bit();
      bits.se();
      bits.se();
      const cycle = bits.ue();
      for (let i = 0; i < cycle; i++) bits.se();
    }
    bits.ue(); // max_num_ref_frames
    bits.bit(); // gaps_in_frame_num_value_allowed_flag
    const widthInMbs = bits.ue() + 1;
    const heightInMapUnits = bits.ue() + 1;
    const frameMbsOnly = bits.bit();
    if (!frameMbsOnly) bits.bit(); // mb_adaptive_frame_field_flag
    bits.bit(); // direct_8x8_inference_flag
    let crop = { left: 0, right: 0, top: 0, bottom: 0 };
    if (bits.bit()) crop = { left: bits.ue(), right: bits.ue(), top: bits.ue(), bottom: bits.ue() };
    const subWidth = chromaFormat === 1 || chromaFormat === 2 ? 2 : 1;
    const subHeight = chromaFormat === 1 ? 2 : 1;
    const cropUnitX = chromaFormat === 0 ? 1 : subWidth;
    const cropUnitY = (chromaFormat === 0 ? 1 : subHeight) * (2 - frameMbsOnly);
    return {
      width: widthInMbs * 16 - (crop.left + crop.right) * cropUnitX,
      height: (2 - frameMbsOnly) * heightInMapUnits * 16 - (crop.top + crop.bottom) * cropUnitY,
    };
  } catch {
    return undefined;
  }
}

/** Width/height from an AVC sequence header tag body (17 00 00 00 00 + AVCDecoderConfigurationRecord). */
export function avcSequenceDimensions(payload: Uint8Array): { width: number; height: number } | undefined {
  const record = payload.subarray(5);
  if (record.length < 8) return undefined;
  const spsCount = record[5]! & 0x1f;
  if (spsCount < 1) return undefined;
  const length = (record[6]! << 8) | record[7]!;
  if (record.length < 8 + length) return undefined;
  return spsDimensions(record.subarray(8, 8 + length));
}
