/**
 * Where output goes: data on stdout (a table on a terminal; JSON with `--json` or whenever stdout is not a
 * terminal, so `webencode jobs ls | jq` just works), human messages and progress on stderr. No colours:
 * nothing here depends on NO_COLOR or the terminal's palette.
 */

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return `${all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n")}\n`;
}

/** Global output choices, from the root command's options. */
export interface OutputMode {
  json: boolean;
}

export function outputMode(flags: { json?: boolean }, stdoutIsTTY = Boolean(process.stdout.isTTY)): OutputMode {
  return { json: Boolean(flags.json) || !stdoutIsTTY };
}

/** One JSON document (or one NDJSON line of a stream) on stdout, flushed at once. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function printTable(headers: string[], rows: string[][]): void {
  process.stdout.write(rows.length ? table(headers, rows) : "(none)\n");
}

/** A human message on stderr. */
export function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** `2026-03-01T10:00:00.123Z` → `2026-03-01 10:00:00` (UTC, compact for tables). */
export const shortTime = (iso: unknown) => (typeof iso === "string" ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") : "");
