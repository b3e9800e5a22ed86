import { describe, expect, test } from "bun:test";
import { startPeriodic } from "../../src/core/periodic.ts";
import { holdsFor, waitFor } from "../helpers/wait.ts";

describe("startPeriodic", () => {
  test("a slow round is not overlapped: ticks meanwhile are skipped, not queued behind it", async () => {
    let running = 0;
    let most = 0;
    let rounds = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const stop = startPeriodic(async () => {
      running++;
      most = Math.max(most, running);
      rounds++;
      if (rounds === 1) await gate; // the first round outlasts many ticks
      running--;
    }, 5);
    await waitFor(() => rounds === 1, 2000, "the first round");
    await holdsFor(() => rounds === 1, 60, "no second round while the first is held (~12 ticks)");
    release();
    await waitFor(() => rounds >= 3, 2000, "rounds to go on after the slow one");
    await stop();
    expect(most).toBe(1);
  });

  test("immediately runs a round before the first interval; stop waits for the round in progress and ends the loop", async () => {
    let finished = 0;
    let started = 0;
    const stop = startPeriodic(async () => {
      started++;
      await Bun.sleep(50);
      finished++;
    }, 60_000, { immediately: true });
    await waitFor(() => started === 1, 2000, "the immediate round");
    await stop();
    expect(finished).toBe(1);
    expect(started).toBe(1);
  });

  test("a round that throws does not end the loop", async () => {
    let rounds = 0;
    const stop = startPeriodic(async () => {
      rounds++;
      throw new Error("boom");
    }, 5);
    await waitFor(() => rounds >= 3, 2000, "three rounds despite each throwing");
    await stop();
  });
});
