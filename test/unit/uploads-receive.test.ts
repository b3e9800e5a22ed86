/**
 * Upload filename sanitising (src/kernel/uploads/receive.ts).
 */
import { describe, expect, test } from "bun:test";
import { safeFilename } from "../../src/kernel/uploads/receive.ts";

describe("safeFilename", () => {
  test.each([
    [undefined, "upload.bin"],
    ["", "upload.bin"],
    ["clip.mp4", "clip.mp4"],
    ["../../etc/passwd", "passwd"],
    ["C:\\Users\\me\\Videos\\holiday.mov", "holiday.mov"],
    ["my video (1).mp4", "my_video_1_.mp4"],
    ["vidéo.mp4", "vid_o.mp4"],
    [".hidden", "hidden"],
    ["._.x", "x"],
    ["...", "upload.bin"],
    ["a/b/", "upload.bin"],
    ["film\u0000.mp4", "film_.mp4"],
    ["a;rm -rf ~.mp4", "a_rm_-rf_.mp4"],
  ])("%p → %p", (input, want) => {
    expect(safeFilename(input)).toBe(want);
  });

  test("long names are cut to 200 characters", () => {
    const out = safeFilename(`${"x".repeat(300)}.mp4`);
    expect(out).toBe("x".repeat(200));
  });
});
