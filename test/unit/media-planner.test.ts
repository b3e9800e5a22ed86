import { describe, expect, test } from "bun:test";
import { type Chunk, DEFAULT_CHUNK_BOUNDS, type Keyframe, PlanProblem, planChunks } from "../../src/media/planner.ts";

/** Keyframes every `gop` frames; pts rounded to 6 decimals like ffprobe's pts_time. */
function gopIndex(gop: number, total: number, fps: number, start = 0): Keyframe[] {
  const out: Keyframe[] = [];
  for (let frame = 0; frame < total; frame += gop) out.push({ pts: Number((start + frame / fps).toFixed(6)), frame });
  return out;
}

function input(over: { duration_s: number; fps: number; total_frames: number; keyframes: Keyframe[]; free_slots: number }) {
  return over;
}

function covers(chunks: Chunk[], total: number): boolean {
  let next = 0;
  for (const [i, c] of chunks.entries()) {
    if (c.seq !== i || c.start_frame !== next || c.frames <= 0) return false;
    next += c.frames;
  }
  return next === total;
}

describe("planChunks: when not to split", () => {
  const whole = (duration_s: number, total_frames: number, start_pts = 0): Chunk[] => [{ seq: 0, start_pts, start_frame: 0, frames: total_frames, duration_s }];

  test("shorter than min_split_duration_s", () => {
    expect(planChunks(input({ duration_s: 29.9, fps: 30, total_frames: 897, keyframes: gopIndex(60, 897, 30), free_slots: 8 }))).toEqual(whole(29.9, 897));
  });

  test("one free slot (or none)", () => {
    for (const free_slots of [1, 0]) {
      expect(planChunks(input({ duration_s: 50, fps: 30, total_frames: 1500, keyframes: gopIndex(60, 1500, 30), free_slots }))).toEqual(whole(50, 1500));
    }
  });

  test("…but never a chunk longer than max_chunk_s, even with one slot", () => {
    // Busy cluster, long video: 60 s chunks let workers that free up later take part, and bound a retry.
    for (const free_slots of [1, 0]) {
      expect(planChunks(input({ duration_s: 120, fps: 30, total_frames: 3600, keyframes: gopIndex(60, 3600, 30), free_slots }))).toEqual([
        { seq: 0, start_pts: 0, start_frame: 0, frames: 1800, duration_s: 60 },
        { seq: 1, start_pts: 60, start_frame: 1800, frames: 1800, duration_s: 60 },
      ]);
    }
  });

  test("a single keyframe", () => {
    expect(planChunks(input({ duration_s: 120, fps: 30, total_frames: 3600, keyframes: [{ pts: 1.4, frame: 0 }], free_slots: 4 }))).toEqual(
      whole(120, 3600, 1.4),
    );
  });

  test("the only split point would leave a sliver under min_chunk_s/2", () => {
    // 40 s at 25 fps, keyframes at 0 s and 38 s: boundary 38 s (nearest to 20 s) leaves 2 s < 5 s.
    const keyframes = [
      { pts: 0, frame: 0 },
      { pts: 38, frame: 950 },
    ];
    expect(planChunks(input({ duration_s: 40, fps: 25, total_frames: 1000, keyframes, free_slots: 2 }))).toEqual(whole(40, 1000));
  });
});

