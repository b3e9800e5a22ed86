import { describe, expect, test } from "bun:test";
import type { AppError } from "../../src/core/errors.ts";
import { choosePlugin, type Routable, storageSchemeOf } from "../../src/plugin-runtime/host/routing.ts";
import { isCompatible, parseFrame } from "../../src/plugin-runtime/protocol.ts";
import { restartDelay } from "../../src/plugin-runtime/host/supervisor.ts";

const p = (id: string, over: Partial<Routable> = {}): Routable => ({ id, pillar: "storage", priority: 0, schemes: ["fs"], usable: true, disabled: false, ...over });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as AppError).code;
  }
  return "no error";
}

describe("plugin routing", () => {
  test("explicit id wins over priority", () => {
    expect(choosePlugin([p("a", { priority: 100 }), p("b", { priority: 1 })], "storage", { id: "b" }).id).toBe("b");
  });
  test("highest priority, ties broken by id, independent of input order", () => {
    const list = [p("zeta", { priority: 5 }), p("alpha", { priority: 5 }), p("low", { priority: 1 })];
    expect(choosePlugin(list, "storage").id).toBe("alpha");
    expect(choosePlugin([...list].reverse(), "storage").id).toBe("alpha");
  });
  test("storage by scheme", () => {
    const list = [p("storage-fs", { priority: 100, schemes: ["file", "fs"] }), p("storage-s3", { priority: 90, schemes: ["s3"] })];
    expect(choosePlugin(list, "storage", { scheme: storageSchemeOf("s3://bucket/key.mp4") }).id).toBe("storage-s3");
    expect(choosePlugin(list, "storage", { scheme: storageSchemeOf("uploads/abc.mp4") }).id).toBe("storage-fs");
    expect(choosePlugin(list, "storage", { scheme: storageSchemeOf("file:///x") }).id).toBe("storage-fs");
  });
  test("skips unusable plugins; clear codes when nothing fits", () => {
    expect(choosePlugin([p("a", { priority: 9, usable: false }), p("b")], "storage").id).toBe("b");
    expect(codeOf(() => choosePlugin([p("a", { usable: false })], "storage"))).toBe("WE-PLG-005");
    expect(codeOf(() => choosePlugin([p("a", { disabled: true })], "storage"))).toBe("WE-PLG-001");
    expect(codeOf(() => choosePlugin([p("a")], "storage", { id: "nope" }))).toBe("WE-PLG-001");
    expect(codeOf(() => choosePlugin([p("a", { disabled: true })], "storage", { id: "a" }))).toBe("WE-PLG-002");
    expect(codeOf(() => choosePlugin([p("a")], "storage", { scheme: "s3" }))).toBe("WE-PLG-001");
  });
});

describe("protocol", () => {
  test("API compatibility is by major version", () => {
    expect(isCompatible("1.0")).toBe(true);
    expect(isCompatible("1.7")).toBe(true);
    expect(isCompatible("2.0")).toBe(false);
    expect(isCompatible("0.9")).toBe(false);
    expect(isCompatible("garbage")).toBe(false);
  });
  test("non-protocol lines are not frames", () => {
    expect(parseFrame("hello")).toBeUndefined();
    expect(parseFrame('{"not":"rpc"}')).toBeUndefined();
    expect(parseFrame("{broken")).toBeUndefined();
    expect(parseFrame('{"jsonrpc":"2.0","id":1,"result":5}')).toEqual({ jsonrpc: "2.0", id: 1, result: 5 });
  });
  test("restart backoff doubles up to the cap", () => {
    const t = { backoffBaseMs: 1000, backoffMaxMs: 30_000 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => restartDelay(n, t))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });
});
