import { describe, expect, test } from "bun:test";
import { SseParser } from "../../src/cli/sse.ts";
import { type JobSummary, endOf, initialState, reduce } from "../../src/cli/watch.ts";
import { localPathFor, outputFile, playlistUris } from "../../src/cli/transfer.ts";
import { describeApiError } from "../../src/cli/client.ts";
import { eventLine } from "../../src/cli/commands/events.ts";

const ev = (type: string, data: Record<string, unknown>, worker_id: string | null = null) => ({ id: 1, type, job_id: "j", worker_id, data, created_at: "" });

describe("cli SSE parser", () => {
  test("events split across chunks, comments, retry, CRLF, multi-line data, ids only on stored events", () => {
    const p = new SseParser();
    expect(p.push("retry: 2000\n\nid: 4")).toEqual([]);
    expect(p.retryMs).toBe(2000);
    const a = p.push('2\nevent: job.created\ndata: {"a":1}\n\n: keep-alive\n\nevent: job.progress\r\ndata: x\r\ndata: y\r\n\r\n');
    expect(a).toEqual([
      { id: "42", event: "job.created", data: '{"a":1}' },
      { event: "job.progress", data: "x\ny" },
    ]);
    expect(p.push("data:no-space\n")).toEqual([]);
    expect(p.push("\n")).toEqual([{ event: "message", data: "no-space" }]);
  });
});

describe("cli job watching (reducer)", () => {
  const job: JobSummary = { id: "j", status: "queued", progress: 0, eta_seconds: null, error: null };
  test("states, progress that never goes back, busy workers, the end", () => {
    let s = initialState(job);
    s = reduce(s, ev("job.started", { status: "analyzing", progress: 0 }));
    s = reduce(s, ev("task.leased", { task_id: "t1" }, "worker-aaaaaaaa"));
    s = reduce(s, ev("task.leased", { task_id: "t2" }, "worker-bbbbbbbb"));
    s = reduce(s, ev("job.progress", { progress: 40, eta_seconds: 9 }));
    s = reduce(s, ev("job.progress", { progress: 30, eta_seconds: 8 }));
    s = reduce(s, ev("task.completed", { task_id: "t1" }));
    expect(s).toMatchObject({ status: "analyzing", progress: 40, eta_seconds: 8, running: { t2: "worker-bbbbbbbb" } });
    const done = reduce(s, ev("job.completed", { status: "completed", progress: 100 }));
    expect(done).toMatchObject({ status: "completed", progress: 100, eta_seconds: null, running: {} });
    expect(endOf(done)).toBeUndefined();
    const failed = reduce(s, ev("job.failed", { status: "failed", error: { code: "WE-JOB-007", message: "not media" } }));
    expect(endOf(failed)).toMatchObject({ exitCode: 1, code: "WE-JOB-007", message: "job j failed: WE-JOB-007: not media" });
    expect(endOf(reduce(s, ev("job.cancelled", { status: "cancelled" })))?.exitCode).toBe(3);
  });
});

describe("cli downloads and errors", () => {
  test("HLS playlist references, kept inside the output tree", () => {
    expect(playlistUris('#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2,\nseg0.m4s\n\n720p/index.m3u8\n')).toEqual(["init.mp4", "seg0.m4s", "720p/index.m3u8"]);
    expect(localPathFor("/o/hls", "/o/hls/master.m3u8", "720p/index.m3u8?t=1")).toBe("/o/hls/720p/index.m3u8");
    expect(localPathFor("/o/hls", "/o/hls/720p/index.m3u8", "../../etc/passwd")).toBeUndefined();
    expect(localPathFor("/o/hls", "/o/hls/master.m3u8", "https://elsewhere/x.ts")).toBeUndefined();
    expect(localPathFor("/o/hls", "/o/hls/master.m3u8", "/abs.ts")).toBeUndefined();
  });

  test("an output's file: its key below jobs/<id>/, never outside the directory", () => {
    expect(outputFile("/o", "j1", { storage_key: "jobs/j1/360p_h264.mp4" })).toBe("/o/360p_h264.mp4");
    expect(outputFile("/o", "j1", { storage_key: "jobs/j1/hls/master.m3u8" })).toBe("/o/hls/master.m3u8");
    expect(() => outputFile("/o", "j1", { storage_key: "jobs/j1/../../x" })).toThrow(/outside/);
  });

  test("the error envelope becomes one line with its code", () => {
    expect(describeApiError(404, { error: { code: "WE-JOB-004", message: "job x not found" } })).toEqual({ code: "WE-JOB-004", message: "WE-JOB-004: job x not found" });
    expect(describeApiError(502, "Bad Gateway")).toEqual({ message: "HTTP 502: Bad Gateway" });
  });
});

describe("cli events lines", () => {
  test("time, type, job, the payload's fields and an error code", () => {
    const e = { id: 7, type: "job.failed", job_id: "5c0e1a2b-0000-4000-8000-000000000000", worker_id: null, created_at: "2026-03-01T10:00:05.001Z", data: { status: "failed", progress: 12, error: { code: "WE-JOB-007", message: "x" } } };
    expect(eventLine(e)).toBe("10:00:05 job.failed       job=5c0e1a2b status=failed progress=12 error=WE-JOB-007");
    expect(eventLine({ ...e, type: "worker.offline", job_id: null, worker_id: "w1", data: { reason: "gone" } })).toBe("10:00:05 worker.offline   worker=w1");
  });
});
