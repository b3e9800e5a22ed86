/**
 * The pure pieces the orchestrator and its neighbours rely on, with exact expected values: the job/task
 * state machines and retry backoff (DESIGN.md §3), job progress weighting, failure classification of FFmpeg
 * runs, source URL validation, Range parsing, upload filename sanitising, secret splitting, audio grouping,
 * and the FFprobe summary (on ffprobe-shaped JSON, the video stream below captured from FFmpeg 5.1's ffprobe).
 */
import { describe, expect, test } from "bun:test";
import { AppError } from "../../src/core/errors.ts";
import { parseSourceUrl } from "../../src/core/source-url.ts";
import { audioGroups } from "../../src/media/task-params.ts";
import { JOB_STATUSES, TASK_STATUSES } from "../../src/db/schema.ts";
import { contentTypeOf, parseRange } from "../../src/kernel/api/storage-urls.ts";
import { jobProgress, type TaskProgressRow } from "../../src/kernel/orchestrator/progress.ts";
import {
  canMoveJob,
  canMoveTask,
  isJobTerminal,
  JOB_MOVES,
  JOB_TERMINAL,
  type JobStatus,
  
  retryDelayMs,
  TASK_MOVES,
  TASK_TERMINAL,
  type TaskStatus,
} from "../../src/kernel/orchestrator/states.ts";
import { splitSecrets } from "../../src/kernel/plugins/settings-store.ts";
import { safeFilename } from "../../src/kernel/uploads/receive.ts";
import { BUILTIN_PROFILES, type ProfileSpec } from "../../src/media/profiles.ts";
import { parseRate, rotationOf, SourceProblem, summarizeProbe } from "../../src/media/source.ts";
import type { TranscodeResult } from "../../src/plugins/pillars.ts";
import { classifyError, TaskFailure } from "../../src/worker/failures.ts";

// ---------------------------------------------------------------------------------------------------------
// State machines
// ---------------------------------------------------------------------------------------------------------

/** The expected tables, written out independently of states.ts so a change there must be deliberate. */
const EXPECTED_JOB: Record<JobStatus, JobStatus[]> = {
  queued: ["analyzing", "failed", "cancelled"],
  analyzing: ["processing", "queued", "failed", "cancelled"],
  processing: ["packaging", "failed", "cancelled"],
  packaging: ["completed", "processing", "failed", "cancelled"],
  completed: [],
  failed: ["queued", "processing", "packaging"],
  cancelled: ["queued", "processing", "packaging"],
};
const EXPECTED_TASK: Record<TaskStatus, TaskStatus[]> = {
  queued: ["leased", "cancelled"],
  leased: ["completed", "queued", "failed", "cancelled"],
  completed: ["queued"],
  failed: ["queued"],
  cancelled: ["queued"],
};

describe("job state machine", () => {
  test("JOB_MOVES is exactly the expected table", () => {
    expect(Object.keys(JOB_MOVES).sort()).toEqual([...JOB_STATUSES].sort());
    for (const s of JOB_STATUSES) expect([...JOB_MOVES[s]].sort()).toEqual([...EXPECTED_JOB[s]].sort());
  });

  const pairs = JOB_STATUSES.flatMap((from) => JOB_STATUSES.map((to) => [from, to, EXPECTED_JOB[from].includes(to)] as const));
  test.each(pairs)("canMoveJob(%s → %s) is %p", (from, to, allowed) => {
    expect(canMoveJob(from, to)).toBe(allowed);
  });

  test("49 pairs checked, 20 allowed, no self-moves", () => {
    expect(pairs.length).toBe(49);
    expect(pairs.filter(([, , ok]) => ok).length).toBe(20);
    for (const s of JOB_STATUSES) expect(canMoveJob(s, s)).toBe(false);
  });

  test("terminal states: completed has no way out; failed and cancelled only go back to work (retry)", () => {
    expect([...JOB_TERMINAL].sort()).toEqual(["cancelled", "completed", "failed"]);
    expect(JOB_MOVES.completed).toEqual([]);
    expect([...JOB_MOVES.cancelled].sort()).toEqual(["packaging", "processing", "queued"]);
    expect([...JOB_MOVES.failed].sort()).toEqual(["packaging", "processing", "queued"]);
    // No terminal state can be reached from another terminal state: a terminal state is never overwritten by one.
    for (const from of JOB_TERMINAL) for (const to of JOB_TERMINAL) expect(canMoveJob(from, to)).toBe(false);
  });


  test("isJobTerminal", () => {
    expect(JOB_STATUSES.filter(isJobTerminal)).toEqual(["completed", "failed", "cancelled"]);
    expect(isJobTerminal("bogus")).toBe(false);
  });
});

