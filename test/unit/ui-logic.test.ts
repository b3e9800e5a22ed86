/** The dashboard's pure parts: routes, roles, formatting, live job updates, the task strip, schema forms. */
import { describe, expect, test } from "bun:test";
import { CLIENT_PATHS, parseRoute, withQuery } from "../../src/ui/routes.ts";
import { can } from "../../src/ui/roles.ts";
import { bytes, duration, percent, timestamp } from "../../src/ui/format.ts";
import { applyEvent, applyToList, failures, taskLanes, type JobSummary, type PlatformEvent, type Task } from "../../src/ui/job-view.ts";
import { buildConfig, fieldsOf, issuesByField, issuesFromMessage, parseField } from "../../src/ui/schema-form.ts";
import { UI_PAGE_PATHS } from "../../src/kernel/api/ui.ts";
import { checkImport } from "../../scripts/lib/layers.ts";
import { queuesFromMetrics } from "../../src/ui/metrics-text.ts";

const ID = "5c0e1f7a-2b3c-4d5e-8f90-a1b2c3d4e5f6";

describe("routes", () => {
  test("paths map to pages; /jobs/new is not a job id; unknown paths are not found", () => {
    expect(parseRoute("/").page).toBe("overview");
    expect(parseRoute("/jobs/", "?status=failed")).toEqual({ page: "jobs", query: { status: "failed" } });
    expect(parseRoute("/jobs/new").page).toBe("new-job");
    expect(parseRoute(`/jobs/${ID.toUpperCase()}`)).toEqual({ page: "job", id: ID, query: {} });
    expect(parseRoute("/jobs/../v1").page).toBe("not-found");
    expect(parseRoute("/v1/jobs").page).toBe("not-found");
  });

  test("the server answers the page for exactly the client's routes", () => {
    const served: readonly string[] = UI_PAGE_PATHS;
    expect([...served].sort()).toEqual(["/", ...CLIENT_PATHS].sort());
    expect(served.some((p) => p.startsWith("/v1") || p.startsWith("/swagger") || p === "/metrics")).toBe(false);
  });

  test("withQuery leaves out empty values", () => {
    expect(withQuery("/jobs", { status: "failed", offset: 0, profile: "", after: undefined })).toBe("/jobs?status=failed&offset=0");
    expect(withQuery("/jobs", {})).toBe("/jobs");
  });
});

test("roles nest", () => {
  expect(can("admin", "operator")).toBe(true);
  expect(can("operator", "admin")).toBe(false);
  expect(can("viewer", "viewer")).toBe(true);
  expect(can(undefined, "viewer")).toBe(false);
});

test("formatting", () => {
  expect(bytes(512)).toBe("512 B");
  expect(bytes(1536)).toBe("1.5 KiB");
  expect(bytes(null)).toBe("–");
  expect(duration(75)).toBe("1 m 15 s");
  expect(duration(3700)).toBe("1 h 1 m");
  expect(percent(99.6)).toBe("100 %");
  expect(percent(-3)).toBe("0 %");
  expect(timestamp("2026-03-01T10:00:00.123Z")).toBe("2026-03-01 10:00:00");
});

describe("live job updates", () => {
  const job: JobSummary = { id: ID, status: "processing", progress: 10, eta_seconds: 30, profiles: ["360p_h264"], outputs: ["mp4"], created_at: "2026-03-01T10:00:00Z", error: null };
  const event = (type: string, data: Record<string, unknown>, jobId = ID): PlatformEvent => ({ id: 1, type, job_id: jobId, worker_id: null, data, created_at: "2026-03-01T10:00:01Z" });

  test("progress and ETA follow job.progress; completion is 100 %", () => {
    const moved = applyEvent(job, event("job.progress", { progress: 42.5, eta_seconds: 12 }));
    expect([moved.progress, moved.eta_seconds]).toEqual([42.5, 12]);
    const done = applyEvent(moved, event("job.completed", { status: "completed" }));
    expect([done.status, done.progress, done.eta_seconds]).toEqual(["completed", 100, null]);
  });

  test("a late progress event does not move a finished job; failures keep their error; other jobs are untouched", () => {
    const failed = applyEvent(job, event("job.failed", { status: "failed", progress: 50, error: { code: "WE-MED-001", message: "boom" } }));
    expect(failed.error).toEqual({ code: "WE-MED-001", message: "boom" });
    expect(applyEvent(failed, event("job.progress", { progress: 60 }))).toBe(failed);
    expect(applyEvent(job, event("job.progress", { progress: 90 }, "other"))).toBe(job);
    const list = [job];
    expect(applyToList(list, event("job.progress", { progress: 1 }, "other"))).toBe(list);
  });
});