describe("planChunks: splitting", () => {
  test("duration ÷ free slots when that is within bounds", () => {
    expect(planChunks(input({ duration_s: 120, fps: 30, total_frames: 3600, keyframes: gopIndex(60, 3600, 30), free_slots: 4 }))).toEqual([
      { seq: 0, start_pts: 0, start_frame: 0, frames: 900, duration_s: 30 },
      { seq: 1, start_pts: 30, start_frame: 900, frames: 900, duration_s: 30 },
      { seq: 2, start_pts: 60, start_frame: 1800, frames: 900, duration_s: 30 },
      { seq: 3, start_pts: 90, start_frame: 2700, frames: 900, duration_s: 30 },
    ]);
  });

  test("max_chunk_s: a long video gets more chunks than slots", () => {
    const chunks = planChunks(input({ duration_s: 600, fps: 25, total_frames: 15000, keyframes: gopIndex(50, 15000, 25), free_slots: 3 }));
    expect(chunks.map((c) => [c.start_pts, c.frames])).toEqual([
      [0, 1500],
      [60, 1500],
      [120, 1500],
      [180, 1500],
      [240, 1500],
      [300, 1500],
      [360, 1500],
      [420, 1500],
      [480, 1500],
      [540, 1500],
    ]);
  });

  test("min_chunk_s: many slots do not make chunks shorter than the minimum", () => {
    const chunks = planChunks(input({ duration_s: 40, fps: 30, total_frames: 1200, keyframes: gopIndex(30, 1200, 30), free_slots: 16 }));
    expect(chunks.map((c) => [c.start_pts, c.start_frame, c.frames, c.duration_s])).toEqual([
      [0, 0, 300, 10],
      [10, 300, 300, 10],
      [20, 600, 300, 10],
      [30, 900, 300, 10],
    ]);
  });

  test("sparse keyframes (10 s GOPs at 23.976 fps): boundaries on the nearest keyframes", () => {
    const fps = 24000 / 1001;
    const keyframes = gopIndex(240, 2400, fps); // every 10.01 s
    expect(planChunks(input({ duration_s: 100.1, fps, total_frames: 2400, keyframes, free_slots: 3 }))).toEqual([
      { seq: 0, start_pts: 0, start_frame: 0, frames: 720, duration_s: 30.03 },
      { seq: 1, start_pts: 30.03, start_frame: 720, frames: 960, duration_s: 40.04 },
      { seq: 2, start_pts: 70.07, start_frame: 1680, frames: 720, duration_s: 30.03 },
    ]);
  });

  test("a non-zero start (MPEG-TS at 1.4 s) shifts the ideal boundaries with it", () => {
    const keyframes = gopIndex(60, 1800, 30, 1.4);
    expect(planChunks(input({ duration_s: 60, fps: 30, total_frames: 1800, keyframes, free_slots: 2 }))).toEqual([
      { seq: 0, start_pts: 1.4, start_frame: 0, frames: 900, duration_s: 30 },
      { seq: 1, start_pts: 31.4, start_frame: 900, frames: 900, duration_s: 30 },
    ]);
  });

  test("an interior sliver is merged into the chunk before it", () => {
    // 60 s at 10 fps, keyframes at 0, 19, 21.5 s: boundaries land on 19 and 21.5 (2.5 s apart).
    const keyframes = [
      { pts: 0, frame: 0 },
      { pts: 19, frame: 190 },
      { pts: 21.5, frame: 215 },
    ];
    expect(planChunks(input({ duration_s: 60, fps: 10, total_frames: 600, keyframes, free_slots: 3 }))).toEqual([
      { seq: 0, start_pts: 0, start_frame: 0, frames: 215, duration_s: 21.5 },
      { seq: 1, start_pts: 21.5, start_frame: 215, frames: 385, duration_s: 38.5 },
    ]);
  });

  test("a keyframe exactly between two ideal points: the earlier one wins", () => {
    // 40 s, 2 slots: ideal 20 s, keyframes at 18 s and 22 s.
    const keyframes = [
      { pts: 0, frame: 0 },
      { pts: 18, frame: 180 },
      { pts: 22, frame: 220 },
    ];
    expect(planChunks(input({ duration_s: 40, fps: 10, total_frames: 400, keyframes, free_slots: 2 })).map((c) => c.start_frame)).toEqual([0, 180]);
  });

  test("custom bounds (the integration test's 12 s clip)", () => {
    const bounds = { min_chunk_s: 2, max_chunk_s: 60, min_split_duration_s: 4 };
    expect(planChunks(input({ duration_s: 12, fps: 30, total_frames: 360, keyframes: gopIndex(60, 360, 30), free_slots: 3 }), bounds)).toEqual([
      { seq: 0, start_pts: 0, start_frame: 0, frames: 120, duration_s: 4 },
      { seq: 1, start_pts: 4, start_frame: 120, frames: 120, duration_s: 4 },
      { seq: 2, start_pts: 8, start_frame: 240, frames: 120, duration_s: 4 },
    ]);
  });

  test("unsorted keyframes are sorted; the result is deterministic", () => {
    const keyframes = gopIndex(60, 3600, 30);
    const a = planChunks(input({ duration_s: 120, fps: 30, total_frames: 3600, keyframes: [...keyframes].reverse(), free_slots: 4 }));
    const b = planChunks(input({ duration_s: 120, fps: 30, total_frames: 3600, keyframes, free_slots: 4 }));
    expect(a).toEqual(b);
  });

  test("every plan covers every frame exactly once and respects the bounds", () => {
    const fpsList = [24000 / 1001, 25, 30000 / 1001, 50, 60];
    for (const fps of fpsList) {
      for (const seconds of [31, 45, 61, 119, 300, 1000]) {
        for (const gop of [1, 2, 5, 10]) {
          for (const free_slots of [2, 3, 5, 8, 32]) {
            const total = Math.round(seconds * fps);
            const keyframes = gopIndex(Math.round(gop * fps), total, fps);
            const chunks = planChunks(input({ duration_s: total / fps, fps, total_frames: total, keyframes, free_slots }));
            expect(covers(chunks, total)).toBe(true);
            for (const c of chunks) {
              expect(keyframes.some((k) => k.frame === c.start_frame && k.pts === c.start_pts)).toBe(true);
              expect(c.duration_s).toBeGreaterThanOrEqual(DEFAULT_CHUNK_BOUNDS.min_chunk_s / 2);
            }
            const sum = chunks.reduce((s, c) => s + c.duration_s, 0);
            expect(Math.abs(sum - total / fps)).toBeLessThan(1e-5);
          }
        }
      }
    }
  });
});

