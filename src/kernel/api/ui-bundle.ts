/**
 * The web dashboard's bundle (src/ui/, Preact + TSX) built by `bun build` into hashed, pre-compressed files,
 * and the single archive file that carries them into the compiled kernel (scripts/build-ui.ts writes it;
 * scripts/lib/compile.ts embeds it). A kernel run from source (`bun src/kernel/main.ts`, the integration
 * tests) has no archive and bundles src/ui/ itself on the first request for the dashboard.
 */
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

export interface UiAsset {
  name: string;
  type: string;
  body: Uint8Array;
  gzip: Uint8Array;
  brotli: Uint8Array;
}

export interface UiBundle {
  /** index.html, naming the hashed entry script and stylesheet. */
  index: UiAsset;
  /** Hashed files by name (served under UI_ASSET_PREFIX with a year-long cache). */
  assets: Map<string, UiAsset>;
}

export const UI_ASSET_PREFIX = "/ui/assets";
/** The archive's file name; the compiled kernel finds it among Bun.embeddedFiles by this stem. */
export const UI_ARCHIVE_STEM = "webencode-ui";

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  html: "text/html; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  woff2: "font/woff2",
};

export function contentTypeOf(name: string): string {
  return TYPES[name.slice(name.lastIndexOf(".") + 1)] ?? "application/octet-stream";
}

function asset(name: string, body: Uint8Array, quality = 11): UiAsset {
  const brotli = brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: quality, [constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength } });
  return { name, type: contentTypeOf(name), body, gzip: gzipSync(body, { level: 9 }), brotli };
}

/** index.html with the entry script and stylesheet put in place of its <!--ASSETS--> marker. */
export function renderIndex(template: string, entryScript: string, stylesheets: string[]): string {
  const tags = [...stylesheets.map((s) => `<link rel="stylesheet" href="${UI_ASSET_PREFIX}/${s}" />`), `<script type="module" src="${UI_ASSET_PREFIX}/${entryScript}"></script>`];
  return template.replace("<!--ASSETS-->", tags.join("\n    "));
}

/**
 * Bundles src/ui/ (code splitting: hls.js lands in a chunk of its own, loaded by the player only). Brotli's
 * best quality (11) takes seconds for hls.js: a release pays it once, a kernel run from source uses a quick one.
 */
export async function bundleUi({ uiFolder = join(import.meta.dir, "..", "..", "ui"), brotliQuality = 11 } = {}): Promise<UiBundle> {
  const result = await Bun.build({
    entrypoints: [join(uiFolder, "main.tsx")],
    target: "browser",
    format: "esm",
    splitting: true,
    minify: true,
    naming: { entry: "[name]-[hash].[ext]", chunk: "chunk-[hash].[ext]", asset: "[name]-[hash].[ext]" },
    define: { "process.env.NODE_ENV": JSON.stringify("production") },
  });
  if (!result.success) throw new Error(`the dashboard did not bundle: ${result.logs.map(String).join("\n")}`);
  const assets = new Map<string, UiAsset>();
  for (const output of result.outputs) {
    const name = output.path.replace(/^.*[\\/]/, "");
    assets.set(name, asset(name, new Uint8Array(await output.arrayBuffer()), brotliQuality));
  }
  const entry = result.outputs.find((o) => o.kind === "entry-point");
  if (!entry) throw new Error("the dashboard bundle has no entry point");
  const names = [...assets.keys()];
  const html = renderIndex(await Bun.file(join(uiFolder, "index.html")).text(), entry.path.replace(/^.*[\\/]/, ""), names.filter((n) => n.endsWith(".css")));
  return { index: asset("index.html", new TextEncoder().encode(html), brotliQuality), assets };
}

interface ArchivedAsset {
  name: string;
  body: string;
  gzip: string;
  brotli: string;
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"));

/** The bundle as one file (JSON, base64 bodies) for embedding in the compiled kernel. */
export function archiveBundle(bundle: UiBundle): string {
  const pack = (a: UiAsset): ArchivedAsset => ({ name: a.name, body: b64(a.body), gzip: b64(a.gzip), brotli: b64(a.brotli) });
  return JSON.stringify({ index: pack(bundle.index), assets: [...bundle.assets.values()].map(pack) });
}

export function unarchiveBundle(text: string): UiBundle {
  const parsed = JSON.parse(text) as { index: ArchivedAsset; assets: ArchivedAsset[] };
  const unpack = (a: ArchivedAsset): UiAsset => ({ name: a.name, type: contentTypeOf(a.name), body: unb64(a.body), gzip: unb64(a.gzip), brotli: unb64(a.brotli) });
  return { index: unpack(parsed.index), assets: new Map(parsed.assets.map((a) => [a.name, unpack(a)])) };
}

/** The archive embedded in this executable, if it is a compiled kernel built with the dashboard. */
export async function embeddedBundle(): Promise<UiBundle | undefined> {
  const file = Bun.embeddedFiles.find((f) => (f as Blob & { name?: string }).name?.startsWith(UI_ARCHIVE_STEM));
  return file ? unarchiveBundle(await file.text()) : undefined;
}

/** Which compressed body to send for an Accept-Encoding header: brotli, then gzip, else none. */
export function pickEncoding(acceptEncoding: string | null): "br" | "gzip" | undefined {
  const accepted = new Map(
    (acceptEncoding ?? "").split(",").map((part) => {
      const [coding, ...params] = part.trim().toLowerCase().split(";");
      const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((x) => x !== undefined);
      return [coding!, q === undefined ? 1 : Number(q)] as const;
    }),
  );
  const ok = (coding: string) => (accepted.get(coding) ?? accepted.get("*") ?? 0) > 0;
  if (ok("br")) return "br";
  if (ok("gzip")) return "gzip";
  return undefined;
}
