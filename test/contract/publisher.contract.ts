/**
 * The publisher contract (src/plugin-runtime/pillars.ts PublisherPlugin): what the restream engine relies on
 * from every publisher plugin. `setup` gives a configured plugin (against a local stand-in of its platform
 * where it has one) and what its ingest should look like.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CallContext, PublisherPlugin } from "../../src/plugin-runtime/pillars.ts";

export interface PublisherFixture {
  publisher: PublisherPlugin;
  /** The ingest URL prepare_live must answer (without the key). */
  expectedUrl: string;
  /** True when the platform has broadcasts: prepare_live answers a broadcast_id and end_live ends it. */
  hasBroadcasts: boolean;
  /** True when the plugin uploads files (capability `upload`); absent: either behaviour passes, but only those two. */
  uploads?: boolean;
  cleanup(): Promise<void>;
}

export type PublisherSetup = () => Promise<PublisherFixture>;

export function callContext(signal: AbortSignal = new AbortController().signal): CallContext {
  return { signal, progress() {} };
}

export function runPublisherContract(name: string, setup: PublisherSetup): void {
  describe(`publisher contract: ${name}`, () => {
    let fixture: PublisherFixture;
    beforeEach(async () => {
      fixture = await setup();
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    test("prepare_live answers an rtmp(s) ingest URL without the key, and a separate non-empty key", async () => {
      const ingest = await fixture.publisher.prepare_live({ title: "contract" }, callContext());
      expect(ingest.url).toBe(fixture.expectedUrl);
      expect(ingest.url).toMatch(/^rtmps?:\/\/[^/]+/);
      expect(ingest.url.endsWith("/")).toBe(false);
      expect(typeof ingest.key).toBe("string");
      expect(ingest.key.length).toBeGreaterThan(0);
      expect(ingest.url).not.toContain(ingest.key);
    });

    test("end_live ends what prepare_live started, and answers ended: false when there is nothing to end", async () => {
      const ingest = await fixture.publisher.prepare_live({ title: "contract end" }, callContext());
      if (fixture.hasBroadcasts) {
        expect(typeof ingest.broadcast_id).toBe("string");
        expect(await fixture.publisher.end_live({ broadcast_id: ingest.broadcast_id }, callContext())).toEqual({ ended: true });
      } else {
        expect(ingest.broadcast_id).toBeUndefined();
      }
      expect(await fixture.publisher.end_live({}, callContext())).toEqual({ ended: false });
    });

    test("health answers ok once configured", async () => {
      const health = (await fixture.publisher.health?.()) ?? { status: "ok" };
      expect(health.status).toBe("ok");
    });

    test("upload_vod uploads a file (video id, watch URL, every byte) or answers WE-PUB-005 (does not upload files)", async () => {
      const dir = mkdtempSync(join(tmpdir(), "publisher-contract-"));
      try {
        const path = join(dir, "clip.mp4");
        writeFileSync(path, randomBytes(300_000));
        const call = fixture.publisher.upload_vod?.({ source: { path }, size: 300_000, content_type: "video/mp4", title: "contract", privacy: "private" }, callContext());
        const outcome = call ? await call.then((result) => ({ result }), (error: { code?: string; message?: string }) => ({ error })) : { error: { code: "WE-PUB-005" } };
        if ("result" in outcome) {
          expect(fixture.uploads ?? true).toBe(true);
          expect(typeof outcome.result.video_id).toBe("string");
          expect(outcome.result.url).toMatch(/^https:\/\//);
          expect(outcome.result.bytes).toBe(300_000);
        } else {
          expect(fixture.uploads ?? false).toBe(false);
          expect(outcome.error.code).toBe("WE-PUB-005");
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
