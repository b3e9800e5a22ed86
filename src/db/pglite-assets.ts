/**
 * PGlite's WASM modules and filesystem bundle, embedded into the compiled kernel. Under `bun run` these
 * imports resolve to files in node_modules; inside the executable to its embedded copies, so the binary
 * needs nothing beside it. (Relative paths: the package's exports map does not expose these files.)
 */
import pgliteData from "../../node_modules/@electric-sql/pglite/dist/pglite.data" with { type: "file" };
import pgliteWasm from "../../node_modules/@electric-sql/pglite/dist/pglite.wasm" with { type: "file" };
import initdbWasm from "../../node_modules/@electric-sql/pglite/dist/initdb.wasm" with { type: "file" };

export async function loadPgliteAssets() {
  const [pgliteWasmModule, initdbWasmModule] = await Promise.all([
    WebAssembly.compile(await Bun.file(pgliteWasm).arrayBuffer()),
    WebAssembly.compile(await Bun.file(initdbWasm).arrayBuffer()),
  ]);
  return { pgliteWasmModule, initdbWasmModule, fsBundle: Bun.file(pgliteData) };
}
