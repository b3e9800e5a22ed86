import { describe, expect, test } from "bun:test";
import { table } from "../../src/cli/output.ts";
import { bar, formatBytes, formatDuration, jobLine, plainKey, ProgressLine, transferLine } from "../../src/cli/progress.ts";

describe("cli progress formatting", () => {
  test("bytes and durations", () => {
    expect([0, 512, 1536, 5 * 1024 * 1024, 3 * 1024 ** 3].map(formatBytes)).toEqual(["0 B", "512 B", "1.5 KiB", "5.0 MiB", "3.0 GiB"]);
    expect([7.4, 65, 3725, null, -1, Number.NaN].map(formatDuration)).toEqual(["7s", "1m05s", "1h02m", "--", "--", "--"]);
  });

  test("bar: clamped, fixed width, full at 100 %", () => {
    expect(bar(0, 10)).toBe("[>         ]");
    expect(bar(0.5, 10)).toBe("[=====>    ]");
    expect(bar(1, 10)).toBe("[==========]");
    expect(bar(7, 10)).toBe("[==========]");
    expect(bar(Number.NaN, 4)).toBe("[>   ]");
  });

  test("transfer line: percent, sizes, rate, ETA; unknown total shows bytes and rate", () => {
    expect(transferLine({ label: "upload a.mp4", done: 512 * 1024, total: 1024 * 1024, elapsedS: 1 })).toBe(
      "upload a.mp4 [============>           ] 50.0% 512.0 KiB/1.0 MiB 512.0 KiB/s ETA 1s",
    );
    expect(transferLine({ label: "upload a.mp4", done: 1024, total: 1024, elapsedS: 0 })).toMatch(/100% 1\.0 KiB\/1\.0 KiB 0 B\/s ETA 0s$/);
    expect(transferLine({ label: "download x", done: 2048, elapsedS: 2 })).toBe("download x 2.0 KiB 1.0 KiB/s");
  });

  test("job line: short id, state, bar, ETA while running, busy workers", () => {
    const l = jobLine({ id: "5c0e1a2b-0000-4000-8000-000000000000", status: "processing", progress: 42.5, eta_seconds: 12, workers: ["w1", "w2"] });
    expect(l).toBe("job 5c0e1a2b processing [==========>             ] 42.5% ETA 12s workers: w1, w2");
    expect(jobLine({ id: "5c0e1a2b", status: "completed", progress: 100, eta_seconds: 3 })).toBe("job 5c0e1a2b completed  [========================] 100%");
  });

  test("plain display prints a line per state or 10 % step, never a carriage return; a terminal redraws", () => {
    expect(plainKey("processing", 41)).toBe(plainKey("processing", 49.9));
    expect(plainKey("processing", 49.9)).not.toBe(plainKey("processing", 50));
    const written: string[] = [];
    const plain = new ProgressLine({ write: (t) => written.push(t), isTTY: false });
    for (const p of [1, 5, 12, 15, 100]) plain.update(`p ${p}`, plainKey("x", p));
    plain.finish("done", "end");
    expect(written).toEqual(["p 1\n", "p 12\n", "p 100\n", "done\n"]);
    const tty: string[] = [];
    const term = new ProgressLine({ write: (t) => tty.push(t), isTTY: true, columns: 30 });
    term.update("a".repeat(50), "k", true);
    term.finish("done");
    // cli-progress: save the cursor, to column 1, the line cut to the width, clear to its right; restore, newline.
    expect(tty).toEqual(["\x1b7", "\x1b[1G", "a".repeat(29), "\x1b[0K", "\x1b[1G", "done", "\x1b[0K", "\x1b8", "\n"]);
  });

  test("table pads every column but the last", () => {
    expect(table(["ID", "STATE"], [["a", "queued"], ["bbb", "failed"]])).toBe("ID   STATE\na    queued\nbbb  failed\n");
  });
});
