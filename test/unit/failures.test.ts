/**
 * Blame (issue 11): an FFmpeg failure is the source's fault (permanent WE-JOB-007) only when FFmpeg's evidence
 * is about the source; a missing or unreadable file of our own (a concat list, a part, an output in the work
 * directory) is our error and is retried. The stderr samples are FFmpeg 5.1's own words, captured from real runs.
 */
import { describe, expect, test } from "bun:test";
import { AppError } from "../../src/core/errors.ts";
import type { TranscodeResult } from "../../src/plugin-runtime/pillars.ts";
import { blame, classifyError, filesBlamed, inputsOf, TaskFailure } from "../../src/worker/failures.ts";

const run = (argv: string[], stderr: string, over: Partial<TranscodeResult> = {}): TranscodeResult => ({
  ok: false,
  exit_code: 1,
  signal: null,
  argv,
  stderr_tail: stderr,
  elapsed_ms: 100,
  cancelled: false,
  timed_out: false,
  ...over,
});

// The quick-start bug: relative paths in a concat list are resolved from the list's folder.
const RELATIVE_CONCAT = [
  "[concat @ 0x5614c69319c0] Impossible to open 'data/work/t1/data/work/t1/part_720p_h264_00000.mp4'",
  "data/work/t1/720p_h264.concat.txt: No such file or directory",
].join("\n");
const MISSING_PART = [
  "[concat @ 0x564e0488b9c0] Impossible to open '/var/lib/webencode/work/t1-1/part_720p_h264_00003.mp4'",
  "/var/lib/webencode/work/t1-1/720p_h264.concat.txt: No such file or directory",
].join("\n");
const CORRUPT_SOURCE = [
  "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x560032317880] Format mov,mp4,m4a,3gp,3g2,mj2 detected only with low score of 1, misdetection possible!",
  "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x560032317880] moov atom not found",
  "/srv/data/storage/uploads/u1/movie.mp4: Invalid data found when processing input",
].join("\n");
const MISSING_AUDIO = [
  "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from '/w/t1-1/720p.concat.txt':",
  "  Duration: 00:00:01.00, start: 0.000000, bitrate: 23 kb/s",
  "/w/t1-1/audio_0.m4a: No such file or directory",
].join("\n");
const OUTPUT_DIR_GONE = ["Stream mapping:", "  Stream #0:0 -> #0:0 (copy)", "/w/t1-1/hls/720p/index.m3u8: No such file or directory"].join("\n");

const packageArgv = (dir: string) => ["ffmpeg", "-f", "concat", "-safe", "0", "-i", `${dir}/720p_h264.concat.txt`, "-i", `${dir}/audio_0.m4a`, "-c", "copy", "-f", "mp4", `${dir}/720p_h264.mp4`];

describe("filesBlamed", () => {
  test("names every file FFmpeg could not open, in order, and nothing else", () => {
    expect(filesBlamed(RELATIVE_CONCAT)).toEqual(["data/work/t1/data/work/t1/part_720p_h264_00000.mp4", "data/work/t1/720p_h264.concat.txt"]);
    expect(filesBlamed(CORRUPT_SOURCE)).toEqual(["/srv/data/storage/uploads/u1/movie.mp4"]);
    expect(filesBlamed("https://cdn.example.com/a b.mp4: Server returned 404 Not Found")).toEqual(["https://cdn.example.com/a b.mp4"]);
    expect(filesBlamed("[in#0 @ 0x55] Error opening input: No such file or directory\nError opening input file /w/x.mp4.")).toEqual(["/w/x.mp4"]);
  });

  test("decoder lines that only look like `<what>: <reason>` are not files", () => {
    expect(filesBlamed("Error while decoding stream #0:0: Invalid data found when processing input")).toEqual([]);
    expect(filesBlamed("frame=  120 fps= 30 q=28.0 size=    1024kB time=00:00:04.00")).toEqual([]);
  });
});

