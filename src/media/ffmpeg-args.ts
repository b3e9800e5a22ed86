/**
 * FFmpeg argument builders of the VOD pipeline (docs/architecture.md §3). Pure: typed inputs → argv, one token per
 * element, WITHOUT the binary and without -hide_banner/-nostdin/-y/-progress (the encoder plugin adds
 * those). The behaviour noted in src/media/args/ was checked against Debian's FFmpeg 5.1 on generated
 * sources (test/integration/media-args.test.ts repeats the checks); for NVENC, QSV and VAAPI, which need
 * a GPU, only the option names were checked (`ffmpeg -h encoder=<name>`).
 *
 * One module per task lives in src/media/args/; this one gathers them so callers import from one place.
 */
export { type AudioInput, audioArgs } from "./args/audio.ts";
export { type ConcatMuxInput, concatList, concatMuxArgs, type HlsInput, hlsArgs } from "./args/package.ts";
export { type SpriteInput, type SpriteVttInput, spriteArgs, spriteVtt, type ThumbnailInput, thumbnailArgs } from "./args/thumbnails.ts";
export { seconds } from "./args/units.ts";
export { type ChunkRendition, chunkRenditionFrames, decimatedFrameCount, seekPreroll, type VideoChunkInput, videoChunkArgs } from "./args/video-chunk.ts";
export { videoEncoderArgs } from "./args/video-encoder.ts";
