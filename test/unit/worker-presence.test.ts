/** The kernel validates worker presence entries (a process boundary) instead of casting them. */
import { describe, expect, test } from "bun:test";
import { parseWorkerPresence } from "../../src/core/worker-info.ts";
import { validPresence } from "../../src/kernel/workers/registry.ts";

const good = {
  id: "worker-a",
  hostname: "host-a",
  version: "0.1.0",
  slots: 2,
  running: 0,
  pools: ["cpu"],
  draining: false,
  capabilities: { ffmpeg: { version: "5.1" } },
  startedAt: "2026-12-05T00:00:00.000Z",
};

describe("worker presence", () => {
  test("a well-formed entry parses to the same values", () => {
    expect(parseWorkerPresence(good)).toEqual({ ok: true, presence: good });
  });

  test("a malformed entry names the field that is wrong", () => {
    const result = parseWorkerPresence({ ...good, slots: "two" });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem).toContain("slots");
    expect(parseWorkerPresence(null).ok).toBe(false);
    expect(parseWorkerPresence({ ...good, id: "" }).ok).toBe(false);
  });

  test("validPresence keeps the good entries and logs each bad one", () => {
    const warnings: Array<Record<string, unknown>> = [];
    const logger = { warn: (fields: Record<string, unknown>) => void warnings.push(fields) };
    const now = new Date();
    const kept = validPresence(
      [
        { id: "worker-a", info: good, updatedAt: now },
        { id: "worker-b", info: { ...good, id: "worker-b", pools: "cpu" }, updatedAt: now },
      ],
      logger as never,
    );
    expect(kept.map((entry) => entry.info.id)).toEqual(["worker-a"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ presence_id: "worker-b" });
    expect(String(warnings[0]!.problem)).toContain("pools");
  });
});