describe("task state machine", () => {
  test("TASK_MOVES is exactly the expected table", () => {
    expect(Object.keys(TASK_MOVES).sort()).toEqual([...TASK_STATUSES].sort());
    for (const s of TASK_STATUSES) expect([...TASK_MOVES[s]].sort()).toEqual([...EXPECTED_TASK[s]].sort());
  });

  const pairs = TASK_STATUSES.flatMap((from) => TASK_STATUSES.map((to) => [from, to, EXPECTED_TASK[from].includes(to)] as const));
  test.each(pairs)("canMoveTask(%s → %s) is %p", (from, to, allowed) => {
    expect(canMoveTask(from, to)).toBe(allowed);
  });

  test("terminal task states only go back to queued (job retry; a completed one when its output is gone)", () => {
    expect([...TASK_TERMINAL].sort()).toEqual(["cancelled", "completed", "failed"]);
    expect(pairs.filter(([, , ok]) => ok).length).toBe(9);
    expect(TASK_MOVES.completed).toEqual(["queued"]);
    expect(TASK_MOVES.failed).toEqual(["queued"]);
    expect(TASK_MOVES.cancelled).toEqual(["queued"]);
    // Only queued → leased: a lease is never granted from another state.
    expect(TASK_STATUSES.filter((s) => canMoveTask(s, "leased"))).toEqual(["queued"]);
  });
});