describe("blame", () => {
  test("the concat list or a part of ours → ours, whether the path is relative or absolute", () => {
    expect(blame(RELATIVE_CONCAT, [])).toBe("ours");
    expect(blame(MISSING_PART, [])).toBe("ours");
    // Even in a run that also reads the source, a file that is not the source is ours.
    expect(blame(MISSING_PART, ["/srv/in.mp4"])).toBe("ours");
  });

  test("a corrupt or missing source → source", () => {
    expect(blame(CORRUPT_SOURCE, ["/srv/data/storage/uploads/u1/movie.mp4"])).toBe("source");
    expect(blame("/srv/gone.mp4: No such file or directory", ["/srv/gone.mp4"])).toBe("source");
    // An HLS source's segment is the source's too (URLs are only ever the source's).
    expect(blame("https://cdn.example.com/seg7.ts: Server returned 404 Not Found", ["https://cdn.example.com/master.m3u8"])).toBe("source");
  });

  test("input errors naming no file blame the source only in a run that reads it", () => {
    const tail = "Decoder (codec av1) not found for input stream #0:0";
    expect(blame(tail, ["/srv/in.mkv"])).toBe("source");
    expect(blame(tail, [])).toBe("none");
    expect(blame("Conversion failed!", ["/srv/in.mkv"])).toBe("none");
  });
});

describe("TaskFailure.fromTranscode", () => {
  test("the quick start's packaging failure is a retryable system error, not WE-JOB-007", () => {
    const f = TaskFailure.fromTranscode("mux 720p_h264", run(packageArgv("data/work/t1"), RELATIVE_CONCAT), undefined, []);
    expect(f.error.class).toBe("retryable");
    expect(f.error.code).toBe("WE-SYS-001");
    expect(f.error.message).toBe("mux 720p_h264: FFmpeg exited with code 1: data/work/t1/720p_h264.concat.txt: No such file or directory");
    expect(f.error.stderr_tail).toBe(RELATIVE_CONCAT);
  });

  test("a missing part or audio track, or a vanished output folder: retryable WE-SYS-001 — even with the argv's inputs as sources", () => {
    for (const tail of [MISSING_PART, OUTPUT_DIR_GONE]) {
      const f = TaskFailure.fromTranscode("mux", run(packageArgv("/w/t1-1"), tail), undefined, []);
      expect({ class: f.error.class, code: f.error.code }).toEqual({ class: "retryable", code: "WE-SYS-001" });
    }
    // Default sources = every `-i` of the argv: the list and the audio are named there, yet a part is not.
    expect(TaskFailure.fromTranscode("mux", run(packageArgv("/w/t1-1"), MISSING_PART)).error.class).toBe("retryable");
    // A run that declares it reads only our files never blames the source, whatever FFmpeg says.
    expect(TaskFailure.fromTranscode("mux", run(packageArgv("/w/t1-1"), MISSING_AUDIO), undefined, []).error.code).toBe("WE-SYS-001");
  });

  test("a corrupt source in a chunk encode → permanent WE-JOB-007 naming the source", () => {
    const src = "/srv/data/storage/uploads/u1/movie.mp4";
    const f = TaskFailure.fromTranscode("chunk 0", run(["ffmpeg", "-ss", "0", "-i", src, "-frames:v", "60", "/w/r0.mp4"], CORRUPT_SOURCE), undefined, [src]);
    expect(f.error.class).toBe("permanent");
    expect(f.error.code).toBe("WE-JOB-007");
    expect(f.error.message).toBe(`chunk 0: FFmpeg exited with code 1: ${src}: Invalid data found when processing input`);
  });

  test("a killed or timed-out run is retried even when the source was blamed", () => {
    const src = "/srv/in.mp4";
    const f = TaskFailure.fromTranscode("chunk 0", run(["ffmpeg", "-i", src, "/w/o.mp4"], `${src}: Invalid data found when processing input`, { exit_code: null, signal: "SIGKILL" }), undefined, [src]);
    expect(f.error.class).toBe("retryable");
  });
});

describe("inputsOf and ownFileMissing", () => {
  test("inputsOf lists every -i value", () => {
    expect(inputsOf(packageArgv("/w"))).toEqual(["/w/720p_h264.concat.txt", "/w/audio_0.m4a"]);
    expect(inputsOf(["ffmpeg", "-y", "-i"])).toEqual([]);
  });

  test("a part missing from storage is a retryable system error, not a permanent WE-STO-001", () => {
    const storageError = Object.assign(new Error('object "jobs/j1/parts/audio_0.m4a" not found'), { code: "WE-STO-001" });
    expect(classifyError(storageError).class).toBe("permanent"); // what it would have been
    const e = classifyError(TaskFailure.ownFileMissing("fetching jobs/j1/parts/audio_0.m4a", storageError));
    expect(e).toEqual({ class: "retryable", code: "WE-SYS-001", message: 'fetching jobs/j1/parts/audio_0.m4a: object "jobs/j1/parts/audio_0.m4a" not found' });
  });
});

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
