/**
 * Bundles the web dashboard (src/ui/) into the one archive file that the compiled kernel embeds
 * (src/kernel/api/ui-bundle.ts), and prints each file's size plain, gzip and brotli. scripts/lib/compile.ts
 * runs it for every kernel build (build.ts, release.ts); a kernel run from source bundles src/ui/ itself.
 *
 *   bun scripts/build-ui.ts [--out FILE]
 */
import { writeFileSync } from "node:fs";
import { archiveBundle, bundleUi, type UiBundle } from "../src/kernel/api/ui-bundle.ts";

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/** What the first page downloads: index.html, the entry script and stylesheet, not the lazily loaded chunks. */
export function firstPageFiles(bundle: UiBundle): string[] {
  const html = new TextDecoder().decode(bundle.index.body);
  return [...bundle.assets.keys()].filter((name) => html.includes(`/${name}"`));
}

export function sizeReport(bundle: UiBundle): string[] {
  const first = new Set(firstPageFiles(bundle));
  const lines = [...bundle.assets.values()].map((a) => `${a.name.padEnd(28)} ${kib(a.body.byteLength).padStart(10)} ${kib(a.gzip.byteLength).padStart(10)} gzip ${kib(a.brotli.byteLength).padStart(10)} br${first.has(a.name) ? "  (first page)" : "  (lazy)"}`);
  const firstJs = [...bundle.assets.values()].filter((a) => first.has(a.name) && a.name.endsWith(".js"));
  lines.push(`first page JS: ${kib(firstJs.reduce((n, a) => n + a.gzip.byteLength, 0))} gzip, ${kib(firstJs.reduce((n, a) => n + a.brotli.byteLength, 0))} brotli`);
  return lines;
}

if (import.meta.main) {
  const outArg = process.argv.indexOf("--out");
  const bundle = await bundleUi();
  if (outArg > 0 && process.argv[outArg + 1]) writeFileSync(process.argv[outArg + 1]!, archiveBundle(bundle));
  for (const line of sizeReport(bundle)) process.stdout.write(`${line}\n`);
}
