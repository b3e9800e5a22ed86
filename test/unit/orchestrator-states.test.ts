/**
 * The job and task state machines and the retry backoff (src/kernel/orchestrator/states.ts; docs/architecture.md
 * §4, §5), with exact expected values.
 */
import { describe, expect, test } from "bun:test";
import { JOB_STATUSES, TASK_STATUSES } from "../../src/db/schema.ts";
import { canMoveJob, canMoveTask, isJobTerminal, JOB_MOVES, JOB_TERMINAL, type JobStatus, retryDelayMs, TASK_MOVES, TASK_TERMINAL, type TaskStatus } from "../../src/kernel/orchestrator/states.ts";

/** The expected tables, written out independently of states.ts so a change there must be deliberate. */
const EXPECTED_JOB: Record<JobStatus, JobStatus[]> = {
  queued: ["analyzing", "failed", "cancelled"],
  analyzing: ["processing", "queued", "failed", "cancelled"],
  processing: ["packaging", "failed", "cancelled"],
  packaging: ["completed", "processing", "failed", "cancelled"],
  completed: [],
  failed: ["queued", "processing", "packaging"],
  cancelled: ["queued", "processing", "packaging"],
};
const EXPECTED_TASK: Record<TaskStatus, TaskStatus[]> = {
  queued: ["leased", "cancelled"],
  leased: ["completed", "queued", "failed", "cancelled"],
  completed: ["queued"],
  failed: ["queued"],
  cancelled: ["queued"],
};

describe("job state machine", () => {
  test("JOB_MOVES is exactly the expected table", () => {
    expect(Object.keys(JOB_MOVES).sort()).toEqual([...JOB_STATUSES].sort());
    for (const s of JOB_STATUSES) expect([...JOB_MOVES[s]].sort()).toEqual([...EXPECTED_JOB[s]].sort());
  });

  const pairs = JOB_STATUSES.flatMap((from) => JOB_STATUSES.map((to) => [from, to, EXPECTED_JOB[from].includes(to)] as const));
  test.each(pairs)("canMoveJob(%s → %s) is %p", (from, to, allowed) => {
    expect(canMoveJob(from, to)).toBe(allowed);
  });

  test("49 pairs checked, 20 allowed, no self-moves", () => {
    expect(pairs.length).toBe(49);
    expect(pairs.filter(([, , ok]) => ok).length).toBe(20);
    for (const s of JOB_STATUSES) expect(canMoveJob(s, s)).toBe(false);
  });

  test("terminal states: completed has no way out; failed and cancelled only go back to work (retry)", () => {
    expect([...JOB_TERMINAL].sort()).toEqual(["cancelled", "completed", "failed"]);
    expect(JOB_MOVES.completed).toEqual([]);
    expect([...JOB_MOVES.cancelled].sort()).toEqual(["packaging", "processing", "queued"]);
    expect([...JOB_MOVES.failed].sort()).toEqual(["packaging", "processing", "queued"]);
    // No terminal state can be reached from another terminal state: a terminal state is never overwritten by one.
    for (const from of JOB_TERMINAL) for (const to of JOB_TERMINAL) expect(canMoveJob(from, to)).toBe(false);
  });


  test("isJobTerminal", () => {
    expect(JOB_STATUSES.filter(isJobTerminal)).toEqual(["completed", "failed", "cancelled"]);
    expect(isJobTerminal("bogus")).toBe(false);
  });
});

describe("task state machine", () => {
  test("TASK_MOVES is exactly the expected table", () => {
    expect(Object.keys(TASK_MOVES).sort()).toEqual([...TASK_STATUSES].sort());
    for (const s of TASK_STATUSES) expect([...TASK_MOVES[s]].sort()).toEqual([...EXPECTED_TASK[s]].sort());
  });

  const pairs = TASK_STATUSES.flatMap((from) => TASK_STATUSES.map((to) => [from, to, EXPECTED_TASK[from].includes(to)] as const));
  test.each(pairs)("canMoveTask(%s → %s) is %p", (from, to, allowed) => {
    expect(canMoveTask(from, to)).toBe(allowed);
  });

  test("terminal task states only go back to queued (job retry; a completed one when its output is gone)", () => {
    expect([...TASK_TERMINAL].sort()).toEqual(["cancelled", "completed", "failed"]);
    expect(pairs.filter(([, , ok]) => ok).length).toBe(9);
    expect(TASK_MOVES.completed).toEqual(["queued"]);
    expect(TASK_MOVES.failed).toEqual(["queued"]);
    expect(TASK_MOVES.cancelled).toEqual(["queued"]);
    // Only queued → leased: a lease is never granted from another state.
    expect(TASK_STATUSES.filter((s) => canMoveTask(s, "leased"))).toEqual(["queued"]);
  });
});

describe("retryDelayMs = min(5000 · 2^n, 300000)", () => {
  const expected = [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000];
  test.each(expected.map((ms, n) => [n, ms]))("n=%d → %d ms", (n, ms) => {
    expect(retryDelayMs(n)).toBe(ms);
  });
  test("never above 5 minutes, even for large n", () => {
    expect(retryDelayMs(30)).toBe(300_000);
    expect(retryDelayMs(1000)).toBe(300_000);
  });
});
