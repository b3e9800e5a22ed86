/**
 * The picture decisions of a video chunk (pure): what the filter graph does to the decoded source before
 * each rendition is scaled, and which colour tags each encoder writes. docs/media.md states them:
 *
 * - **Interlaced** (the source's field order is tt/bb/tb/bt): `bwdif`, one output frame per input frame
 *   (`mode=send_frame`, so frame counts and timestamps stay the source's), field parity from each frame,
 *   only frames flagged interlaced (`deint=interlaced`). Runs once, before the split into renditions.
 * - **HDR** (PQ or HLG transfer) into an 8-bit rendition: tone-mapped to SDR BT.709 with zimg (`zscale`,
 *   which Debian's FFmpeg 5.1 has) and `tonemap=hable`, tagged bt709/bt709/bt709/tv. A 10-bit rendition
 *   keeps the HDR picture and repeats the source's tags (profiles are 8-bit today: `pixel_format` yuv420p).
 * - Otherwise no colour filter: the encoder writes the source's own tags (FFmpeg passes them through from
 *   the decoded frames), so the output states what is in it; an untagged source stays untagged.
 */
import { type HdrTransfer, hdrTransfer, isInterlaced, type VideoTraits } from "./traits.ts";

export interface PicturePlan {
  /** Filters applied once after the chunk's timestamps are rebased, before the split (may be empty). */
  shared: string[];
  /** Per rendition: filters before its scale (may be empty). */
  perRendition: string[][];
  /** Per rendition: colour tag options for its encoder (may be empty). */
  colorArgs: string[][];
}

export const DEINTERLACE = "bwdif=mode=send_frame:parity=auto:deint=interlaced";

/** Bits per sample a rendition is encoded with. */
export function renditionBitDepth(pixelFormat: string | undefined): number {
  const depth = /p(10|12)(?:le|be)$/.exec(pixelFormat ?? "");
  return depth ? Number(depth[1]) : 8;
}

/**
 * HDR → SDR BT.709 for an 8-bit encode. zimg linearises with the source's own transfer, matrix and
 * primaries (stated explicitly, so a stream whose frames lost their tags still converts), at a nominal
 * peak of 100 nits; the gamut goes to BT.709 in linear light (float RGB), Hable's curve compresses the
 * highlights without the desaturation that clips colours, and the result is BT.709 limited range 4:2:0.
 */
export function toneMapChain(transfer: HdrTransfer, traits: VideoTraits): string[] {
  const primaries = traits.color_primaries === "bt709" ? "709" : "2020";
  const matrix = traits.color_space === "bt709" ? "709" : "2020_ncl";
  const range = traits.color_range === "pc" ? "full" : "limited";
  return [
    `zscale=tin=${transfer === "smpte2084" ? "smpte2084" : "arib-std-b67"}:min=${matrix}:pin=${primaries}:rin=${range}:t=linear:npl=100`,
    "format=gbrpf32le",
    "zscale=p=709",
    "tonemap=tonemap=hable:desat=0",
    "zscale=t=709:m=709:r=limited",
    "format=yuv420p",
  ];
}

/** The tags of a tone-mapped output: what the chain above produces. */
export const SDR_BT709_TAGS = ["-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-color_range", "tv"];

/** Tags that repeat the source's own (an HDR picture kept as it is), for the fields the source states. */
function sourceTags(traits: VideoTraits): string[] {
  const tags: string[] = [];
  if (traits.color_primaries) tags.push("-color_primaries", traits.color_primaries);
  if (traits.color_transfer) tags.push("-color_trc", traits.color_transfer);
  if (traits.color_space) tags.push("-colorspace", traits.color_space);
  if (traits.color_range) tags.push("-color_range", traits.color_range);
  return tags;
}

export function planPicture(traits: VideoTraits | undefined, pixelFormats: ReadonlyArray<string | undefined>): PicturePlan {
  const shared: string[] = [];
  if (isInterlaced(traits)) shared.push(DEINTERLACE);
  const hdr = hdrTransfer(traits);
  const toneMapped = pixelFormats.map((format) => hdr !== undefined && renditionBitDepth(format) === 8);
  let perRendition: string[][] = pixelFormats.map(() => []);
  if (hdr && traits) {
    const chain = toneMapChain(hdr, traits);
    // Every rendition 8-bit (the usual ladder): tone-map once, before the split.
    if (toneMapped.every(Boolean)) shared.push(...chain);
    else perRendition = toneMapped.map((yes) => (yes ? chain : []));
  }
  const colorArgs = toneMapped.map((yes) => (yes ? SDR_BT709_TAGS : hdr && traits ? sourceTags(traits) : []));
  return { shared, perRendition, colorArgs };
}
