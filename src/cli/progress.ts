/**
 * Progress display: pure formatting (bytes, durations, bars, the upload and job lines; unit-tested) and a
 * renderer on stderr. On a terminal the line is redrawn in place by cli-progress (at most ~10 times a
 * second); when stderr is not a terminal it never uses a carriage return and prints a plain line only when
 * something worth a line changed (a new state, every 10 %), so logs of CI jobs stay readable.
 */

import { SingleBar } from "cli-progress";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** `0 B`, `512 B`, `1.5 KiB`, `12.3 MiB`. */
export function formatBytes(count: number): string {
  let v = count;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${UNITS[i]}`;
}

/** `7s`, `1m05s`, `2h03m`; `--` when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** `[=========>          ]` for a fraction 0–1 (clamped), `width` characters inside the brackets. */
export function bar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(f * width);
  const head = full < width ? ">" : "";
  return `[${"=".repeat(full)}${head}${" ".repeat(Math.max(0, width - full - head.length))}]`;
}

/** Percent with one decimal below 100: `42.5%`, `100%`. */
export const formatPercent = (p: number) => (p >= 100 ? "100%" : `${Math.max(0, p).toFixed(1)}%`);

export interface TransferState {
  label: string;
  done: number;
  /** Total bytes; undefined when unknown (no Content-Length). */
  total?: number;
  elapsedS: number;
}

/** `upload clip.mp4 [=====>    ] 45.0% 4.5 MiB/10.0 MiB 2.1 MiB/s ETA 3s`. */
export function transferLine(state: TransferState): string {
  const rate = state.elapsedS > 0 ? state.done / state.elapsedS : 0;
  const rateText = `${formatBytes(rate)}/s`;
  if (!state.total) return `${state.label} ${formatBytes(state.done)} ${rateText}`;
  const eta = rate > 0 ? (state.total - state.done) / rate : null;
  return `${state.label} ${bar(state.done / state.total)} ${formatPercent((100 * state.done) / state.total)} ${formatBytes(state.done)}/${formatBytes(state.total)} ${rateText} ETA ${formatDuration(state.done >= state.total ? 0 : eta)}`;
}

export interface JobState {
  id: string;
  status: string;
  progress: number;
  eta_seconds?: number | null;
  /** Workers running a task of this job now. */
  workers?: string[];
}

/** `job 5c0e1a2b processing [====>   ] 42.5% ETA 12s workers: gpu-1, cpu-2`. */
export function jobLine(state: JobState): string {
  const parts = [`job ${state.id.slice(0, 8)}`, state.status.padEnd(10), bar(state.progress / 100), formatPercent(state.progress)];
  if (state.eta_seconds != null && state.status !== "completed") parts.push(`ETA ${formatDuration(state.eta_seconds)}`);
  if (state.workers?.length) parts.push(`workers: ${state.workers.join(", ")}`);
  return parts.join(" ");
}

/** What must change for a non-terminal display to print another line: the state or the 10 % step. */
export const plainKey = (status: string, percent: number) => `${status}:${Math.floor(Math.min(100, Math.max(0, percent)) / 10)}`;

export interface Sink {
  write(text: string): void;
  isTTY?: boolean;
  columns?: number;
}

/** One progress line on `out` (stderr): redrawn in place on a terminal (cli-progress), plain lines otherwise. */
export class ProgressLine {
  private lastKey: string | undefined;
  /** The terminal bar while a line is drawn; cli-progress redraws it (at most 10 times a second). */
  private bar: SingleBar | undefined;

  constructor(private readonly out: Sink = process.stderr as unknown as Sink) {}

  get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  /** A terminal that reports no width (0: a bare pty) gets 100 columns; one is kept free. */
  private width(): number {
    return Math.max(20, (this.out.columns || 100) - 1);
  }

  private draw(line: string, force: boolean): void {
    const text = line.slice(0, this.width());
    if (!this.bar) {
      const out = this.out;
      const width = () => this.width();
      // cli-progress writes through this stream: the sink, with the width the line was cut to.
      const stream = {
        write: (s: string) => {
          out.write(s);
          return true;
        },
        isTTY: true,
        get columns() {
          return width();
        },
      } as unknown as NodeJS.WritableStream;
      this.bar = new SingleBar({ stream, format: (_o, _p, payload: { line: string }) => payload.line, hideCursor: false, linewrap: true, fps: 10, clearOnComplete: false });
      this.bar.start(100, 0, { line: text });
      return;
    }
    this.bar.update({ line: text });
    if (force) this.bar.render();
  }

  /** Shows `line`; `key` says when a plain (non-terminal) display prints it; `force` draws it now. */
  update(line: string, key: string, force = false): void {
    if (this.tty) this.draw(line, force);
    else if (key !== this.lastKey) this.out.write(`${line}\n`);
    this.lastKey = key;
  }

  /** Ends the line: the final state is always shown, then the cursor moves on. */
  finish(line: string, key = "done"): void {
    if (this.tty) {
      this.draw(line, true);
      this.break();
    } else if (key !== this.lastKey) {
      this.out.write(`${line}\n`);
    }
    this.lastKey = key;
  }

  /** Moves off a half-drawn line before other output (a message, Ctrl-C). */
  break(): void {
    if (!this.bar) return;
    const bar = this.bar;
    this.bar = undefined;
    bar.stop();
  }
}
