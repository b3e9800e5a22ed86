/** MAX_TASKS_PER_JOB is validated with the kernel's configuration: a default, a range, one clear line. */
import { describe, expect, test } from "bun:test";
import { loadKernelConfig } from "../../src/kernel/config.ts";

describe("MAX_TASKS_PER_JOB", () => {
  test("defaults to 200 and takes a value in range", () => {
    expect(loadKernelConfig({}).MAX_TASKS_PER_JOB).toBe(200);
    expect(loadKernelConfig({ MAX_TASKS_PER_JOB: "50" }).MAX_TASKS_PER_JOB).toBe(50);
  });

  test.each(["5", "0", "-1", "1.5", "many", "100001"])("%s is refused with a message naming the variable", (value) => {
    expect(() => loadKernelConfig({ MAX_TASKS_PER_JOB: value })).toThrow(/MAX_TASKS_PER_JOB/);
  });
});
