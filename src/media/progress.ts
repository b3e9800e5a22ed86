/**
 * Reading a running FFmpeg: its `-progress pipe:1` report and the tail of its stderr. Pure: the process
 * runner (src/media/run.ts) feeds text chunks in, so both are unit-tested on captured output.
 */
import type { TranscodeProgress } from "../plugin-runtime/pillars.ts";

/**
 * The flags that make FFmpeg write the machine-readable report this module parses to stdout, and nothing
 * else: `-nostats` drops the human `frame=… \r` line from stderr, which would only flood the tail.
 */
export const PROGRESS_ARGS: readonly string[] = Object.freeze(["-progress", "pipe:1", "-nostats"]);

export interface ProgressParser {
  /** Any chunk of stdout; lines may be split across chunks. */
  push(chunk: string): void;
  /** The stream ended: a last line without a newline still counts. */
  end(): void;
}

/**
 * FFmpeg writes one `key=value` line per field and closes a block with `progress=continue` (or `end` as the
 * last one). Each closed block becomes one TranscodeProgress.
 *
 * Within one run the report never goes backward: at the start of an encode with B-frames FFmpeg reports a
 * slightly negative out_time (captured: `out_time_us=-66602` after `out_time_us=0`), and a block without a
 * usable time (`N/A`) keeps the previous one.
 *
 * @param durationS media seconds the output covers; without it (or when it is 0) percent stays 0 and only
 *                  out_time_s tells how far the run got.
 */
export function createProgressParser(durationS: number | undefined, onBlock: (p: TranscodeProgress) => void): ProgressParser {
  let partial = "";
  let fields = new Map<string, string>();
  let outTimeS = 0;
  let percent = 0;

  const closeBlock = () => {
    const block = fields;
    fields = new Map();
    // out_time_ms is not milliseconds: FFmpeg writes the same microsecond value under both names.
    const us = integerField(block, "out_time_us") ?? integerField(block, "out_time_ms");
    if (us !== undefined) outTimeS = Math.max(outTimeS, us / 1e6);
    // Two decimals are plenty for a progress bar and keep the wire and the tests free of float noise.
    if (durationS !== undefined && durationS > 0) percent = Math.max(percent, round2(clamp((outTimeS / durationS) * 100, 0, 100)));
    const p: TranscodeProgress = { percent, out_time_s: outTimeS };
    const fps = numberField(block, "fps");
    if (fps !== undefined) p.fps = fps;
    const speed = numberField(block, "speed", /x$/);
    if (speed !== undefined) p.speed = speed;
    const frame = integerField(block, "frame");
    if (frame !== undefined) p.frame = frame;
    // Only when FFmpeg dropped any (a live transcode falling behind): absent means none, as in every VOD run.
    const dropped = integerField(block, "drop_frames");
    if (dropped !== undefined && dropped > 0) p.drop_frames = dropped;
    onBlock(p);
  };

  const line = (raw: string) => {
    const text = raw.trim();
    const eq = text.indexOf("=");
    if (eq <= 0) return;
    const key = text.slice(0, eq).trim();
    const value = text.slice(eq + 1).trim();
    if (key === "progress") closeBlock();
    else fields.set(key, value);
  };

  return {
    push(chunk) {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        line(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    },
    end() {
      if (partial !== "") line(partial);
      partial = "";
    },
  };
}

/** A finite number from a field, or undefined for a missing field, `N/A` or anything unparsable. */
function numberField(block: Map<string, string>, key: string, unit?: RegExp): number | undefined {
  const raw = block.get(key);
  if (raw === undefined) return undefined;
  const text = unit ? raw.replace(unit, "").trim() : raw;
  // Number("") is 0, and "N/A" must not become a value: require something that looks like a number.
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function integerField(block: Map<string, string>, key: string): number | undefined {
  const raw = block.get(key);
  return raw !== undefined && /^-?\d+$/.test(raw) ? Number(raw) : undefined;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

/** A longer line is cut: one runaway line (a huge filter graph dump) must not defeat the memory bound. */
const MAX_LINE_CHARS = 4096;

/**
 * The last `maxLines` non-blank lines of a stream (FFmpeg's stderr), in bounded memory, for failure reports.
 *
 * A bare `\r` returns to the start of the line as on a terminal: FFmpeg's stats line (when `-nostats` is
 * missing) rewrites itself with `\r` thousands of times, and only its latest state is worth keeping.
 */
export class StderrTail {
  private readonly lines: string[] = [];
  private partial = "";

  constructor(private readonly maxLines = 50) {}

  push(chunk: string): void {
    this.partial += chunk;
    let nl: number;
    while ((nl = this.partial.indexOf("\n")) >= 0) {
      this.keep(visible(this.partial.slice(0, nl)));
      this.partial = this.partial.slice(nl + 1);
    }
    // A line that never ends (stats redrawn with \r forever) must not grow without bound either.
    const lastCr = this.partial.lastIndexOf("\r", this.partial.length - 2);
    if (lastCr >= 0) this.partial = this.partial.slice(lastCr + 1);
    if (this.partial.length > MAX_LINE_CHARS) this.partial = this.partial.slice(0, MAX_LINE_CHARS);
  }

  /** The kept lines, oldest first, joined with "\n"; an unfinished last line is included. */
  text(): string {
    const pending = visible(this.partial);
    const all = pending.trim() === "" ? this.lines : [...this.lines, pending].slice(-this.maxLines);
    return all.join("\n");
  }

  private keep(line: string): void {
    if (line.trim() === "") return;
    this.lines.push(line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}…` : line);
    if (this.lines.length > this.maxLines) this.lines.shift();
  }
}

/** What a terminal would show of one line: the text after its last carriage return ("\r\n" endings too). */
function visible(line: string): string {
  const body = line.endsWith("\r") ? line.slice(0, -1) : line;
  const cr = body.lastIndexOf("\r");
  return (cr >= 0 ? body.slice(cr + 1) : body).trimEnd();
}
