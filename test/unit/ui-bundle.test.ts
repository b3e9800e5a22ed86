/** The dashboard bundle: encoding negotiation, the archive round trip, index.html's asset tags, the size budget. */
import { describe, expect, test } from "bun:test";
import { archiveBundle, bundleUi, pickEncoding, renderIndex, unarchiveBundle, UI_ASSET_PREFIX } from "../../src/kernel/api/ui-bundle.ts";
import { firstPageFiles } from "../../scripts/build-ui.ts";

test("Accept-Encoding: brotli first, then gzip, honouring q=0", () => {
  expect(pickEncoding("gzip, deflate, br")).toBe("br");
  expect(pickEncoding("gzip")).toBe("gzip");
  expect(pickEncoding("br;q=0, gzip;q=0.5")).toBe("gzip");
  expect(pickEncoding("*")).toBe("br");
  expect(pickEncoding(null)).toBeUndefined();
  expect(pickEncoding("identity")).toBeUndefined();
});

test("index.html names the entry script as a module and the stylesheets, no inline script", () => {
  const html = renderIndex("<head><!--ASSETS--></head>", "main-abc.js", ["main-def.css"]);
  expect(html).toContain(`<script type="module" src="${UI_ASSET_PREFIX}/main-abc.js"></script>`);
  expect(html).toContain(`<link rel="stylesheet" href="${UI_ASSET_PREFIX}/main-def.css" />`);
});

describe("the real bundle", () => {
  test("hashed names, hls.js outside the first page, first-page JS within 250 KiB compressed, archive round trip", async () => {
    const bundle = await bundleUi({ brotliQuality: 4 });
    const names = [...bundle.assets.keys()];
    expect(names.every((n) => /-[a-z0-9]{8}\.(js|css)$/.test(n))).toBe(true);
    const first = firstPageFiles(bundle);
    expect(first.some((n) => n.endsWith(".js"))).toBe(true);
    const lazy = names.filter((n) => !first.includes(n));
    // hls.js is the big lazy chunk: it is not on the first page.
    expect(lazy.some((n) => new TextDecoder().decode(bundle.assets.get(n)!.body).includes("hls.js"))).toBe(true);
    const firstJsGzip = first.filter((n) => n.endsWith(".js")).reduce((sum, n) => sum + bundle.assets.get(n)!.gzip.byteLength, 0);
    expect(firstJsGzip).toBeLessThanOrEqual(250 * 1024);
    expect(new TextDecoder().decode(bundle.index.body)).not.toMatch(/<script>(?!<)/);
    const again = unarchiveBundle(archiveBundle(bundle));
    expect([...again.assets.keys()]).toEqual(names);
    expect(again.index.body).toEqual(bundle.index.body);
    expect(new Uint8Array(Bun.gunzipSync(new Uint8Array(again.assets.get(first[0]!)!.gzip)))).toEqual(new Uint8Array(bundle.assets.get(first[0]!)!.body));
  }, 60_000);
});
