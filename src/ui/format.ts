/** Display formatting, pure (unit-tested): sizes, durations, ages, percentages. */

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** 75 → "1 m 15 s"; 3700 → "1 h 1 m". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} m`;
}

/** How long ago `iso` was, relative to `now` (ms). */
export function age(iso: string | null | undefined, now: number): string {
  if (!iso) return "–";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "–";
  const seconds = Math.max(0, (now - t) / 1000);
  return `${duration(seconds)} ago`;
}

export function percent(progress: number | null | undefined): string {
  if (progress === null || progress === undefined || !Number.isFinite(progress)) return "0 %";
  return `${Math.round(Math.min(100, Math.max(0, progress)))} %`;
}

/** "2026-03-01T10:00:00.000Z" → "2026-03-01 10:00:00" (UTC, what the API and logs use). */
export function timestamp(iso: string | null | undefined): string {
  if (!iso) return "–";
  return iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "");
}
