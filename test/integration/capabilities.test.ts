/**
 * Capability detection against the real Debian FFmpeg on this machine, which has no GPU: NVENC, QSV and
 * VAAPI encoders are listed but must not count. A scripted fake FFmpeg covers the hung-driver path.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectCapabilities, type WorkerCapabilities } from "../../src/media/capabilities.ts";

const FFMPEG = process.env.FFMPEG_PATH ?? "ffmpeg";
const FFPROBE = process.env.FFPROBE_PATH ?? "ffprobe";

describe("detectCapabilities on the local FFmpeg", () => {
  let caps: WorkerCapabilities;
  let elapsedMs = 0;

  beforeAll(async () => {
    const started = performance.now();
    caps = await detectCapabilities({ ffmpegPath: FFMPEG, ffprobePath: FFPROBE });
    elapsedMs = performance.now() - started;
  });

  test("finishes within a few seconds", () => {
    // Typically well under a second; generous for a loaded CI machine.
    expect(elapsedMs).toBeLessThan(15_000);
  });

  test("reports resolved paths and versions of both binaries", () => {
    expect(caps.ffmpeg.version).toStartWith("5.1");
    expect(caps.ffprobe.version).toStartWith("5.1");
    expect(caps.ffmpeg.path).toStartWith("/");
    expect(caps.ffprobe.path).toStartWith("/");
    expect(Number.isNaN(Date.parse(caps.detectedAt))).toBe(false);
  });

  test("lists the software encoders the ladders use, and common decoders", () => {
    for (const name of ["libx264", "aac", "libx265", "libsvtav1", "libvpx-vp9"]) expect(caps.encoders).toContain(name);
    for (const name of ["h264", "hevc", "aac"]) expect(caps.decoders).toContain(name);
    expect(caps.hwaccels).toContain("cuda");
  });

  test("serves only the cpu pool without a GPU", () => {
    expect(caps.pools).toEqual(["cpu"]);
    expect(caps.hardware.map((hw) => hw.family)).toEqual(["nvidia", "qsv", "vaapi"]);
    for (const hw of caps.hardware) expect(hw.encoders).toEqual([]);
  });

  test("a listed NVENC that cannot encode is a failure with a reason, not a capability", () => {
    expect(caps.encoders).toContain("h264_nvenc");
    const nvidia = caps.hardware.find((hw) => hw.family === "nvidia");
    expect(nvidia?.encoders).not.toContain("h264_nvenc");
    const failure = nvidia?.failed.find((f) => f.encoder === "h264_nvenc");
    expect(failure?.reason).toBeString();
    expect(failure?.reason).not.toBe("");
  });

  test("only listed encoders are tested (FFmpeg 5.1 has no av1_nvenc)", () => {
    const tested = caps.hardware.flatMap((hw) => [...hw.encoders, ...hw.failed.map((f) => f.encoder)]);
    for (const name of tested) expect(caps.encoders).toContain(name);
    expect(tested).not.toContain("av1_nvenc");
  });

  test("VAAPI is not tried without a render device", async () => {
    const c = await detectCapabilities({ ffmpegPath: FFMPEG, ffprobePath: FFPROBE, vaapiDevice: "/nonexistent/renderD128" });
    const vaapi = c.hardware.find((hw) => hw.family === "vaapi");
    expect(vaapi?.failed.length).toBeGreaterThan(0);
    for (const f of vaapi?.failed ?? []) expect(f.reason).toBe("no /dev/dri render device");
  });
});

describe("detectCapabilities with a broken setup", () => {
  let dir = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "webencode-caps-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("a missing ffmpeg rejects with an actionable message", async () => {
    await expect(detectCapabilities({ ffmpegPath: "/nonexistent/ffmpeg", ffprobePath: FFPROBE })).rejects.toThrow(
      'FFmpeg not found at "/nonexistent/ffmpeg": install it (Debian: apt-get install ffmpeg) or set FFMPEG_PATH',
    );
    await expect(detectCapabilities({ ffmpegPath: "webencode-no-such-ffmpeg", ffprobePath: FFPROBE })).rejects.toThrow(
      'FFmpeg not found at "webencode-no-such-ffmpeg": install it (Debian: apt-get install ffmpeg) or set FFMPEG_PATH',
    );
  });

  test("a missing ffprobe names FFPROBE_PATH", async () => {
    await expect(detectCapabilities({ ffmpegPath: FFMPEG, ffprobePath: "/nonexistent/ffprobe" })).rejects.toThrow(
      'FFprobe not found at "/nonexistent/ffprobe": install it (Debian: apt-get install ffmpeg) or set FFPROBE_PATH',
    );
  });

  test("a file without the execute bit is reported as such", async () => {
    const path = join(dir, "ffmpeg-not-executable");
    await writeFile(path, "#!/bin/sh\n");
    await chmod(path, 0o644);
    await expect(detectCapabilities({ ffmpegPath: path, ffprobePath: FFPROBE })).rejects.toThrow(
      `FFmpeg at "${path}" is not an executable file`,
    );
  });

  test("a program that is not FFmpeg is refused", async () => {
    await expect(detectCapabilities({ ffmpegPath: "/bin/true", ffprobePath: FFPROBE })).rejects.toThrow(
      'FFmpeg at "/bin/true" does not look like FFmpeg',
    );
  });

  test("a hanging test encode is killed at the timeout and recorded as a failure", async () => {
    // Lists two NVENC encoders, then hangs on any encode: h264_nvenc as the process itself (killed
    // directly), hevc_nvenc in a child that keeps the pipes open after the script is killed.
    const fake = join(dir, "ffmpeg-hangs");
    await writeFile(
      fake,
      `#!/bin/sh
case "$*" in
  *-version*) echo "ffmpeg version 5.1-fake Copyright (c) 2000-2026 the FFmpeg developers" ;;
  *-encoders*) printf 'Encoders:\\n V..... = Video\\n ------\\n V....D libx264              libx264 H.264\\n V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)\\n V....D hevc_nvenc           NVIDIA NVENC hevc encoder (codec hevc)\\n A..... aac                  AAC (Advanced Audio Coding)\\n' ;;
  *-decoders*) printf 'Decoders:\\n ------\\n' ;;
  *-hwaccels*) printf 'Hardware acceleration methods:\\ncuda\\n\\n' ;;
  *h264_nvenc*) exec sleep 30 ;;
  *) sleep 20 ;;
esac
`,
    );
    await chmod(fake, 0o755);

    const started = performance.now();
    const caps = await detectCapabilities({ ffmpegPath: fake, ffprobePath: fake, timeoutMs: 500 });
    const elapsed = performance.now() - started;

    expect(caps.ffmpeg.version).toBe("5.1-fake");
    expect(caps.hardware.find((hw) => hw.family === "nvidia")).toEqual({
      family: "nvidia",
      encoders: [],
      failed: [
        { encoder: "h264_nvenc", reason: "test encode timed out after 500 ms" },
        { encoder: "hevc_nvenc", reason: "test encode timed out after 500 ms" },
      ],
    });
    expect(caps.pools).toEqual(["cpu"]);
    // Timeout plus the pipe grace, not the 20 s or 30 s the hung encodes would have taken.
    expect(elapsed).toBeLessThan(10_000);
  });
});
