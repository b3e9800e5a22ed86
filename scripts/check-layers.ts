/**
 * Checks that layers point one way and that no module takes part in an import cycle (the rules are in
 * scripts/lib/layers.ts, the layers in docs/architecture.md §1). Prints every finding; exits 1 if any.
 *
 *   bun scripts/check-layers.ts
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { checkLayers, type LayerReport } from "./lib/layers.ts";

/** The folders whose TypeScript files are checked: the product (src/) and the plugin implementations. */
export const CHECKED_FOLDERS = ["src", "plugins"];

/** path → text of every .ts and .tsx file (declaration files aside) under the checked folders of `root`. */
export function readTree(root: string): Record<string, string> {
  const sources: Record<string, string> = {};
  for (const folder of CHECKED_FOLDERS) {
    for (const entry of readdirSync(join(root, folder), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !/\.tsx?$/.test(entry.name) || entry.name.endsWith(".d.ts")) continue;
      const path = join(entry.parentPath, entry.name);
      sources[relative(root, path).split("\\").join("/")] = readFileSync(path, "utf8");
    }
  }
  return sources;
}

export function formatReport(report: LayerReport): string[] {
  return [
    ...report.violations.map((v) => `${v.rule}: ${v.message}`),
    ...report.cycles.map((c) => `cycle: ${[...c, c[0]].join(" -> ")}`),
  ];
}

if (import.meta.main) {
  const lines = formatReport(checkLayers(readTree(join(import.meta.dir, ".."))));
  for (const line of lines) console.log(line);
  console.log(lines.length === 0 ? "layers: every import points down, no cycles" : `layers: ${lines.length} finding(s)`);
  process.exit(lines.length === 0 ? 0 : 1);
}
