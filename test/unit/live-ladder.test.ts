/**
 * The live task (issue 15): its contract (params, result, the progress `live` object), the pure FFmpeg argv
 * of the live ladder (whole arrays), its telemetry, and the lease/retry rules that make live failover fast
 * while a source that always fails still ends.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { checkParams, checkResult, type LiveParams, liveProgressSchema } from "../../src/core/task-contracts.ts";
import { LEASE_TTL_MS, leaseKeepaliveMs, leaseTtlMsFor, LIVE_LEASE_TTL_MS, LIVE_MAX_ATTEMPTS, LIVE_POOL, liveRetryDelayMs, POOLS, taskDeadlineMs, WORK_POOLS } from "../../src/core/topology.ts";
import { queueSpecs } from "../../src/bus/queues.ts";
import { createProgressParser } from "../../src/media/progress.ts";
import { gopFrames, liveFilterGraph, liveLadderArgs, redactToken } from "../../src/media/live/ladder.ts";
import { createLiveTelemetry } from "../../src/media/live/telemetry.ts";
import { failuresAfter } from "../../src/kernel/orchestrator/results.ts";
import { loadWorkerConfig } from "../../src/worker/config.ts";
import type { TranscodeProgress } from "../../src/plugin-runtime/pillars.ts";

const PARAMS: LiveParams = {
  stream_id: "st1",
  session_id: "ss1",
  source_url: "http://10.0.0.5:8080/internal/live/ss1/source.flv",
  push_url: "http://10.0.0.5:8080/internal/live/ss1",
  token: "s3cr3t",
  segment_seconds: 2,
  rungs: [
    { name: "720p", width: 1280, height: 720, video_kbps: 2500 },
    { name: "360p", width: 640, height: 360, video_kbps: 700, fps: 25 },
  ],
  audio_kbps: 128,
};

const problem = (r: { ok: boolean; problem?: string }) => (r.ok ? "accepted" : r.problem);

describe("live task contract", () => {
  test("real params and results pass unchanged", () => {
    expect(checkParams("live", PARAMS)).toEqual({ ok: true, value: PARAMS });
    expect(checkResult("live", { reason: "source_ended", media_seconds: 12.5 })).toEqual({ ok: true, value: { reason: "source_ended", media_seconds: 12.5 } });
    expect(checkResult("live", { reason: "cancelled", media_seconds: 0 }).ok).toBe(true);
  });

  test.each([
    ["a 3 s segment", { ...PARAMS, segment_seconds: 3 }, /^segment_seconds: Invalid type/],
    ["no rungs", { ...PARAMS, rungs: [] }, /rungs/],
    ["two rungs with one name", { ...PARAMS, rungs: [PARAMS.rungs[0], PARAMS.rungs[0]] }, /^rung names must be unique$/],
    ["an odd width", { ...PARAMS, rungs: [{ ...PARAMS.rungs[0]!, width: 1279 }] }, /^must be even$/],
    ["a rung name that is no path segment", { ...PARAMS, rungs: [{ ...PARAMS.rungs[0]!, name: "../x" }] }, /^must be 1-32 letters/],
    ["a source that is not http(s)", { ...PARAMS, source_url: "file:///etc/passwd" }, /^must be an http\(s\) URL$/],
    ["no token", { ...PARAMS, token: "" }, /token/],
  ])("params with %s are refused", (_, params, message) => {
    expect(problem(checkParams("live", params))).toMatch(message);
  });

  test("a result with an unknown reason or no media_seconds is refused", () => {
    expect(checkResult("live", { reason: "crashed", media_seconds: 1 }).ok).toBe(false);
    expect(problem(checkResult("live", { reason: "source_ended" }))).toBe("media_seconds: required field is missing");
  });

  test("the progress `live` object", () => {
    const sample = { speed: 1.02, fps: 30.5, dropped_frames: 0, segments: 14, epoch: 2 };
    expect(v.parse(liveProgressSchema, sample)).toEqual(sample);
    expect(v.safeParse(liveProgressSchema, { ...sample, epoch: 0 }).success).toBe(false);
    expect(v.safeParse(liveProgressSchema, { ...sample, dropped_frames: -1 }).success).toBe(false);
    expect(v.safeParse(liveProgressSchema, { speed: 1, fps: 30, dropped_frames: 0, segments: 1 }).success).toBe(false);
  });
});

describe("live pool and worker setting", () => {
  test("the live pool has a work queue but is no encoder pool", () => {
    expect(WORK_POOLS).toEqual([...POOLS, LIVE_POOL]);
    expect(POOLS as readonly string[]).not.toContain("live");
    expect(queueSpecs().map((q) => q.name)).toContain("work-live");
  });

  test("LIVE_SLOTS: 0 unless set, 0–16", () => {
    expect(loadWorkerConfig({}).LIVE_SLOTS).toBe(0);
    expect(loadWorkerConfig({ LIVE_SLOTS: "2" }).LIVE_SLOTS).toBe(2);
    expect(() => loadWorkerConfig({ LIVE_SLOTS: "17" })).toThrow(/LIVE_SLOTS/);
  });
});

describe("live failover timing", () => {
  test("live tasks get a 4 s lease kept alive six times per TTL; other types keep LEASE_TTL", () => {
    expect(leaseTtlMsFor("live", LEASE_TTL_MS)).toBe(4_000);
    expect(LIVE_LEASE_TTL_MS).toBe(4_000);
    expect(leaseKeepaliveMs(LIVE_LEASE_TTL_MS)).toBe(666);
    for (const type of ["analyze", "video", "audio", "package"]) expect(leaseTtlMsFor(type, 30_000)).toBe(30_000);
  });

  test("the first live retry is immediate, later ones back off to at most 10 s", () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(liveRetryDelayMs)).toEqual([0, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  test("a live attempt that ran a minute resets the failure count; quick failures add up to LIVE_MAX_ATTEMPTS", () => {
    const now = Date.parse("2026-12-05T03:00:00Z");
    const started = (secondsAgo: number) => new Date(now - secondsAgo * 1000);
    expect(failuresAfter({ type: "live", failures: 3, startedAt: started(61) }, now)).toBe(1);
    expect(failuresAfter({ type: "live", failures: 3, startedAt: started(2) }, now)).toBe(4);
    expect(failuresAfter({ type: "live", failures: 0, startedAt: null }, now)).toBe(1);
    // Other task types count every failure, however long the attempt ran.
    expect(failuresAfter({ type: "video", failures: 1, startedAt: started(3600) }, now)).toBe(2);
    let failures = 0;
    let attempts = 0;
    while (failures < LIVE_MAX_ATTEMPTS) {
      failures = failuresAfter({ type: "live", failures, startedAt: started(1) }, now);
      attempts++;
    }
    expect(attempts).toBe(LIVE_MAX_ATTEMPTS);
  });

  test("a live attempt's deadline only bounds a hung transcode (a week)", () => {
    expect(taskDeadlineMs("live", 0)).toBe(7 * 24 * 3600_000);
  });
});

describe("live ladder argv (media/live/ladder.ts)", () => {
  test("the whole command: one input with the token, one decode split per rung, aligned keyframes, HLS PUT per rung", () => {
    const auth = "Authorization: Bearer s3cr3t\r\n";
    const hls = (rung: string) => [
      "-f",
      "hls",
      "-hls_time",
      "2",
      "-hls_list_size",
      "6",
      "-hls_flags",
      "independent_segments+program_date_time",
      "-hls_segment_type",
      "mpegts",
      "-start_number",
      "0",
      "-hls_segment_filename",
      `http://10.0.0.5:8080/internal/live/ss1/${rung}/e3_%d.ts`,
      "-method",
      "PUT",
      "-headers",
      auth,
      "-timeout",
      "15",
      `http://10.0.0.5:8080/internal/live/ss1/${rung}/e3.m3u8`,
    ];
    const x264 = (kbps: number, gop: number) => [
      "-c:v",
      "libx264",
      "-preset",
      "veryfast",
      "-tune",
      "zerolatency",
      "-profile:v",
      "high",
      "-pix_fmt",
      "yuv420p",
      "-b:v",
      `${kbps}k`,
      "-maxrate",
      `${kbps}k`,
      "-bufsize",
      `${kbps * 2}k`,
      "-g",
      String(gop),
      "-keyint_min",
      String(gop),
      "-sc_threshold",
      "0",
      "-force_key_frames",
      "expr:gte(t,n_forced*2)",
    ];
    const aac = ["-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"];
    expect(liveLadderArgs({ params: PARAMS, epoch: 3 })).toEqual([
      "-loglevel",
      "warning",
      "-rw_timeout",
      "60000000",
      "-headers",
      auth,
      "-probesize",
      "524288",
      "-analyzeduration",
      "500000",
      "-f",
      "flv",
      "-i",
      "http://10.0.0.5:8080/internal/live/ss1/source.flv",
      "-filter_complex",
      "[0:v:0]split=2[i0][i1];" +
        "[i0]fps=30,scale=1280:720:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[v0];" +
        "[i1]fps=25,scale=640:360:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[v1]",
      "-map",
      "[v0]",
      "-map",
      "0:a:0?",
      ...x264(2500, 60),
      ...aac,
      ...hls("720p"),
      "-map",
      "[v1]",
      "-map",
      "0:a:0?",
      ...x264(700, 50),
      ...aac,
      ...hls("360p"),
    ]);
  });

  test("one rung needs no split; a push URL with a trailing slash gets no double slash; 1 s segments", () => {
    const args = liveLadderArgs({ params: { ...PARAMS, push_url: `${PARAMS.push_url}/`, segment_seconds: 1, rungs: [PARAMS.rungs[1]!] }, epoch: 1 });
    expect(args[args.indexOf("-filter_complex") + 1]).toBe("[0:v:0]fps=25,scale=640:360:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[v0]");
    expect(args[args.indexOf("-g") + 1]).toBe("25");
    expect(args[args.indexOf("-force_key_frames") + 1]).toBe("expr:gte(t,n_forced*1)");
    expect(args.at(-1)).toBe("http://10.0.0.5:8080/internal/live/ss1/360p/e1.m3u8");
    expect(args[args.indexOf("-hls_segment_filename") + 1]).toBe("http://10.0.0.5:8080/internal/live/ss1/360p/e1_%d.ts");
  });

  test("GOP in frames is exactly one segment at the rung's rate", () => {
    expect(gopFrames({ name: "a", width: 2, height: 2, video_kbps: 100 }, 2)).toBe(60);
    expect(gopFrames({ name: "a", width: 2, height: 2, video_kbps: 100, fps: 29.97 }, 2)).toBe(60);
    expect(gopFrames({ name: "a", width: 2, height: 2, video_kbps: 100, fps: 25 }, 1)).toBe(25);
    expect(liveFilterGraph([{ name: "a", width: 320, height: 240, video_kbps: 100 }])).toBe("[0:v:0]fps=30,scale=320:240:force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1[v0]");
  });

  test("evidence never carries the token", () => {
    const redacted = redactToken(liveLadderArgs({ params: PARAMS, epoch: 1 }), PARAMS.token);
    expect(redacted.join(" ")).not.toContain("s3cr3t");
    expect(redacted).toContain("Authorization: Bearer <token>\r\n");
  });
});

describe("live telemetry (media/live/telemetry.ts)", () => {
  test("speed, fps, dropped frames and completed segments from FFmpeg's progress report", () => {
    const reports: TranscodeProgress[] = [];
    const parser = createProgressParser(undefined, (p) => reports.push(p));
    parser.push("frame=150\nfps=29.97\ndrop_frames=0\nout_time_us=5000000\nspeed=1.01x\nprogress=continue\n");
    parser.push("frame=181\nfps=30.02\ndrop_frames=3\nout_time_us=6033333\nspeed=0.98x\nprogress=continue\n");
    const telemetry = createLiveTelemetry(4, 2);
    telemetry.update(reports[0]!);
    expect(telemetry.snapshot()).toEqual({ speed: 1.01, fps: 29.97, dropped_frames: 0, segments: 2, epoch: 4 });
    telemetry.update(reports[1]!);
    expect(telemetry.snapshot()).toEqual({ speed: 0.98, fps: 30.02, dropped_frames: 3, segments: 3, epoch: 4 });
    expect(telemetry.mediaSeconds).toBe(6.03);
    expect(v.safeParse(liveProgressSchema, telemetry.snapshot()).success).toBe(true);
  });

  test("before any report: zeros, and the epoch", () => {
    expect(createLiveTelemetry(1, 1).snapshot()).toEqual({ speed: 0, fps: 0, dropped_frames: 0, segments: 0, epoch: 1 });
  });
});
