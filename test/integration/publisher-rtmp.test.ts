/**
 * publisher-rtmp: the publisher contract, and the settings it accepts or refuses through the plugin protocol
 * (configure → WE-PLG-003 for a non-rtmp(s) URL), with the key a secret field.
 */
import { describe, expect, test } from "bun:test";
import plugin from "../../plugins/publisher-rtmp/plugin.ts";
import { isIngestUrl } from "../../plugins/publisher-rtmp/ingest-url.ts";
import type { PublisherPlugin } from "../../src/plugin-runtime/pillars.ts";
import { type PluginIo, manifestOf, servePlugin } from "../../src/plugin-runtime/sdk.ts";
import { callContext, runPublisherContract } from "../contract/publisher.contract.ts";

const log = { debug() {}, info() {}, warn() {}, error() {} };

async function configured(config: Record<string, unknown>): Promise<PublisherPlugin> {
  return (await plugin.create({ config: config as never, env: {}, log })) as PublisherPlugin;
}

runPublisherContract("publisher-rtmp", async () => ({
  publisher: await configured({ url: "rtmps://live.example.net:443/app/", key: "abc-123" }),
  expectedUrl: "rtmps://live.example.net:443/app",
  hasBroadcasts: false,
  cleanup: async () => {},
}));

/** Runs the plugin's protocol loop over in-memory lines and answers each request's reply frame. */
async function protocolReplies(requests: unknown[]): Promise<Array<Record<string, unknown>>> {
  const replies: Array<Record<string, unknown>> = [];
  const io: PluginIo = {
    lines: (async function* () {
      for (const r of requests) {
        yield JSON.stringify(r);
        // One at a time: configure must finish before the next request is read.
        const want = replies.length + 1;
        const deadline = Date.now() + 10_000;
        while (replies.length < want && Date.now() < deadline) await Bun.sleep(5);
      }
    })(),
    write: (line) => void replies.push(JSON.parse(line)),
    log: () => {},
    exit: () => {},
  };
  await servePlugin(plugin, io);
  return replies;
}

describe("publisher-rtmp settings", () => {
  test("the manifest declares the publisher pillar and the key as a secret", () => {
    const manifest = manifestOf(plugin);
    expect(manifest.pillar).toBe("publisher");
    expect(manifest.secret_fields).toEqual(["key"]);
  });

  test("configure refuses a non-rtmp(s) URL with WE-PLG-003 naming the field, and accepts rtmp://", async () => {
    const replies = await protocolReplies([
      { jsonrpc: "2.0", id: 1, method: "configure", params: { config: { url: "http://example.com/app", key: "k" }, env: {} } },
      { jsonrpc: "2.0", id: 2, method: "configure", params: { config: { url: "file:///etc/passwd", key: "k" }, env: {} } },
      { jsonrpc: "2.0", id: 3, method: "configure", params: { config: { url: "rtmp://127.0.0.1:1935/live", key: "k" }, env: {} } },
      { jsonrpc: "2.0", id: 4, method: "prepare_live", params: {} },
    ]);
    for (const id of [1, 2]) {
      const error = replies.find((r) => r.id === id)?.error as { message: string; data: { we_code: string; details: { issues: Array<{ path: string }> } } };
      expect(error.data.we_code).toBe("WE-PLG-003");
      expect(error.data.details.issues.map((i) => i.path)).toEqual(["url"]);
      expect(error.message).toContain("rtmp:// or rtmps://");
    }
    expect(replies.find((r) => r.id === 3)?.result).toEqual({ ok: true });
    expect(replies.find((r) => r.id === 4)?.result).toEqual({ url: "rtmp://127.0.0.1:1935/live", key: "k" });
  });

  test("prepare_live without url or key says which setting is missing", async () => {
    const publisher = await configured({ url: "rtmp://127.0.0.1/live" });
    expect((await publisher.health?.())?.status).toBe("degraded");
    const error = await publisher.prepare_live({}, callContext()).then(
      () => null,
      (e: { code: string; message: string }) => e,
    );
    expect(error?.code).toBe("WE-PLG-003");
    expect(error?.message).toBe("publisher-rtmp: set key in the plugin settings (PUT /v1/plugins/publisher-rtmp/config)");
  });

  test("ingest URLs: rtmp(s) with a host only; no credentials, query or fragment", () => {
    expect(isIngestUrl("rtmp://a.example/app")).toBe(true);
    expect(isIngestUrl("rtmps://a.example:443/app/sub")).toBe(true);
    for (const bad of ["http://a/app", "rtmp:///app", "rtmp://user:pw@a/app", "rtmp://a/app?x=1", "rtmp://a/app#f", "concat:rtmp://a", "not a url"]) {
      expect(isIngestUrl(bad)).toBe(false);
    }
  });
});
