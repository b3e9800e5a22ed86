/**
 * The process guard (src/core/process-guard.ts) in a real child process: an unhandled rejection or an
 * uncaught exception is logged and survived once the kernel is serving, and still fatal (exit 1) while starting.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { escapedErrorAction } from "../../src/core/process-guard.ts";
import { BUN, ROOT, runProc } from "../helpers/proc.ts";

const script = (phase: string) => `
import { createLogger } from ${JSON.stringify(join(ROOT, "src/core/logger.ts"))};
import { installProcessGuard } from ${JSON.stringify(join(ROOT, "src/core/process-guard.ts"))};
const guard = installProcessGuard(createLogger("kernel", "info"));
guard.setPhase(${JSON.stringify(phase)});
void Promise.reject(new Error("nobody awaited me"));
setTimeout(() => { throw new Error("thrown from a timer"); }, 10);
setTimeout(() => { console.log("still alive, escaped=" + guard.escaped); }, 200);
`;

test("serving: both kinds of escaped errors are logged and the process keeps running", async () => {
  const r = await runProc([BUN, "-e", script("serving")], { timeoutMs: 20_000 });
  expect(r.code).toBe(0);
  expect(r.stdout).toContain("still alive, escaped=2");
  const lines = r.stderr.trim().split("\n").map((l) => JSON.parse(l) as { level: string; kind: string; error: string });
  expect(lines.map((l) => [l.kind, l.error])).toEqual([
    ["unhandledRejection", "nobody awaited me"],
    ["uncaughtException", "thrown from a timer"],
  ]);
  expect(lines.every((l) => l.level === "error")).toBe(true);
});

test("starting: an escaped error is fatal (exit 1, logged)", async () => {
  const r = await runProc([BUN, "-e", script("starting")], { timeoutMs: 20_000 });
  expect(r.code).toBe(1);
  expect(r.stdout).not.toContain("still alive");
  expect(r.stderr).toContain("while the kernel was starting: exiting");
});

test("escapedErrorAction: fatal only while starting", () => {
  expect(escapedErrorAction("starting")).toBe("exit");
  expect(escapedErrorAction("serving")).toBe("survive");
  expect(escapedErrorAction("stopping")).toBe("survive");
});
