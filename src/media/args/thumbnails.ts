/** Thumbnails: a poster JPEG, a sprite sheet of seek previews and the WebVTT track that maps onto it. */
import { seconds } from "./units.ts";

/**
 * One JPEG written to one file: `-q:v` is MJPEG's quality scale (lower is better), and `-update 1`
 * lets the image2 muxer write a plain file name instead of expecting a %d pattern.
 */
function jpegFileArgs(quality: number, output: string): string[] {
  return ["-c:v", "mjpeg", "-q:v", String(quality), "-f", "image2", "-update", "1", output];
}

export interface ThumbnailInput {
  /** A square-pixel output (the scale below ignores sample aspect ratio). */
  input: string;
  at_s: number;
  width: number;
  output: string;
}

/** A poster JPEG: input seeking is frame-accurate, the height follows the aspect ratio (even). */
export function thumbnailArgs(thumbnail: ThumbnailInput): string[] {
  return [
    "-ss",
    seconds(thumbnail.at_s),
    "-i",
    thumbnail.input,
    "-map",
    "0:v:0",
    "-frames:v",
    "1",
    "-vf",
    `scale=${thumbnail.width}:-2`,
    ...jpegFileArgs(2, thumbnail.output),
  ];
}

export interface SpriteInput {
  input: string;
  interval_s: number;
  columns: number;
  rows: number;
  tile_width: number;
  /** Needed by spriteVtt too, so the caller computes it (e.g. even(tile_width · h / w)). */
  tile_height: number;
  output: string;
}

/** One sprite sheet: a frame every interval_s, scaled, tiled columns×rows (a short video leaves blanks). */
export function spriteArgs(sprite: SpriteInput): string[] {
  return [
    "-i",
    sprite.input,
    "-map",
    "0:v:0",
    "-vf",
    `fps=1/${seconds(sprite.interval_s)},scale=${sprite.tile_width}:${sprite.tile_height},setsar=1,tile=${sprite.columns}x${sprite.rows}`,
    "-frames:v",
    "1",
    ...jpegFileArgs(3, sprite.output),
  ];
}

export interface SpriteVttInput {
  interval_s: number;
  /** Thumbnails in the sheet (normally ceil(duration / interval)). */
  count: number;
  columns: number;
  tile_width: number;
  tile_height: number;
  sprite_url: string;
  duration_s: number;
}

function vttTime(totalSeconds: number): string {
  const ms = Math.round(totalSeconds * 1000);
  const hh = Math.floor(ms / 3_600_000);
  const mm = Math.floor((ms % 3_600_000) / 60_000);
  const ss = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(hh)}:${pad(mm)}:${pad(ss)}.${pad(ms % 1000, 3)}`;
}

/** WebVTT seek-preview track: cue i covers [i·interval, (i+1)·interval) ∩ [0, duration] → tile i. */
export function spriteVtt(input: SpriteVttInput): string {
  const lines = ["WEBVTT", ""];
  for (let i = 0; i < input.count; i++) {
    const start = i * input.interval_s;
    if (start >= input.duration_s) break;
    const end = Math.min((i + 1) * input.interval_s, input.duration_s);
    const x = (i % input.columns) * input.tile_width;
    const y = Math.floor(i / input.columns) * input.tile_height;
    lines.push(`${vttTime(start)} --> ${vttTime(end)}`, `${input.sprite_url}#xywh=${x},${y},${input.tile_width},${input.tile_height}`, "");
  }
  return lines.join("\n");
}
