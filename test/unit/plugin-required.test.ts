import { describe, expect, test } from "bun:test";
import { disableRefusal } from "../../src/kernel/plugin-registry/required.ts";
import { pluginLines } from "../../src/kernel/plugins-command.ts";

describe("disableRefusal", () => {
  const all = [
    { id: "encoder-ffmpeg", pillar: "encoder" as const, enabled: true },
    { id: "storage-fs", pillar: "storage" as const, enabled: true },
    { id: "storage-s3", pillar: "storage" as const, enabled: false },
    { id: "auth-basic", pillar: "auth" as const, enabled: true },
  ];
  test("the last enabled encoder or storage plugin is refused, naming the pillar", () => {
    expect(disableRefusal("encoder-ffmpeg", "encoder", all)).toContain("encoder-ffmpeg is the only enabled encoder plugin");
    expect(disableRefusal("storage-fs", "storage", all)).toContain("storage-fs is the only enabled storage plugin");
  });
  test("allowed when another plugin of the pillar is enabled, or for pillars nobody needs", () => {
    expect(disableRefusal("storage-fs", "storage", [...all.slice(0, 2), { id: "storage-s3", pillar: "storage", enabled: true }])).toBeUndefined();
    expect(disableRefusal("auth-basic", "auth", all)).toBeUndefined();
  });
});

test("pluginLines: stored rows override the defaults, sorted by id", () => {
  const lines = pluginLines([{ id: "encoder-ffmpeg", pillar: "encoder", enabled: false }, { id: "zz-third", pillar: "publisher", enabled: true }], { "encoder-ffmpeg": { enabled: true }, "storage-fs": { enabled: true } });
  expect(lines).toEqual([
    { id: "encoder-ffmpeg", pillar: "encoder", enabled: false, source: "stored" },
    { id: "storage-fs", pillar: "storage", enabled: true, source: "default" },
    { id: "zz-third", pillar: "publisher", enabled: true, source: "stored" },
  ]);
});