describe("retryDelayMs = min(5000 · 2^n, 300000)", () => {
  const expected = [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000];
  test.each(expected.map((ms, n) => [n, ms]))("n=%d → %d ms", (n, ms) => {
    expect(retryDelayMs(n)).toBe(ms);
  });
  test("never above 5 minutes, even for large n", () => {
    expect(retryDelayMs(30)).toBe(300_000);
    expect(retryDelayMs(1000)).toBe(300_000);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Job progress
// ---------------------------------------------------------------------------------------------------------

describe("jobProgress", () => {
  const t = (type: string, status: string, progress: number, mediaSeconds = 0): TaskProgressRow => ({ type, status, progress, mediaSeconds });

  test("no tasks → 0", () => {
    expect(jobProgress([])).toBe(0);
  });

  test("analyze alone is a 5 % share", () => {
    expect(jobProgress([t("analyze", "leased", 50)])).toBe(2.5);
    expect(jobProgress([t("analyze", "completed", 0)])).toBe(5);
    expect(jobProgress([t("analyze", "queued", 0)])).toBe(0);
  });

  test("media tasks share 85 % in proportion to their media seconds", () => {
    // 30 s done, 10 s not started: 85 · 30/40 = 63.75; + 5 → 68.75 → 68.8
    expect(jobProgress([t("analyze", "completed", 100), t("video", "completed", 100, 30), t("video", "queued", 0, 10)])).toBe(68.8);
    // swapped weights: 85 · 10/40 = 21.25; + 5 → 26.25 → 26.3
    expect(jobProgress([t("analyze", "completed", 100), t("video", "queued", 0, 30), t("video", "completed", 100, 10)])).toBe(26.3);
    // 60 s at 50 % and 10 s at 0 %: 85 · 3000/70/100 = 36.428… + 5 → 41.4
    expect(jobProgress([t("analyze", "completed", 100), t("video", "leased", 50, 60), t("video", "queued", 0, 10)])).toBe(41.4);
  });

  test("audio weighs 0.1 of video for the same media seconds", () => {
    // video 10 s done, audio 10 s not done: weights 10 and 1 → 85 · 10/11 = 77.27 + 5 → 82.3
    expect(jobProgress([t("analyze", "completed", 100), t("video", "completed", 100, 10), t("audio", "queued", 0, 10)])).toBe(82.3);
    // audio done, video not: 85 · 1/11 = 7.727 + 5 → 12.7
    expect(jobProgress([t("analyze", "completed", 100), t("video", "queued", 0, 10), t("audio", "completed", 100, 10)])).toBe(12.7);
  });

  test("a completed task counts 100 whatever its stored progress; progress is clamped to 0…100", () => {
    expect(jobProgress([t("analyze", "completed", 0), t("video", "completed", 0, 10), t("package", "completed", 0)])).toBe(100);
    expect(jobProgress([t("analyze", "leased", 250)])).toBe(5);
    expect(jobProgress([t("analyze", "leased", -40)])).toBe(0);
    expect(jobProgress([t("analyze", "completed", 100), t("video", "leased", 1000, 10), t("package", "leased", 1000)])).toBe(100);
  });

  test("the package share closes the gap; everything done is exactly 100", () => {
    const media = [t("analyze", "completed", 100), t("video", "completed", 100, 20), t("audio", "completed", 100, 20)];
    expect(jobProgress(media)).toBe(90);
    expect(jobProgress([...media, t("package", "queued", 0)])).toBe(90);
    expect(jobProgress([...media, t("package", "leased", 50)])).toBe(95);
    expect(jobProgress([...media, t("package", "completed", 100)])).toBe(100);
  });

  test("zero media seconds still weigh something (no division by zero)", () => {
    expect(jobProgress([t("analyze", "completed", 100), t("video", "leased", 50, 0)])).toBe(47.5);
    expect(jobProgress([t("analyze", "completed", 100), t("video", "completed", 100, 0), t("video", "queued", 0, 0)])).toBe(47.5);
  });

  test("result is ≤ 100 and rounded to one decimal", () => {
    const rows = [t("analyze", "completed", 100), t("video", "leased", 33.333, 7), t("video", "leased", 66.667, 13), t("audio", "leased", 12.5, 20)];
    const p = jobProgress(rows);
    expect(p).toBeLessThanOrEqual(100);
    expect(Math.round(p * 10)).toBeCloseTo(p * 10, 9);
    // exact: 5 + 85·(7·33.333 + 13·66.667 + 2·12.5)/22/100 = 5 + 85·0.5501…
    const exact = 5 + (85 * (7 * 33.333 + 13 * 66.667 + 2 * 12.5)) / 22 / 100;
    expect(p).toBe(Math.round(exact * 10) / 10);
    expect(p).toBe(48.5);
  });

  test("task types other than analyze/video/audio/package are ignored", () => {
    expect(jobProgress([t("analyze", "completed", 100), t("thumbnail", "completed", 100, 50)])).toBe(5);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Failure classification
// ---------------------------------------------------------------------------------------------------------

describe("classifyError", () => {
  test.each(["WE-JOB-007", "WE-JOB-002", "WE-STO-001", "WE-STO-002", "WE-JOB-003"] as const)("%s is permanent", (code) => {
    const e = classifyError(new AppError(code, `the ${code} message`));
    expect(e).toEqual({ class: "permanent", code, message: `the ${code} message` });
  });

  test.each(["WE-JOB-008", "WE-STO-003", "WE-STO-004", "WE-WRK-003", "WE-WRK-004", "WE-SYS-001", "WE-SYS-003", "WE-PLG-004"] as const)("%s is retryable", (code) => {
    expect(classifyError(new AppError(code, "x"))).toEqual({ class: "retryable", code, message: "x" });
  });

  test("errors without a WE- code are retryable WE-JOB-008 (crash, connection reset, OOM)", () => {
    expect(classifyError(new Error("socket hang up"))).toEqual({ class: "retryable", code: "WE-JOB-008", message: "socket hang up" });
    const econn = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(classifyError(econn)).toEqual({ class: "retryable", code: "WE-JOB-008", message: "read ECONNRESET" });
    expect(classifyError("plain string")).toEqual({ class: "retryable", code: "WE-JOB-008", message: "plain string" });
    expect(classifyError(undefined)).toEqual({ class: "retryable", code: "WE-JOB-008", message: "undefined" });
  });

  test("exit_code and stderr_tail in details are carried; other details are not", () => {
    const e = classifyError(new AppError("WE-JOB-008", "boom", { exit_code: 137, stderr_tail: "Killed", other: 1 }));
    expect(e).toEqual({ class: "retryable", code: "WE-JOB-008", message: "boom", exit_code: 137, stderr_tail: "Killed" });
  });

  test("a TaskFailure passes through unchanged", () => {
    const err = { class: "permanent" as const, code: "WE-JOB-007", message: "m", argv: ["ffmpeg"], exit_code: 1, signal: null, stderr_tail: "x" };
    expect(classifyError(new TaskFailure(err))).toBe(err);
  });
});

describe("TaskFailure.fromTranscode", () => {
  const run = (over: Partial<TranscodeResult>): TranscodeResult => ({
    ok: false,
    exit_code: 1,
    signal: null,
    argv: ["ffmpeg", "-i", "in.mp4", "out.mp4"],
    stderr_tail: "",
    elapsed_ms: 1234,
    cancelled: false,
    timed_out: false,
    ...over,
  });

  test('"Invalid data found when processing input" with exit 1 → permanent WE-JOB-007, last stderr line in the message', () => {
    const tail = "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c0] moov atom not found\nin.mp4: Invalid data found when processing input\n";
    const f = TaskFailure.fromTranscode("chunk 3", run({ exit_code: 1, stderr_tail: tail }));
    expect(f).toBeInstanceOf(TaskFailure);
    expect(f.error).toEqual({
      class: "permanent",
      code: "WE-JOB-007",
      message: "chunk 3: FFmpeg exited with code 1: in.mp4: Invalid data found when processing input",
      exit_code: 1,
      signal: null,
      argv: ["ffmpeg", "-i", "in.mp4", "out.mp4"],
      stderr_tail: tail,
    });
    expect(f.message).toBe(f.error.message);
  });

  test("killed by SIGKILL (OOM killer) → retryable WE-JOB-008", () => {
    const tail = "frame=  120 fps= 30 q=28.0 size=    1024kB time=00:00:04.00 bitrate=2097.2kbits/s speed=1.0x\n";
    const f = TaskFailure.fromTranscode("video chunk 0", run({ exit_code: null, signal: "SIGKILL", stderr_tail: tail }));
    expect(f.error.class).toBe("retryable");
    expect(f.error.code).toBe("WE-JOB-008");
    expect(f.error.signal).toBe("SIGKILL");
    expect(f.error.exit_code).toBeNull();
    expect(f.error.message).toBe("video chunk 0: FFmpeg was killed by SIGKILL: frame=  120 fps= 30 q=28.0 size=    1024kB time=00:00:04.00 bitrate=2097.2kbits/s speed=1.0x");
  });

  test("a killed process is retried even when stderr blamed the input", () => {
    const f = TaskFailure.fromTranscode("x", run({ exit_code: null, signal: "SIGKILL", stderr_tail: "Invalid data found when processing input" }));
    expect(f.error.class).toBe("retryable");
  });

  test("timed out → retryable, message says so", () => {
    const f = TaskFailure.fromTranscode("audio", run({ exit_code: null, signal: "SIGKILL", timed_out: true, stderr_tail: "a\nb\nlast line here\n\n" }));
    expect(f.error.class).toBe("retryable");
    expect(f.error.code).toBe("WE-JOB-008");
    expect(f.error.message).toBe("audio: FFmpeg timed out: last line here");
  });

  test("a plain non-zero exit without input blame → retryable; empty stderr gives no trailing colon", () => {
    const f = TaskFailure.fromTranscode("package", run({ exit_code: 255, stderr_tail: "" }));
    expect(f.error.class).toBe("retryable");
    expect(f.error.code).toBe("WE-JOB-008");
    expect(f.error.message).toBe("package: FFmpeg exited with code 255");
  });

  test.each([
    "https://example.com/a.mp4: Server returned 404 Not Found",
    "[http @ 0x1] HTTP error 403 Forbidden",
    "Output file #0 does not contain any stream",
    "Decoder (codec av1) not found for input stream #0:0",
    "in.mp4: No such file or directory",
  ])("input blamed by %p → permanent WE-JOB-007", (line) => {
    const f = TaskFailure.fromTranscode("t", run({ exit_code: 1, stderr_tail: `noise\n${line}\n` }));
    expect(f.error.class).toBe("permanent");
    expect(f.error.code).toBe("WE-JOB-007");
    expect(f.error.message).toBe(`t: FFmpeg exited with code 1: ${line}`);
  });

  test("forceClass overrides the classification", () => {
    const f = TaskFailure.fromTranscode("t", run({ exit_code: 1, stderr_tail: "Invalid data found when processing input" }), "retryable");
    expect(f.error.class).toBe("retryable");
  });
});

// ---------------------------------------------------------------------------------------------------------
// Source URLs
// ---------------------------------------------------------------------------------------------------------

function refused(input: string, rule: RegExp): AppError {
  let caught: unknown;
  try {
    parseSourceUrl(input);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(AppError);
  const e = caught as AppError;
  expect(e.code).toBe("WE-JOB-002");
  expect(e.status).toBe(400);
  expect(e.message).toMatch(/^source_url .* is not usable: /);
  expect(e.message).toMatch(rule);
  return e;
}

describe("parseSourceUrl", () => {
  test("http and https URLs are accepted and normalized", () => {
    expect(parseSourceUrl("https://example.com/videos/a.mp4")).toEqual({ kind: "url", url: "https://example.com/videos/a.mp4" });
    expect(parseSourceUrl("  http://Example.COM  ")).toEqual({ kind: "url", url: "http://example.com/" });
    expect(parseSourceUrl("HTTPS://CDN.example.com:443/a b.mp4?x=1")).toEqual({ kind: "url", url: "https://cdn.example.com/a%20b.mp4?x=1" });
    expect(parseSourceUrl("http://example.com:8080/x/../y.mp4")).toEqual({ kind: "url", url: "http://example.com:8080/y.mp4" });
    expect(parseSourceUrl("https://bucket.s3.amazonaws.com/k.mp4?X-Amz-Signature=abc&X-Amz-Expires=60")).toEqual({
      kind: "url",
      url: "https://bucket.s3.amazonaws.com/k.mp4?X-Amz-Signature=abc&X-Amz-Expires=60",
    });
  });

  test("credentials in the URL are refused", () => {
    refused("https://user:secret@example.com/a.mp4", /credentials in the URL are not accepted/);
    refused("http://user@example.com/a.mp4", /credentials in the URL are not accepted/);
    refused("https://:pw@example.com/a.mp4", /credentials/);
  });

  test("an http URL without a host is refused", () => {
    refused("http://", /not a valid URL|no host/);
  });

  test("s3://bucket/key is parsed", () => {
    expect(parseSourceUrl("s3://media-in/2024/05/clip.mp4")).toEqual({ kind: "s3", bucket: "media-in", key: "2024/05/clip.mp4" });
    expect(parseSourceUrl("s3://media.in/a.mov")).toEqual({ kind: "s3", bucket: "media.in", key: "a.mov" });
    refused("s3://Media_In/a.mp4", /expected s3:\/\/bucket\/key/);
    refused("s3://bucket", /expected s3:\/\/bucket\/key/);
    refused("s3://bucket/", /expected s3:\/\/bucket\/key/);
    refused("s3://ab/x", /expected s3:\/\/bucket\/key/); // bucket names are 3–63 characters
    refused("s3://bucket/a/../b.mp4", /empty, '\.' or '\.\.' segment/);
    refused("s3://bucket/a//b.mp4", /empty, '\.' or '\.\.' segment/);
    refused("s3://bucket/a\\b.mp4", /backslash/);
  });

  test("bare storage keys are accepted", () => {
    expect(parseSourceUrl("uploads/2024/0b9c1d.mp4")).toEqual({ kind: "key", key: "uploads/2024/0b9c1d.mp4" });
    expect(parseSourceUrl("clip.mp4")).toEqual({ kind: "key", key: "clip.mp4" });
    expect(parseSourceUrl(" a/b c.mp4 ")).toEqual({ kind: "key", key: "a/b c.mp4" });
  });

  test.each([
    ["file:///etc/passwd", "file"],
    ["FILE:///etc/passwd", "file"],
    ["ftp://example.com/a.mp4", "ftp"],
    ["data:video/mp4;base64,AAAA", "data"],
    ["javascript:alert(1)", "javascript"],
    ["gopher://example.com/", "gopher"],
    ["rtmp://example.com/live/x", "rtmp"],
    ["C:\\videos\\a.mp4", "c"],
  ])("%p: scheme refused", (input, scheme) => {
    refused(input, new RegExp(`the ${scheme}: scheme is not allowed`));
  });

  test("absolute paths are refused", () => {
    refused("/etc/passwd", /absolute paths are not allowed/);
    refused("/var/lib/webencode/storage/jobs/x/out.mp4", /absolute paths are not allowed/);
    refused("//example.com/a.mp4", /absolute paths are not allowed/);
  });

  test.each(["../secret.mp4", "a/../../b.mp4", "uploads/..", "./a.mp4", "a/./b.mp4", "a//b.mp4", "a/", "a/b/."])("%p: dot or empty segment refused", (input) => {
    refused(input, /the key has an empty, '\.' or '\.\.' segment/);
  });

  test("backslashes are refused", () => {
    refused("uploads\\a.mp4", /backslash/);
    refused("..\\..\\windows\\win.ini", /backslash/);
  });

  test.each(["a\u0000b.mp4", "a\nb.mp4", "https://example.com/\u0007.mp4", "x\u001fy", "a\tb"])("%p: control characters refused", (input) => {
    refused(input, /control characters/);
  });

  test("empty input is refused", () => {
    refused("", /it is empty/);
    refused("    ", /it is empty/);
  });

  test("length limit is 4096 characters", () => {
    const ok = "k".repeat(4096);
    expect(parseSourceUrl(ok)).toEqual({ kind: "key", key: ok });
    refused("k".repeat(4097), /longer than 4096 characters/);
    const e = refused(`https://example.com/${"a".repeat(5000)}`, /longer than 4096 characters/);
    // The message quotes at most 200 characters of the input.
    expect(e.message.length).toBeLessThan(400);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Storage URLs, uploads, plugin settings, task params
// ---------------------------------------------------------------------------------------------------------

describe("parseRange", () => {
  test.each([
    ["bytes=0-99", 1000, { start: 0, end: 99 }],
    ["bytes=100-", 1000, { start: 100, end: 999 }],
    ["bytes=-100", 1000, { start: 900, end: 999 }],
    ["bytes=-2000", 1000, { start: 0, end: 999 }],
    ["bytes=0-5000", 1000, { start: 0, end: 999 }],
    ["bytes=999-999", 1000, { start: 999, end: 999 }],
    ["bytes=0-0", 1, { start: 0, end: 0 }],
    ["  bytes=10-19  ", 100, { start: 10, end: 19 }],
  ] as const)("%p of %d bytes → %o", (h, size, want) => {
    expect(parseRange(h, size)).toEqual(want);
  });

  test.each([
    ["bytes=1000-", 1000],
    ["bytes=1000-2000", 1000],
    ["bytes=5-4", 1000],
    ["bytes=-0", 1000],
    ["bytes=0-", 0],
    ["bytes=-5", 0],
  ] as const)("%p of %d bytes → null (416)", (h, size) => {
    expect(parseRange(h, size)).toBeNull();
  });

  test.each([null, "", "bytes=-", "bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes 0-1", "bytes=-1-2"])("%p → undefined (whole body)", (h) => {
    expect(parseRange(h, 1000)).toBeUndefined();
  });
});

describe("contentTypeOf", () => {
  test.each([
    ["jobs/1/hls/master.m3u8", "application/vnd.apple.mpegurl"],
    ["jobs/1/hls/720p/seg_00001.ts", "video/mp2t"],
    ["jobs/1/hls/720p/seg_00001.m4s", "video/iso.segment"],
    ["jobs/1/720p.mp4", "video/mp4"],
    ["jobs/1/720p.MP4", "video/mp4"],
    ["audio.m4a", "audio/mp4"],
    ["x.webm", "video/webm"],
    ["poster.jpg", "image/jpeg"],
    ["poster.JPEG", "image/jpeg"],
    ["sprite.png", "image/png"],
    ["thumbs.vtt", "text/vtt; charset=utf-8"],
    ["meta.json", "application/json"],
    ["noext", "application/octet-stream"],
    ["a.tar.gz", "application/octet-stream"],
    ["dir.m3u8/file", "application/octet-stream"],
    ["", "application/octet-stream"],
  ])("%p → %p", (key, type) => {
    expect(contentTypeOf(key)).toBe(type);
  });
});

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

describe("splitSecrets", () => {
  test("secret fields go apart; plain fields are kept as given", () => {
    const { plain, secrets } = splitSecrets(
      { bucket: "media", region: "eu-west-1", access_key_id: "AKIA123", secret_access_key: "s3cr3t", force_path_style: false, endpoint: null },
      ["access_key_id", "secret_access_key"],
    );
    expect(plain).toEqual({ bucket: "media", region: "eu-west-1", force_path_style: false, endpoint: null });
    expect(secrets).toEqual({ access_key_id: "AKIA123", secret_access_key: "s3cr3t" });
  });

  test("empty, null and undefined secrets are dropped (so a stored secret is kept); non-strings are stringified", () => {
    const { plain, secrets } = splitSecrets({ a: "", b: null, c: undefined, d: 1234, e: true, keep: "" }, ["a", "b", "c", "d", "e", "missing"]);
    expect(plain).toEqual({ keep: "" });
    expect(secrets).toEqual({ d: "1234", e: "true" });
    expect("missing" in secrets).toBe(false);
  });

  test("no secret fields → everything plain", () => {
    expect(splitSecrets({ x: 1 }, [])).toEqual({ plain: { x: 1 }, secrets: {} });
  });
});

describe("audioGroups", () => {
  const base = BUILTIN_PROFILES["720p_h264"]!;
  const custom = (id: string, audio: ProfileSpec["audio"]): ProfileSpec => ({ ...base, id, name: id, audio });

  test("profiles with the same audio share one encode; distinct audio → distinct groups, in first-seen order", () => {
    const groups = audioGroups([BUILTIN_PROFILES["1080p_h264"]!, BUILTIN_PROFILES["1080p_vp9"]!, BUILTIN_PROFILES["720p_h264"]!, BUILTIN_PROFILES["480p_h264"]!]);
    expect(groups.map((g) => g.profiles)).toEqual([["1080p_h264", "720p_h264", "480p_h264"], ["1080p_vp9"]]);
    expect(groups[0]!.audio.codec).toBe("aac");
    expect(groups[1]!.audio).toEqual({ codec: "opus", bitrate_kbps: 128, channels: 2, sample_rate: 48000 });
  });

  test("bitrate, channels and sample rate each split a group; a profile without audio is skipped", () => {
    const groups = audioGroups([
      custom("a", { codec: "aac", bitrate_kbps: 128, channels: 2 }),
      custom("b", { codec: "aac", bitrate_kbps: 128, channels: 2 }),
      custom("c", { codec: "aac", bitrate_kbps: 96, channels: 2 }),
      custom("d", { codec: "aac", bitrate_kbps: 128, channels: 1 }),
      custom("e", { codec: "aac", bitrate_kbps: 128, channels: 2, sample_rate: 44100 }),
      custom("f", null),
      custom("g", { codec: "aac", bitrate_kbps: 128, channels: 2, sample_rate: 44100 }),
    ]);
    expect(groups.map((g) => g.profiles)).toEqual([["a", "b"], ["c"], ["d"], ["e", "g"]]);
    expect(groups.map((g) => g.audio.bitrate_kbps)).toEqual([128, 96, 128, 128]);
  });

  test("no profiles or no audio → no groups", () => {
    expect(audioGroups([])).toEqual([]);
    expect(audioGroups([custom("x", null)])).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// FFprobe summary
// ---------------------------------------------------------------------------------------------------------

/** Video stream as `ffprobe -show_streams -of json` (FFmpeg 5.1) prints it, trimmed of fields nobody reads. */
function h264Stream(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    index: 0,
    codec_name: "h264",
    profile: "High",
    codec_type: "video",
    codec_tag_string: "avc1",
    width: 1920,
    height: 1080,
    coded_width: 1920,
    coded_height: 1088,
    has_b_frames: 2,
    sample_aspect_ratio: "1:1",
    display_aspect_ratio: "16:9",
    pix_fmt: "yuv420p",
    level: 40,
    r_frame_rate: "30000/1001",
    avg_frame_rate: "30000/1001",
    time_base: "1/30000",
    start_pts: 0,
    start_time: "0.000000",
    duration_ts: 300300,
    duration: "10.010000",
    bit_rate: "4987231",
    nb_frames: "300",
    disposition: { default: 1, dub: 0, original: 0, comment: 0, attached_pic: 0, timed_thumbnails: 0 },
    tags: { language: "und", handler_name: "VideoHandler", vendor_id: "[0][0][0][0]" },
    ...over,
  };
}

function aacStream(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    index: 1,
    codec_name: "aac",
    profile: "LC",
    codec_type: "audio",
    sample_fmt: "fltp",
    sample_rate: "44100",
    channels: 1,
    channel_layout: "mono",
    r_frame_rate: "0/0",
    avg_frame_rate: "0/0",
    time_base: "1/44100",
    duration: "10.008000",
    bit_rate: "69671",
    disposition: { default: 1, attached_pic: 0 },
    ...over,
  };
}

const FORMAT = {
  filename: "in.mp4",
  nb_streams: 2,
  format_name: "mov,mp4,m4a,3gp,3g2,mj2",
  start_time: "0.000000",
  duration: "10.010000",
  size: "6338121",
  bit_rate: "5065431",
  probe_score: 100,
};

describe("parseRate", () => {
  test.each([
    ["30000/1001", 30000 / 1001],
    ["25/1", 25],
    ["0/0", 0],
    ["24/0", 0],
    ["", 0],
    [undefined, 0],
    ["30", 0],
    ["-25/1", 0],
    ["64/45", 64 / 45],
  ])("%p → %p", (r, want) => {
    expect(parseRate(r)).toBe(want);
  });
});

describe("rotationOf", () => {
  test("display matrix side data: -90 → 270, 90 → 90, 180 → 180, -180 → 180", () => {
    const side = (rotation: number) => ({ side_data_list: [{ side_data_type: "Display Matrix", displaymatrix: "\n00000000: 0 65536 0\n", rotation }] });
    expect(rotationOf(side(-90))).toBe(270);
    expect(rotationOf(side(90))).toBe(90);
    expect(rotationOf(side(180))).toBe(180);
    expect(rotationOf(side(-180))).toBe(180);
    expect(rotationOf(side(0))).toBe(0);
    expect(rotationOf(side(-270))).toBe(90);
  });

  test('legacy tags.rotate "90" → 90; side data wins over the tag', () => {
    expect(rotationOf({ tags: { rotate: "90" } })).toBe(90);
    expect(rotationOf({ tags: { rotate: "270" } })).toBe(270);
    expect(rotationOf({ tags: { rotate: "garbage" } })).toBe(0);
    expect(rotationOf({ tags: { rotate: "90" }, side_data_list: [{ side_data_type: "Display Matrix", rotation: -90 }] })).toBe(270);
    // Side data without a rotation (e.g. spherical or CPB properties) does not hide the tag.
    expect(rotationOf({ tags: { rotate: "180" }, side_data_list: [{ side_data_type: "CPB properties", max_bitrate: 0 }] })).toBe(180);
  });

  test("no rotation at all → 0; off-axis angles snap to the nearest quarter turn", () => {
    expect(rotationOf({})).toBe(0);
    expect(rotationOf({ side_data_list: [{ rotation: -89.99 }] })).toBe(270);
    expect(rotationOf({ side_data_list: [{ rotation: 450 }] })).toBe(90);
  });
});

describe("summarizeProbe", () => {
  test("a 29.97 fps H.264 + AAC MP4: frames from the packet count, duration = frames / fps, keyframes with frames", () => {
    const s = summarizeProbe({
      format: FORMAT,
      streams: [h264Stream(), aacStream()],
      packets: 300,
      keyframes: [0, 2.002, 4.004, 6.006, 8.008],
      keyframe_frames: [0, 60, 120, 180, 240],
    });
    expect(s).toEqual({
      duration_s: 300 / (30000 / 1001),
      size_bytes: 6338121,
      bit_rate: 5065431,
      format: "mov,mp4,m4a,3gp,3g2,mj2",
      video: { codec: "h264", width: 1920, height: 1080, fps: 30000 / 1001, frames: 300, rotation: 0, sar: 1, pix_fmt: "yuv420p", profile: "High" },
      audio: { codec: "aac", channels: 1, sample_rate: 44100, duration_s: 10.008 },
      keyframes: [
        { pts: 0, frame: 0 },
        { pts: 2.002, frame: 60 },
        { pts: 4.004, frame: 120 },
        { pts: 6.006, frame: 180 },
        { pts: 8.008, frame: 240 },
      ],
    });
    expect(s.duration_s).toBeCloseTo(10.01, 9);
  });

  test("packets override nb_frames (which may be absent, e.g. in MKV/WebM)", () => {
    const s = summarizeProbe({ format: { ...FORMAT, format_name: "matroska,webm" }, streams: [h264Stream({ nb_frames: undefined, avg_frame_rate: "25/1", r_frame_rate: "25/1" })], packets: 250 });
    expect(s.video.frames).toBe(250);
    expect(s.duration_s).toBe(10);
    expect(s.audio).toBeNull();
    expect(s.keyframes).toEqual([]);
  });

  test("a cut-off MP4 whose index lists more frames than can be read is refused as truncated", () => {
    expect(() => summarizeProbe({ format: FORMAT, streams: [h264Stream({ nb_frames: "300" })], packets: 150 })).toThrow(
      new SourceProblem("the file is truncated: its index lists 300 video frames but only 150 can be read"),
    );
    expect(summarizeProbe({ format: FORMAT, streams: [h264Stream({ nb_frames: "300" })], packets: 300 }).video.frames).toBe(300);
  });

  test("without a packet count nb_frames is used", () => {
    const s = summarizeProbe({ format: FORMAT, streams: [h264Stream({ avg_frame_rate: "25/1" })] });
    expect(s.video.frames).toBe(300);
    expect(s.duration_s).toBe(12);
  });

  test("avg_frame_rate 0/0 falls back to r_frame_rate", () => {
    const s = summarizeProbe({ format: FORMAT, streams: [h264Stream({ avg_frame_rate: "0/0", r_frame_rate: "24/1", nb_frames: "240" })], packets: 240 });
    expect(s.video.fps).toBe(24);
    expect(s.duration_s).toBe(10);
  });

  test("keyframe frames default to round(pts · fps) when the index has none", () => {
    const s = summarizeProbe({ format: FORMAT, streams: [h264Stream({ avg_frame_rate: "25/1", nb_frames: "250" })], packets: 250, keyframes: [0, 2, 4.04] });
    expect(s.keyframes).toEqual([
      { pts: 0, frame: 0 },
      { pts: 2, frame: 50 },
      { pts: 4.04, frame: 101 },
    ]);
  });

  test("rotation from side_data_list -90 → 270 (and dimensions are kept as coded)", () => {
    const s = summarizeProbe({
      format: FORMAT,
      streams: [
        h264Stream({
          width: 1080,
          height: 1920,
          side_data_list: [{ side_data_type: "Display Matrix", displaymatrix: "\n00000000:            0       65536           0\n00000001:       -65536           0           0\n00000002:            0           0  1073741824\n", rotation: -90 }],
        }),
        aacStream(),
      ],
      packets: 300,
    });
    expect(s.video.rotation).toBe(270);
    expect([s.video.width, s.video.height]).toEqual([1080, 1920]);
  });

  test('rotation from tags.rotate "90" → 90', () => {
    const s = summarizeProbe({ format: FORMAT, streams: [h264Stream({ tags: { language: "und", rotate: "90" } }), aacStream()], packets: 300 });
    expect(s.video.rotation).toBe(90);
  });

  test('sample aspect ratio "64:45" (anamorphic PAL DVD) is parsed; "0:1" and absent → 1', () => {
    const pal = summarizeProbe({ format: FORMAT, streams: [h264Stream({ width: 720, height: 576, sample_aspect_ratio: "64:45", avg_frame_rate: "25/1", nb_frames: "250" })], packets: 250 });
    expect(pal.video.sar).toBe(64 / 45);
    const unknown = summarizeProbe({ format: FORMAT, streams: [h264Stream({ sample_aspect_ratio: "0:1" })], packets: 300 });
    expect(unknown.video.sar).toBe(1);
    const absent = summarizeProbe({ format: FORMAT, streams: [h264Stream({ sample_aspect_ratio: undefined })], packets: 300 });
    expect(absent.video.sar).toBe(1);
  });

  test("an attached picture (cover art) is not the video stream", () => {
    const cover = {
      index: 0,
      codec_name: "mjpeg",
      codec_type: "video",
      width: 600,
      height: 600,
      r_frame_rate: "90000/1",
      avg_frame_rate: "0/0",
      nb_frames: "1",
      disposition: { default: 0, attached_pic: 1, timed_thumbnails: 0 },
      tags: { comment: "Cover (front)" },
    };
    // Music file with cover art only: audio-only source.
    expect(() => summarizeProbe({ format: FORMAT, streams: [cover, aacStream({ index: 1 })], packets: 1 })).toThrow(SourceProblem);
    expect(() => summarizeProbe({ format: FORMAT, streams: [cover, aacStream({ index: 1 })], packets: 1 })).toThrow(
      "the source has no video stream (audio-only sources are not supported)",
    );
    // Cover first, real video second: the real video is chosen.
    const s = summarizeProbe({ format: FORMAT, streams: [cover, h264Stream({ index: 1 }), aacStream({ index: 2 })], packets: 300 });
    expect(s.video.codec).toBe("h264");
    expect(s.video.width).toBe(1920);
  });

  test("no video stream → SourceProblem", () => {
    expect(() => summarizeProbe({ format: FORMAT, streams: [aacStream()] })).toThrow(new SourceProblem("the source has no video stream (audio-only sources are not supported)"));
    expect(() => summarizeProbe({ format: FORMAT, streams: [] })).toThrow(new SourceProblem("the source has no audio or video streams"));
    expect(() => summarizeProbe({})).toThrow(SourceProblem);
  });

  test("unusable streams → SourceProblem naming the problem", () => {
    expect(() => summarizeProbe({ format: FORMAT, streams: [h264Stream({ avg_frame_rate: "0/0", r_frame_rate: "0/0" })], packets: 10 })).toThrow("no usable frame rate");
    expect(() => summarizeProbe({ format: FORMAT, streams: [h264Stream({ nb_frames: undefined })], packets: 0 })).toThrow("has no frames");
    expect(() => summarizeProbe({ format: FORMAT, streams: [h264Stream({ width: 0 })], packets: 300 })).toThrow("has no dimensions");
    expect(() => summarizeProbe({ format: FORMAT, streams: [h264Stream()], packets: 120 })).toThrow(
      "the file is truncated: its index lists 300 video frames but only 120 can be read",
    );
  });

  test('format size/bit_rate "N/A" → null; audio without duration → null', () => {
    const s = summarizeProbe({ format: { format_name: "mpegts", size: "N/A", bit_rate: "N/A" }, streams: [h264Stream(), aacStream({ duration: undefined })], packets: 300 });
    expect(s.size_bytes).toBeNull();
    expect(s.bit_rate).toBeNull();
    expect(s.format).toBe("mpegts");
    expect(s.audio?.duration_s).toBeNull();
  });
});
