/**
 * Job details (issue 11): which worker ran a task stays visible after it finished, GET /v1/jobs/:id/logs has
 * real entries (each attempt's start and end, with FFmpeg's command, exit and stderr tail), an ended job has
 * no ETA, and the ETA is estimated from the rate since processing started (stable, no 13 → 206 s jump).
 * An in-process kernel with its embedded worker, real FFmpeg and storage-fs.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { estimateEtaSeconds, workStart } from "../../src/kernel/events/progress.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { makeClip } from "../helpers/media.ts";
import { waitFor } from "../helpers/wait.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-job-details-"));
let clip = "";
let k: TestKernel;

beforeAll(async () => {
  clip = await makeClip(scratch, "clip", { width: 640, height: 360, rate: "25", duration_s: 3, audio: true, gop: 25 });
  k = await startTestKernel({ env: { EMBEDDED_WORKER: "true", TASK_MAX_ATTEMPTS: "1" } });
}, 120_000);

afterAll(async () => {
  await k?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

interface Job {
  id: string;
  status: string;
  eta_seconds: number | null;
  tasks: Array<{ id: string; type: string; status: string; worker_id: string | null; attempts: Array<{ worker_id: string }> }>;
}
interface LogEntry {
  at: string;
  level: string;
  message: string;
  task_id: string | null;
  worker_id: string | null;
  argv?: string[];
  exit_code?: number;
  stderr_tail?: string;
}

async function submit(opts: { blockHls?: boolean } = {}): Promise<string> {
  const form = new FormData();
  form.append("file", Bun.file(clip), "clip.mp4");
  const up = (await (await k.fetch("/v1/files", { method: "POST", body: form })).json()) as { source_url: string };
  const r = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: up.source_url, profiles: ["360p_h264"], outputs: ["mp4", "hls"] }) });
  expect(r.status).toBe(201);
  const id = ((await r.json()) as { id: string }).id;
  if (opts.blockHls) {
    // An object where the HLS folder must go: storage refuses the segments, packaging fails (WE-STO-002).
    mkdirSync(join(k.dataDir, "storage", "jobs", id), { recursive: true });
    writeFileSync(join(k.dataDir, "storage", "jobs", id, "hls"), "x");
  }
  return id;
}

const getJob = async (id: string) => (await (await k.fetch(`/v1/jobs/${id}`)).json()) as Job;

async function waitStatus(id: string, statuses: string[]): Promise<Job> {
  let job: Job | undefined;
  await waitFor(
    async () => {
      job = await getJob(id);
      return statuses.includes(job.status);
    },
    240_000,
    `job ${id} to be ${statuses.join(" or ")} (last: ${job?.status})`,
    100,
  );
  return job!;
}

describe("a finished job's details", () => {
  let job: Job;
  let entries: LogEntry[];

  beforeAll(async () => {
    job = await waitStatus(await submit(), ["completed", "failed", "cancelled"]);
    entries = ((await (await k.fetch(`/v1/jobs/${job.id}/logs`)).json()) as { entries: LogEntry[] }).entries;
  }, 300_000);

  test("every finished task names the worker that ran it", () => {
    expect(job.status).toBe("completed");
    expect(job.tasks.length).toBeGreaterThanOrEqual(4); // analyze, video, audio, package
    for (const t of job.tasks) {
      expect(t.status).toBe("completed");
      expect(t.worker_id).toBe("embedded");
      expect(t.worker_id).toBe(t.attempts.at(-1)!.worker_id);
    }
  });

  test("the log has each attempt's start and end, in time order, with the FFmpeg command of the encodes", () => {
    expect(entries.length).toBe(job.tasks.length * 2);
    const times = entries.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    for (const t of job.tasks) {
      const mine = entries.filter((e) => e.task_id === t.id);
      expect(mine.map((e) => e.message.replace(/^\w+ \d+ attempt 1 /, ""))).toEqual(["started on worker embedded", "completed"]);
      expect(mine.every((e) => e.worker_id === "embedded" && e.level === "info")).toBe(true);
    }
    const video = job.tasks.find((t) => t.type === "video")!;
    const end = entries.find((e) => e.task_id === video.id && e.message.endsWith("completed"))!;
    expect(end.argv?.[0]).toMatch(/ffmpeg$/);
    expect(end.argv).toContain("-frames:v");
  });

  test("an ended job has no ETA; its estimate was measured from the start of processing", async () => {
    expect(job.eta_seconds).toBeNull();
    const start = await workStart(k.handle.ctx.db, job.id);
    expect(start?.progress).toBe(5); // analysis's share: processing started right after it
    expect(start!.elapsedS).toBeGreaterThan(0);
    expect(start!.elapsedS).toBeLessThan(300);
  });
});

describe("failures and cancellation in the details", () => {
  test("a failed attempt's log entry is an error with its code and message; the failed job has no ETA", async () => {
    const job = await waitStatus(await submit({ blockHls: true }), ["failed", "completed", "cancelled"]);
    expect(job.status).toBe("failed");
    expect(job.eta_seconds).toBeNull();
    const pkg = job.tasks.find((t) => t.type === "package")!;
    expect(pkg.worker_id).toBe("embedded");
    const { entries } = (await (await k.fetch(`/v1/jobs/${job.id}/logs`)).json()) as { entries: LogEntry[] };
    const end = entries.filter((e) => e.task_id === pkg.id).at(-1)!;
    expect(end.level).toBe("error");
    expect(end.message).toMatch(/^package 0 attempt 1 failed \(WE-STO-002\): .*hls/);
  }, 300_000);

  test("a job cancelled while processing keeps no ETA", async () => {
    const id = await submit();
    await waitStatus(id, ["processing", "packaging", "completed"]);
    const r = await k.fetch(`/v1/jobs/${id}/cancel`, { method: "POST" });
    if (r.status === 409) return expect((await getJob(id)).eta_seconds).toBeNull(); // it finished first: still no ETA
    expect(r.status).toBe(200);
    const job = await getJob(id);
    expect(job.status).toBe("cancelled");
    expect(job.eta_seconds).toBeNull();
  }, 300_000);
});

describe("estimateEtaSeconds", () => {
  test("no estimate before work has started or while too little is done; 0 when done", () => {
    expect(estimateEtaSeconds(5, undefined)).toBeNull();
    expect(estimateEtaSeconds(5.5, { elapsedS: 10, progress: 5 })).toBeNull();
    expect(estimateEtaSeconds(100, { elapsedS: 10, progress: 5 })).toBe(0);
  });

  test("a steady encode gives a steady, accurate estimate; none while encoders start", () => {
    // Analysis is done 1 s after the start (5 %), processing starts at 3 s and gains 4.25 %/s until 90 % at 23 s,
    // then packaging takes the last 10 % in 2 s: the job ends at 25 s.
    const progressAt = (t: number) => (t < 3 ? 5 : t < 23 ? 5 + (t - 3) * 4.25 : 90 + (t - 23) * 5);
    const estimates: number[] = [];
    // Between analysis and the first encoded frames nothing is promised (the old rate from the job's start
    // promised 19 s at 1 s, then grew while the encoders started).
    for (const t of [1, 2, 3]) expect(estimateEtaSeconds(progressAt(t), { elapsedS: Math.max(0, t - 3), progress: 5 })).toBeNull();
    for (let t = 4; t <= 22; t++) {
      const p = progressAt(t);
      const eta = estimateEtaSeconds(p, { elapsedS: t - 3, progress: 5 });
      expect(eta).not.toBeNull();
      estimates.push(eta!);
      // Within 2 s of the truth (25 s - t) all along.
      expect(Math.abs(eta! - (25 - t))).toBeLessThanOrEqual(2);
    }
    // Never grows while the work progresses steadily.
    for (let i = 1; i < estimates.length; i++) expect(estimates[i]!).toBeLessThanOrEqual(estimates[i - 1]!);
  });
});
