/**
 * A job's progress from its tasks (pure): analyze is a small fixed share, the media tasks share most of it in
 * proportion to the media seconds they cover (a 60 s chunk weighs more than a 10 s one; audio is cheap), and
 * packaging closes the gap. Monotonicity is enforced where it is stored (greatest(old, new)).
 */
export interface TaskProgressRow {
  type: string;
  status: string;
  progress: number;
  mediaSeconds: number;
}

export const SHARE = { analyze: 5, media: 85, package: 10 };
/** Encoding audio costs a fraction of encoding video for the same media duration. */
const AUDIO_WEIGHT = 0.1;

export function jobProgress(tasks: TaskProgressRow[]): number {
  const pct = (t: TaskProgressRow) => (t.status === "completed" ? 100 : Math.max(0, Math.min(100, t.progress)));
  const analyze = tasks.find((t) => t.type === "analyze");
  let total = analyze ? (SHARE.analyze * pct(analyze)) / 100 : 0;
  const media = tasks.filter((t) => t.type === "video" || t.type === "audio");
  const weight = (t: TaskProgressRow) => Math.max(t.mediaSeconds, 0.001) * (t.type === "audio" ? AUDIO_WEIGHT : 1);
  const sum = media.reduce((s, t) => s + weight(t), 0);
  if (sum > 0) total += (SHARE.media * media.reduce((s, t) => s + weight(t) * pct(t), 0)) / sum / 100;
  const pack = tasks.find((t) => t.type === "package");
  if (pack) total += (SHARE.package * pct(pack)) / 100;
  return Math.round(Math.min(100, total) * 10) / 10;
}
