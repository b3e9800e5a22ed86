/**
 * A restream publisher's `-progress pipe:1` report, reduced to what the runner needs: whether media is still
 * flowing (the watchdog's heartbeat: the bytes sent grow) and the bitrate. Pure: the runner feeds stdout
 * chunks in, lines may be split across chunks.
 */

export interface PublishProgress {
  /** Bytes FFmpeg has written to the destination so far (`total_size`). */
  totalBytes: number;
  /** Media time sent (`out_time_us`), seconds. */
  outTimeSeconds: number;
}

export interface PublishProgressParser {
  push(chunk: string): void;
}

export function createPublishProgressParser(onBlock: (progress: PublishProgress) => void): PublishProgressParser {
  let partial = "";
  let totalBytes = 0;
  let outTimeSeconds = 0;
  const line = (raw: string) => {
    const text = raw.trim();
    const eq = text.indexOf("=");
    if (eq <= 0) return;
    const key = text.slice(0, eq);
    const value = text.slice(eq + 1);
    if (key === "total_size" && /^\d+$/.test(value)) totalBytes = Math.max(totalBytes, Number(value));
    else if (key === "out_time_us" && /^-?\d+$/.test(value)) outTimeSeconds = Math.max(outTimeSeconds, Number(value) / 1e6);
    else if (key === "progress") onBlock({ totalBytes, outTimeSeconds });
  };
  return {
    push(chunk) {
      partial += chunk;
      let newline: number;
      while ((newline = partial.indexOf("\n")) >= 0) {
        line(partial.slice(0, newline));
        partial = partial.slice(newline + 1);
      }
      if (partial.length > 4096) partial = "";
    },
  };
}

/** kbit/s between two reports. */
export function bitrateKbps(previous: { totalBytes: number; at: number }, current: { totalBytes: number; at: number }): number {
  const seconds = (current.at - previous.at) / 1000;
  if (seconds <= 0) return 0;
  return Math.round(((current.totalBytes - previous.totalBytes) * 8) / 1000 / seconds);
}
