/**
 * The live stream destinations' rules (src/kernel/live/destinations-rules.ts), pure apart from the secret box:
 * a PATCH is checked against the destination it changes, keys are sealed and never in a view or a message.
 */
import { describe, expect, test } from "bun:test";
import { AppError } from "../../src/core/errors.ts";
import { createSecretBox } from "../../src/core/secret-box.ts";
import { destinationView, planDestination, planDestinationPatch, type StreamDestinationRow } from "../../src/kernel/live/destinations-rules.ts";

const box = createSecretBox("d".repeat(40));
const KEY = "live_Secret-Key-123";

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("not refused");
}

const row = (over: Partial<StreamDestinationRow> = {}): StreamDestinationRow => ({
  id: "5e8d2f41-9c3a-4b7e-8f10-2d6c4a9b1e03",
  streamId: "c2a9e4f7-1b3d-4e6a-9f80-7d5c3b2a1e94",
  publisher: "publisher-rtmp",
  name: "Own",
  url: "rtmp://live.example.com/app",
  keySealed: box.encrypt(KEY),
  enabled: true,
  transcode: null,
  createdAt: new Date("2026-01-31T11:58:00Z"),
  updatedAt: new Date("2026-01-31T11:58:00Z"),
  ...over,
});

describe("planDestination", () => {
  test("defaults (publisher-rtmp, enabled) and the key sealed", () => {
    const plan = planDestination({ name: " Own ", url: "rtmps://live.example.com/app", key: KEY }, box);
    expect(plan).toMatchObject({ publisher: "publisher-rtmp", name: "Own", url: "rtmps://live.example.com/app", enabled: true });
    expect(JSON.stringify(plan)).not.toContain(KEY);
    expect(box.decrypt(plan.keySealed!)).toBe(KEY);
  });

  test("an OAuth publisher takes both url and key or neither", () => {
    expect(planDestination({ name: "YT", publisher: "publisher-youtube" }, box)).toMatchObject({ publisher: "publisher-youtube" });
    expect(refusal(() => planDestination({ name: "YT", publisher: "publisher-twitch", key: KEY }, box))).toEqual({ code: "WE-STR-005", message: "url: give both url and key, or neither (then publisher-twitch hands out its ingest when the stream goes live)" });
  });
});

describe("planDestinationPatch", () => {
  test("checked against the current row: an rtmp destination keeps its url and key", () => {
    expect(planDestinationPatch({ enabled: false }, row(), box)).toEqual({ enabled: false });
    // Moving an OAuth destination without ingest to publisher-rtmp needs url and key.
    const oauth = row({ publisher: "publisher-youtube", url: null, keySealed: null });
    expect(refusal(() => planDestinationPatch({ publisher: "publisher-rtmp" }, oauth, box)).message).toStartWith("url: required for publisher-rtmp");
    const moved = planDestinationPatch({ publisher: "publisher-rtmp", url: "rtmp://x.example.com/app", key: KEY }, oauth, box);
    expect(box.decrypt(moved.keySealed!)).toBe(KEY);
  });

  test("a refused key is described, never quoted", () => {
    const refused = refusal(() => planDestinationPatch({ key: `${KEY}/x` }, row(), box));
    expect(refused.code).toBe("WE-STR-005");
    expect(refused.message).not.toContain(KEY);
  });
});

test("the view says key_set, never the key or its sealed form", () => {
  const stored = row();
  const view = destinationView(stored);
  expect(view).toMatchObject({ key_set: true, status: "stopped", transcode: null });
  expect(JSON.stringify(view)).not.toContain(KEY);
  expect(JSON.stringify(view)).not.toContain(stored.keySealed!);
  expect(destinationView(row({ keySealed: null, url: null })).key_set).toBe(false);
});
