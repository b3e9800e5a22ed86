/**
 * Job progress weighting (src/kernel/orchestrator/progress.ts), with exact expected values: analyze a small fixed
 * share, the media tasks by the media seconds they cover, packaging the rest; never above 100.
 */
import { describe, expect, test } from "bun:test";
import { jobProgress, type TaskProgressRow } from "../../src/kernel/orchestrator/progress.ts";

describe("jobProgress", () => {
  const t = (type: string, status: string, progress: number, mediaSeconds = 0): TaskProgressRow => ({ type, status, progress, mediaSeconds });

  test("no tasks → 0", () => {
    expect(jobProgress([])).toBe(0);
  });

  test("analyze alone is a 5 % share", () => {
    expect(jobProgress([t("analyze", "leased", 50)])).toBe(2.5);
    expect(jobProgress([t("analyze", "completed", 0)])).toBe(5);
    expect(jobProgress([t("analyze", "queued", 0)])).toBe(0);
  });

  test("media tasks share 85 % in proportion to their media seconds", () => {
    // 30 s done, 10 s not started: 85 · 30/40 = 63.75; + 5 → 68.75 → 68.8
    expect(jobProgress([t("analyze", "completed", 100), t("video", "completed", 100, 30), t("video", "queued", 0, 10)])).toBe(68.8);
    // swapped weights: 85 · 10/40 = 21.25; + 5 → 26.25 → 26.3
    expect(jobProgress([t("analyze", "completed", 100), t("video", "queued", 0, 30), t("video", "completed", 100, 10)])).toBe(26.3);
    // 60 s at 50 % and 10 s at 0 %: 85 · 3000/70/100 = 36.428… + 5 → 41.4
    expect(jobProgress([t("analyze", "completed", 100), t("video", "leased", 50, 60), t("video", "queued", 0, 10)])).toBe(41.4);
  });

  test("audio weighs 0.1 of video for the same media seconds", () => {
    // video 10 s done, audio 10 s not done: weights 10 and 1 → 85 · 10/11 = 77.27 + 5 → 82.3
    expect(jobProgress([t("analyze", "completed", 100), t("video", "completed", 100, 10), t("audio", "queued", 0, 10)])).toBe(82.3);
    // audio done, video not: 85 · 1/11 = 7.727 + 5 → 12.7
    expect(jobProgress([t("analyze", "completed", 100), t("video", "queued", 0, 10), t("audio", "completed", 100, 10)])).toBe(12.7);
  });

  test("a completed task counts 100 whatever its stored progress; progress is clamped to 0…100", () => {
    expect(jobProgress([t("analyze", "completed", 0), t("video", "completed", 0, 10), t("package", "completed", 0)])).toBe(100);
    expect(jobProgress([t("analyze", "leased", 250)])).toBe(5);
    expect(jobProgress([t("analyze", "leased", -40)])).toBe(0);
    expect(jobProgress([t("analyze", "completed", 100), t("video", "leased", 1000, 10), t("package", "leased", 1000)])).toBe(100);
  });

  test("the package share closes the gap; everything done is exactly 100", () => {
    const media = [t("analyze", "completed", 100), t("video", "completed", 100, 20), t("audio", "completed", 100, 20)];
    expect(jobProgress(media)).toBe(90);
    expect(jobProgress([...media, t("package", "queued", 0)])).toBe(90);
    expect(jobProgress([...media, t("package", "leased", 50)])).toBe(95);
    expect(jobProgress([...media, t("package", "completed", 100)])).toBe(100);
  });

  test("zero media seconds still weigh something (no division by zero)", () => {
    expect(jobProgress([t("analyze", "completed", 100), t("video", "leased", 50, 0)])).toBe(47.5);
    expect(jobProgress([t("analyze", "completed", 100), t("video", "completed", 100, 0), t("video", "queued", 0, 0)])).toBe(47.5);
  });

  test("result is ≤ 100 and rounded to one decimal", () => {
    const rows = [t("analyze", "completed", 100), t("video", "leased", 33.333, 7), t("video", "leased", 66.667, 13), t("audio", "leased", 12.5, 20)];
    const p = jobProgress(rows);
    expect(p).toBeLessThanOrEqual(100);
    expect(Math.round(p * 10)).toBeCloseTo(p * 10, 9);
    // exact: 5 + 85·(7·33.333 + 13·66.667 + 2·12.5)/22/100 = 5 + 85·0.5501…
    const exact = 5 + (85 * (7 * 33.333 + 13 * 66.667 + 2 * 12.5)) / 22 / 100;
    expect(p).toBe(Math.round(exact * 10) / 10);
    expect(p).toBe(48.5);
  });

  test("task types other than analyze/video/audio/package are ignored", () => {
    expect(jobProgress([t("analyze", "completed", 100), t("thumbnail", "completed", 100, 50)])).toBe(5);
  });
});
