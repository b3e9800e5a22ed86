/** Numbers as FFmpeg option values; shared so every builder writes times and rates the same way. */

/** Seconds as FFmpeg reads them: fixed-point with at most 6 decimals (µs, like ffprobe), never "1e-7". */
export function seconds(x: number): string {
  const text = String(Number(x.toFixed(6)));
  return text === "-0" ? "0" : text;
}

/** A bitrate option value: FFmpeg's `k` suffix is ×1000, as the profiles' *_kbps fields mean. */
export const kbps = (n: number) => `${n}k`;