test("the task strip: one lane per worker, bars over the job's span, retries marked; failures listed newest first", () => {
  const attempt = (worker: string, start: string, end: string | null, n = 1, outcome: string | null = "completed") => ({ attempt: n, worker_id: worker, outcome, error_code: outcome === "failed" ? "WE-MED-002" : null, error_message: outcome === "failed" ? "ffmpeg exited 1" : null, stderr_tail: outcome === "failed" ? "tail" : null, started_at: start, finished_at: end });
  const tasks: Task[] = [
    { id: "a", type: "video", seq: 0, status: "completed", attempt: 2, started_at: null, finished_at: null, attempts: [attempt("w1", "2026-01-01T00:00:00Z", "2026-01-01T00:00:02Z", 1, "failed"), attempt("w2", "2026-01-01T00:00:02Z", "2026-01-01T00:00:04Z", 2)] },
    { id: "b", type: "video", seq: 1, status: "running", attempt: 1, started_at: null, finished_at: null, attempts: [attempt("w1", "2026-01-01T00:00:02Z", null, 1, null)] },
  ];
  const lanes = taskLanes(tasks, Date.parse("2026-01-01T00:00:04Z"));
  expect(lanes.map((l) => l.worker)).toEqual(["w1", "w2"]);
  expect(lanes[0]!.bars.map((b) => [b.left, b.width, b.outcome])).toEqual([[0, 0.5, "failed"], [0.5, 0.5, "running"]]);
  expect(lanes[1]!.bars[0]!.retry).toBe(true);
  expect(failures(tasks).map((f) => f.attempt.error_code)).toEqual(["WE-MED-002"]);
  expect(taskLanes([], 0)).toEqual([]);
});

describe("plugin config forms from JSON Schema", () => {
  const schema = {
    type: "object",
    properties: {
      root: { type: "string", minLength: 1 },
      ttl: { type: "integer", minimum: 60, maximum: 86400, default: 900 },
      mode: { type: "string", enum: ["a", "b"] },
      verbose: { type: "boolean" },
      key: { type: "string" },
      extra: { anyOf: [{ type: "string" }, { type: "array" }] },
    },
    required: ["root"],
  };
  const fields = fieldsOf(schema, { key: "set" });

  test("fields, kinds, hints; secrets are write-only", () => {
    expect(fields.map((f) => [f.name, f.kind, f.required, f.secret])).toEqual([
      ["root", "string", true, false], ["ttl", "integer", false, false], ["mode", "enum", false, false],
      ["verbose", "boolean", false, false], ["key", "string", false, true], ["extra", "json", false, false],
    ]);
    expect(fields[1]!.hint).toBe("60–86400 · default 900");
  });

  test("inputs become typed values, or a message naming the field", () => {
    expect(parseField(fields[1]!, "120")).toEqual({ ok: true, value: 120 });
    expect(parseField(fields[1]!, "1.5")).toEqual({ ok: false, message: "ttl must be a whole number" });
    expect(parseField(fields[0]!, "")).toEqual({ ok: false, message: "root is required" });
    expect(parseField(fields[5]!, "[1]")).toEqual({ ok: true, value: [1] });
    expect(parseField(fields[3]!, "true")).toEqual({ ok: true, value: true });
  });

  test("the PUT body keeps stored values, sends a secret only when typed, and collects field errors", () => {
    expect(buildConfig(fields, { ttl: "300" }, { root: "/data", ttl: 900 })).toEqual({ config: { root: "/data", ttl: 300 }, errors: {} });
    expect(buildConfig(fields, { key: "new-secret" }, { root: "/data" }).config).toEqual({ root: "/data", key: "new-secret" });
    expect(buildConfig(fields, { ttl: "x" }, { root: "/data" }).errors).toEqual({ ttl: "ttl must be a whole number" });
  });

  test("the API's issues and listed messages land at their fields", () => {
    expect(issuesByField({ issues: [{ path: "session_ttl", message: "Expected >=60" }, { path: "config.users.0.roles", message: "bad" }, { message: "whole" }] })).toEqual({ session_ttl: "Expected >=60", users: "bad", "": "whole" });
    expect(issuesByField(undefined)).toEqual({});
    expect(issuesFromMessage("invalid profile:\n- name: required field is missing\n- video.height: must be even")).toEqual({ name: "name: required field is missing", video: "video.height: must be even" });
  });
});

test("layers: the dashboard imports only src/ui/, and nothing outside imports it", () => {
  expect(checkImport("src/ui/pages/jobs.tsx", "src/ui/api.ts")).toBeUndefined();
  expect(checkImport("src/ui/api.ts", "src/core/errors.ts")?.rule).toBe("isolated");
  expect(checkImport("src/kernel/api/ui.ts", "src/ui/routes.ts")?.rule).toBe("isolated");
});

test("queue depth and oldest wait per pool from the kernel's Prometheus text", () => {
  const text = [
    "# HELP webencode_queue_depth Tasks queued (waiting for a worker) per pool",
    'webencode_queue_depth{pool="cpu",service="kernel"} 3',
    'webencode_queue_depth{service="kernel",pool="gpu"} 0',
    'webencode_queue_oldest_age_seconds{pool="cpu",service="kernel"} 42.5',
    'webencode_queue_depth_other{pool="x"} 9',
    'webencode_queue_depth{pool="bad"} NaN',
  ].join("\n");
  expect(queuesFromMetrics(text)).toEqual([
    { pool: "cpu", depth: 3, oldestSeconds: 42.5 },
    { pool: "gpu", depth: 0, oldestSeconds: 0 },
  ]);
  expect(queuesFromMetrics("")).toEqual([]);
});
