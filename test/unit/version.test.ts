/** The kernel/worker compatibility rule (src/core/version.ts; docs/deployment.md, "Upgrades and versions"). */
import { describe, expect, test } from "bun:test";
import { COMMIT, releaseLine, VERSION, VERSION_WITH_COMMIT, workerCompatibility, workerVersionCheck } from "../../src/core/version.ts";

describe("versions", () => {
  test("release line is major.minor; anything else is not a version", () => {
    expect(releaseLine("0.4.2")).toEqual([0, 4]);
    expect(releaseLine("1.12.0-rc.1+abc")).toEqual([1, 12]);
    expect(releaseLine("dev")).toBeUndefined();
    expect(releaseLine("1.2")).toBeUndefined();
  });

  test("kernel N works with workers N-1 and N; newer workers, older ones and other majors do not", () => {
    expect(workerCompatibility("0.4.0", "0.4.7")).toBe("same");
    expect(workerCompatibility("0.4.3", "0.3.9")).toBe("previous");
    expect(workerCompatibility("0.4.0", "0.2.0")).toBe("incompatible");
    expect(workerCompatibility("0.4.0", "0.5.0")).toBe("incompatible");
    expect(workerCompatibility("2.0.0", "1.9.0")).toBe("incompatible");
    expect(workerCompatibility("0.4.0", "garbage")).toBe("incompatible");
  });

  test("the readiness entry warns naming each incompatible worker, and says when some are one line behind", () => {
    expect(workerVersionCheck("0.4.0", [])).toEqual({ status: "ok", detail: "0 on 0.4" });
    expect(workerVersionCheck("0.4.0", [{ id: "a", version: "0.4.1" }, { id: "b", version: "0.3.0" }])).toEqual({
      status: "ok",
      detail: "1 of 2 on the previous release line (compatible; upgrade them next)",
    });
    const bad = workerVersionCheck("0.4.0", [{ id: "a", version: "0.4.0" }, { id: "old-1", version: "0.2.5" }, { id: "new-1", version: "0.5.0" }]);
    expect(bad.status).toBe("warn");
    expect(bad.detail).toContain("old-1 (0.2.5), new-1 (0.5.0)");
    expect(bad.detail).not.toContain("a (0.4.0)");
  });

  test("--version's string carries the commit as semver build metadata (\"dev\" from source)", () => {
    expect(VERSION_WITH_COMMIT).toBe(`${VERSION}+${COMMIT}`);
    expect(COMMIT).toBe("dev");
  });
});
