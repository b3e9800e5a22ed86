import { describe, expect, test } from "bun:test";
import { GroupCommit } from "../../src/core/group-commit.ts";

/** A writer whose batches are recorded; `refuse` makes any batch holding that item fail, and that item alone too. */
function recorder(refuse?: number) {
  const batches: number[][] = [];
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const commits = new GroupCommit<number, string>({
    max: 3,
    writeBatch: async (items) => {
      batches.push(items);
      if (gate) await gate;
      if (refuse !== undefined && items.includes(refuse)) throw new Error(`refused ${refuse}`);
      return items.map((n) => `ok ${n}`);
    },
    writeOne: async (item) => {
      batches.push([item]);
      if (item === refuse) throw new Error(`refused ${item}`);
      return `one ${item}`;
    },
  });
  return {
    commits,
    batches,
    hold() {
      gate = new Promise((resolve) => (release = resolve));
    },
    open() {
      gate = undefined;
      release?.();
    },
  };
}

describe("GroupCommit", () => {
  test("items of one tick share a batch (at most max); each caller gets its own result", async () => {
    const w = recorder();
    const results = await Promise.all([1, 2, 3, 4].map((n) => w.commits.add(n)));
    expect(results).toEqual(["ok 1", "ok 2", "ok 3", "ok 4"]);
    expect(w.batches).toEqual([[1, 2, 3], [4]]);
  });

  test("an item arriving while a batch is written waits for the next batch", async () => {
    const w = recorder();
    w.hold();
    const first = w.commits.add(1);
    await Bun.sleep(0);
    const later = [w.commits.add(2), w.commits.add(3)];
    expect(w.batches).toEqual([[1]]);
    w.open();
    expect(await Promise.all([first, ...later])).toEqual(["ok 1", "ok 2", "ok 3"]);
    expect(w.batches).toEqual([[1], [2, 3]]);
  });

  test("a failed batch is written item by item: only the refused item's caller gets the error", async () => {
    const w = recorder(2);
    const settled = await Promise.allSettled([1, 2, 3].map((n) => w.commits.add(n)));
    expect(settled.map((s) => (s.status === "fulfilled" ? s.value : (s.reason as Error).message))).toEqual(["one 1", "refused 2", "one 3"]);
    expect(w.batches).toEqual([[1, 2, 3], [1], [2], [3]]);
  });

  test("a lone item that fails rejects without a second write", async () => {
    const w = recorder(5);
    await expect(w.commits.add(5)).rejects.toThrow("refused 5");
    expect(w.batches).toEqual([[5]]);
  });
});