describe("planChunks: bad input", () => {
  const ok = { duration_s: 60, fps: 30, total_frames: 1800, free_slots: 2 };
  test("errors say what is wrong", () => {
    const cases: [Parameters<typeof planChunks>[0], string][] = [
      [{ ...ok, keyframes: [] }, "the keyframe index is empty: the source has no decodable video"],
      [
        { ...ok, keyframes: [{ pts: 0.1, frame: 3 }] },
        "the first keyframe is frame 3 (pts 0.1), not frame 0: the stream starts with frames that cannot be decoded",
      ],
      [
        {
          ...ok,
          keyframes: [
            { pts: 0, frame: 0 },
            { pts: 2, frame: 0 },
          ],
        },
        "keyframe index lists frame 0 twice",
      ],
      [
        {
          ...ok,
          keyframes: [
            { pts: 0, frame: 0 },
            { pts: 0, frame: 60 },
          ],
        },
        "keyframe pts must increase with the frame index (frame 0 at 0, frame 60 at 0)",
      ],
      [
        {
          ...ok,
          keyframes: [
            { pts: 0, frame: 0 },
            { pts: 60, frame: 1800 },
          ],
        },
        "keyframe at frame 1800 is beyond the last frame (1799)",
      ],
      [{ ...ok, duration_s: 0, keyframes: [{ pts: 0, frame: 0 }] }, "duration_s must be positive (got 0)"],
      [{ ...ok, fps: Number.NaN, keyframes: [{ pts: 0, frame: 0 }] }, "fps must be positive (got NaN)"],
      [{ ...ok, total_frames: 1.5, keyframes: [{ pts: 0, frame: 0 }] }, "total_frames must be a positive integer (got 1.5)"],
    ];
    for (const [bad, message] of cases) expect(() => planChunks(bad)).toThrow(message);
    expect(() => planChunks({ ...ok, keyframes: [{ pts: 0, frame: 0 }] }, { min_chunk_s: 20, max_chunk_s: 10, min_split_duration_s: 30 })).toThrow(
      "chunk bounds must satisfy 0 < min_chunk_s <= max_chunk_s (got 20, 10)",
    );
  });
});

describe("planChunks: max_chunks (MAX_TASKS_PER_JOB)", () => {
  const hour = (free_slots: number) => input({ duration_s: 3600, fps: 10, total_frames: 36_000, keyframes: gopIndex(10, 36_000, 10), free_slots });

  test("a cap below what max_chunk_s asks for: exactly that many chunks, longer than max_chunk_s, covering every frame", () => {
    const chunks = planChunks(hour(1), { ...DEFAULT_CHUNK_BOUNDS, max_chunks: 12 });
    expect(chunks.length).toBe(12);
    expect(chunks.every((c) => c.duration_s === 300)).toBe(true);
    expect(covers(chunks, 36_000)).toBe(true);
  });

  test("a cap also bounds many free slots; without one the plan is unchanged", () => {
    expect(planChunks(hour(500), { ...DEFAULT_CHUNK_BOUNDS, max_chunks: 40 }).length).toBe(40);
    expect(planChunks(hour(500)).length).toBe(360);
    expect(planChunks(hour(1), { ...DEFAULT_CHUNK_BOUNDS, max_chunks: 1 }).length).toBe(1);
  });

  test("keyframe problems are PlanProblem (a property of the source), with the reason", () => {
    const repeated = { ...hour(1), keyframes: [{ pts: 1.4, frame: 0 }, { pts: 1.4, frame: 0 }] };
    expect(() => planChunks(repeated)).toThrow(PlanProblem);
    expect(() => planChunks(repeated)).toThrow("the video timestamps repeat: the keyframe index lists frame 0 twice (pts 1.4)");
  });
});
