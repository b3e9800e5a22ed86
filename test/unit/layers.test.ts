/**
 * Layers point one way and no module takes part in an import cycle (scripts/lib/layers.ts; the layers are
 * described in docs/architecture.md §1). The rules are tried on small synthetic trees first, so the check is
 * known to fail when it should, then run on the real tree.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { formatReport, readTree } from "../../scripts/check-layers.ts";
import { checkImport, checkLayers, importCycles, importSpecifiers, layerOf, resolveImport } from "../../scripts/lib/layers.ts";

/**
 * Violations that remain, each with the reason it is not fixed yet. The tree must show exactly these: a new
 * violation fails, and so does an entry here that no longer occurs (remove it when its fix lands).
 */
const PENDING: Record<string, string> = {};

/** The findings of a report as keys: `from -> to` for a violation, `cycle <first file>` for a cycle. */
const keysOf = (report: ReturnType<typeof checkLayers>) => [...report.violations.map((v) => `${v.from} -> ${v.to}`), ...report.cycles.map((c) => `cycle ${c[0]}`)].sort();

describe("layer rules", () => {
  test("import specifiers: static, type-only, re-exports, dynamic and typeof import(), never comments or strings", () => {
    const text = [
      `import type { A } from "./a.ts";`,
      `// import { x } from "./commented.ts";`,
      `export type { B } from "./b.ts";`,
      `export * from "./c.ts";`,
      `const d = await import("./d.ts");`,
      `type E = typeof import("./e.ts");`,
      `import {\n  f,\n  type G,\n} from "./f.ts";`,
      `const s = "import y from './string.ts'";`,
      `import { m } from "./m.ts" with { type: "macro" };`,
      `import { z } from "valibot";`,
    ].join("\n");
    expect(importSpecifiers(text)).toEqual(["./a.ts", "./b.ts", "./c.ts", "./d.ts", "./e.ts", "./f.ts", "./m.ts", "valibot"]);
  });

  test("resolution: relative paths only, with or without the extension", () => {
    const files = new Set(["src/core/a.ts", "src/db/b.ts", "src/db/c/index.ts"]);
    expect(resolveImport("src/db/x.ts", "../core/a.ts", files)).toBe("src/core/a.ts");
    expect(resolveImport("src/db/x.ts", "./b", files)).toBe("src/db/b.ts");
    expect(resolveImport("src/db/x.ts", "./c", files)).toBe("src/db/c/index.ts");
    expect(resolveImport("src/db/x.ts", "drizzle-orm", files)).toBeUndefined();
    expect(resolveImport("src/db/x.ts", "node:path", files)).toBeUndefined();
  });

  test("layers and plugin units", () => {
    expect(layerOf("src/core/errors.ts")?.layer.name).toBe("core");
    expect(layerOf("src/kernel/api/jobs.ts")?.layer.name).toBe("kernel");
    expect(layerOf("src/cli/main.ts")?.layer.name).toBe("cli");
    expect(layerOf("plugins/storage-fs/sign.ts")?.unit).toBe("plugins/storage-fs/");
    expect(layerOf("test/unit/x.test.ts")).toBeUndefined();
  });

  test("downward and same-layer imports pass; upward, sideways, plugin internals and test code fail", () => {
    expect(checkImport("src/kernel/start.ts", "src/worker/embedded.ts")).toBeUndefined();
    expect(checkImport("src/media/progress.ts", "src/plugin-runtime/pillars.ts")).toBeUndefined();
    expect(checkImport("plugins/storage-fs/plugin.ts", "plugins/storage-fs/sign.ts")).toBeUndefined();
    expect(checkImport("plugins/storage-fs/plugin.ts", "src/plugin-runtime/sdk.ts")).toBeUndefined();
    expect(checkImport("src/plugin-runtime/builtin.ts", "plugins/storage-fs/plugin.ts")).toBeUndefined(); // sanctioned loader
    expect(checkImport("src/core/x.ts", "src/bus/types.ts")?.rule).toBe("upward");
    expect(checkImport("src/worker/x.ts", "src/kernel/context.ts")?.rule).toBe("upward");
    expect(checkImport("src/db/x.ts", "src/bus/types.ts")?.rule).toBe("sideways");
    expect(checkImport("src/kernel/x.ts", "plugins/storage-fs/sign.ts")?.rule).toBe("sealed");
    expect(checkImport("plugins/storage-s3/x.ts", "plugins/storage-fs/keys.ts")?.rule).toBe("sealed");
    expect(checkImport("src/plugin-runtime/builtin.ts", "plugins/storage-fs/sign.ts")?.rule).toBe("sealed");
    expect(checkImport("src/kernel/x.ts", "test/helpers/db.ts")?.rule).toBe("not-shipped");
  });

  test("plugins import only core, media and the SDK (src/plugin-runtime/sdk.ts, pillars.ts, protocol.ts, shared/)", () => {
    for (const ok of ["src/core/errors.ts", "src/media/probe.ts", "src/plugin-runtime/sdk.ts", "src/plugin-runtime/pillars.ts", "src/plugin-runtime/protocol.ts", "src/plugin-runtime/shared/url-signing.ts"]) {
      expect(checkImport("plugins/storage-fs/store.ts", ok)).toBeUndefined();
    }
    for (const bad of ["src/plugin-runtime/host/host.ts", "src/plugin-runtime/remote-settings.ts", "src/db/schema.ts", "src/bus/types.ts", "src/worker/capabilities.ts", "src/kernel/context.ts"]) {
      expect(checkImport("plugins/storage-fs/store.ts", bad)?.rule).toBe("plugin-api");
    }
    // The kernel and the worker reach what they share with plugins through the SDK, never a plugin's folder.
    expect(checkImport("src/kernel/api/storage-urls.ts", "src/plugin-runtime/shared/url-signing.ts")).toBeUndefined();
    expect(checkImport("src/kernel/api/storage-urls.ts", "plugins/storage-fs/store.ts")?.rule).toBe("sealed");
  });

  test("cycles: type-only imports count, a long ring and a self-import are found, a diamond is not a cycle", () => {
    const tree = {
      "src/kernel/a.ts": `import type { B } from "./b.ts";`,
      "src/kernel/b.ts": `import type { C } from "./c.ts";`,
      "src/kernel/c.ts": `import type { A } from "./a.ts";`,
      "src/kernel/self.ts": `export type { S } from "./self.ts";`,
      "src/kernel/top.ts": `import "./left.ts"; import "./right.ts";`,
      "src/kernel/left.ts": `import "./bottom.ts";`,
      "src/kernel/right.ts": `import "./bottom.ts";`,
      "src/kernel/bottom.ts": `export const x = 1;`,
    };
    expect(checkLayers(tree).cycles).toEqual([["src/kernel/a.ts", "src/kernel/b.ts", "src/kernel/c.ts"], ["src/kernel/self.ts"]]);
    // A chain far longer than any call stack allows a recursive search.
    const ring = Array.from({ length: 20_000 }, (_, i) => ({ from: `f${i}`, to: `f${(i + 1) % 20_000}` }));
    expect(importCycles(ring)[0]).toHaveLength(20_000);
  });

  test("a file in a folder that is in no layer is a finding (a new folder is placed before it is checked)", () => {
    const report = checkLayers({ "src/newthing/a.ts": `import "../core/b.ts";`, "src/core/b.ts": "" });
    expect(report.violations.map((v) => [v.from, v.rule])).toEqual([["src/newthing/a.ts", "unlayered"]]);
    expect(checkImport("src/cli/main.ts", "src/kernel/context.ts")?.rule).toBe("sideways");
  });

  test("a report names each finding on one line", () => {
    const report = checkLayers({ "src/core/a.ts": `import type { Bus } from "../bus/b.ts";`, "src/bus/b.ts": `import "../core/a.ts";` });
    expect(formatReport(report)).toEqual([
      "upward: src/core/a.ts (core) imports src/bus/b.ts (bus), a higher layer",
      "cycle: src/bus/b.ts -> src/core/a.ts -> src/bus/b.ts",
    ]);
  });
});

describe("the source tree", () => {
  const report = checkLayers(readTree(join(import.meta.dir, "../..")));

  test("is read: every layer has files, and imports were found", () => {
    const sources = readTree(join(import.meta.dir, "../.."));
    for (const folder of ["src/core/", "src/db/", "src/bus/", "src/plugin-runtime/", "src/media/", "plugins/", "src/worker/", "src/kernel/", "src/cli/"]) {
      expect(Object.keys(sources).filter((f) => f.startsWith(folder)).length).toBeGreaterThan(0);
    }
    expect(Object.values(sources).flatMap(importSpecifiers).length).toBeGreaterThan(500);
  });

  test("has no upward import and no cycle beyond the pending list, and every pending entry still occurs", () => {
    const found = keysOf(report);
    // The one-line explanation of each unexpected finding, so a failure says what to fix.
    const unexpected = formatReport({ violations: report.violations.filter((v) => !(`${v.from} -> ${v.to}` in PENDING)), cycles: report.cycles.filter((c) => !(`cycle ${c[0]}` in PENDING)) });
    const fixed = Object.keys(PENDING).filter((k) => !found.includes(k));
    expect({ unexpected, fixed }).toEqual({ unexpected: [], fixed: [] });
  });
});
