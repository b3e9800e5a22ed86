/**
 * dist/webencode is a client: its bundle must hold src/cli/, the version constant, commander and the CLI libraries
 * (eventsource-parser, cli-progress and its text-width helpers), and none of
 * the kernel, worker, database, bus, plugins or PGlite. Bundled here without --compile (the same module graph
 * `scripts/build.ts` compiles), so the check is fast and names any module that crept in.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
/** The CLI's libraries besides commander: SSE parsing, progress bars, and what cli-progress needs to measure text. */
const CLI_LIBS = ["eventsource-parser", "cli-progress", "string-width", "strip-ansi", "ansi-regex", "is-fullwidth-code-point", "emoji-regex"];

test("the CLI bundle holds only src/cli, core/version.ts, package.json, commander and the CLI's libraries, and stays small", async () => {
  const out = await Bun.build({ entrypoints: [join(ROOT, "src/cli/main.ts")], target: "bun", minify: false });
  expect(out.success, out.logs.join("\n")).toBe(true);
  const text = await out.outputs[0]!.text();
  const modules = [...text.matchAll(/^\/\/ (\S+\.(?:ts|js|json))$/gm)].map((m) => m[1]!);
  expect(modules.length).toBeGreaterThan(10);
  const foreign = modules.filter((m) => !m.startsWith("src/cli/") && m !== "src/core/version.ts" && m !== "package.json" && !m.startsWith("node_modules/commander/") && !CLI_LIBS.some((l) => m.startsWith(`node_modules/${l}/`)));
  expect(foreign).toEqual([]);
  const minified = await Bun.build({ entrypoints: [join(ROOT, "src/cli/main.ts")], target: "bun", minify: true });
  expect((await minified.outputs[0]!.text()).length).toBeLessThan(200 * 1024);
});
