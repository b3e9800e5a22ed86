/**
 * FLV container bytes: the file header and tags. RTMP audio (8), video (9) and data (18) message bodies are
 * already FLV tag bodies, so re-muxing RTMP into FLV is framing only. Pure.
 */

export const FlvTagType = { audio: 8, video: 9, script: 18 } as const;

/** "FLV", version 1, the audio/video flags, header size 9, then PreviousTagSize0 = 0. */
export function flvHeader(hasAudio: boolean, hasVideo: boolean): Uint8Array {
  return Uint8Array.of(0x46, 0x4c, 0x56, 0x01, (hasAudio ? 0x04 : 0) | (hasVideo ? 0x01 : 0), 0, 0, 0, 9, 0, 0, 0, 0);
}

/** One tag and its trailing PreviousTagSize. */
export function flvTag(type: number, timestamp: number, body: Uint8Array): Uint8Array {
  if (body.length > 0xffffff) throw new RangeError(`FLV tag body of ${body.length} bytes is larger than 16 MiB`);
  const out = new Uint8Array(11 + body.length + 4);
  const view = new DataView(out.buffer);
  out[0] = type;
  out[1] = (body.length >> 16) & 0xff;
  out[2] = (body.length >> 8) & 0xff;
  out[3] = body.length & 0xff;
  out[4] = (timestamp >> 16) & 0xff;
  out[5] = (timestamp >> 8) & 0xff;
  out[6] = timestamp & 0xff;
  out[7] = (timestamp >>> 24) & 0xff; // TimestampExtended: the upper 8 bits
  // bytes 8..10: stream id, always 0
  out.set(body, 11);
  view.setUint32(11 + body.length, 11 + body.length);
  return out;
}
