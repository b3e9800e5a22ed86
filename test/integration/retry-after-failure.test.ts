/**
 * Retry after a failure (issue 11): a job that failed at packaging used to lose its parts in the clean-up, so
 * `POST /v1/jobs/:id/retry` answered 200 and failed again at once with WE-STO-001. Now a failed (or cancelled)
 * job keeps its parts until it is deleted or FAILED_JOB_RETENTION passes, and a retry re-runs whatever is
 * missing. Real parts throughout: an in-process kernel with its embedded worker, storage-fs on disk, FFmpeg.
 *
 * The packaging failure has a real cause: an object at `jobs/<id>/hls` (as a stray file left by an earlier
 * tool would be) makes storage refuse the HLS segments under `jobs/<id>/hls/…` (files and folders share one
 * namespace). The clean-up of the failed job removes the outputs — that object included — but not the parts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runRetention } from "../../src/kernel/retention.ts";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { makeClip, probe } from "../helpers/media.ts";
import { waitFor } from "../helpers/wait.ts";

const scratch = mkdtempSync(join(tmpdir(), "webencode-retry-"));
let clip = "";
let k: TestKernel;
/** A kernel whose FAILED_JOB_RETENTION is one second (its sweep is run by hand below). */
let short: TestKernel;

beforeAll(async () => {
  clip = await makeClip(scratch, "clip", { width: 640, height: 360, rate: "25", duration_s: 3, audio: true, gop: 25 });
  k = await startTestKernel({ env: { EMBEDDED_WORKER: "true", TASK_MAX_ATTEMPTS: "1" } });
  short = await startTestKernel({ env: { EMBEDDED_WORKER: "true", TASK_MAX_ATTEMPTS: "1", FAILED_JOB_RETENTION: "1s" } });
}, 120_000);

afterAll(async () => {
  await Promise.all([k?.stop(), short?.stop()]);
  rmSync(scratch, { recursive: true, force: true });
});

interface Task {
  id: string;
  type: string;
  status: string;
  attempt: number;
  attempts: Array<{ attempt: number; outcome: string | null }>;
}
interface Job {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  tasks: Task[];
  timeline: Array<{ status: string }>;
}

const storage = (kk: TestKernel) => join(kk.dataDir, "storage");
const partsDir = (kk: TestKernel, id: string) => join(storage(kk), "jobs", id, "parts");

async function uploadKey(kk: TestKernel): Promise<string> {
  const form = new FormData();
  form.append("file", Bun.file(clip), "clip.mp4");
  const r = await kk.fetch("/v1/files", { method: "POST", body: form });
  expect(r.status).toBe(201);
  return ((await r.json()) as { source_url: string }).source_url;
}

/** Submits a job; with `blockHls`, an object at jobs/<id>/hls makes its packaging fail. */
async function submit(kk: TestKernel, opts: { blockHls: boolean }): Promise<string> {
  const source = await uploadKey(kk);
  const r = await kk.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: source, profiles: ["360p_h264"], outputs: ["mp4", "hls"] }) });
  expect(r.status).toBe(201);
  const id = ((await r.json()) as { id: string }).id;
  if (opts.blockHls) {
    mkdirSync(join(storage(kk), "jobs", id), { recursive: true });
    writeFileSync(join(storage(kk), "jobs", id, "hls"), "not a folder");
  }
  return id;
}

const getJob = async (kk: TestKernel, id: string) => (await (await kk.fetch(`/v1/jobs/${id}`)).json()) as Job;

async function waitStatus(kk: TestKernel, id: string, statuses: string[]): Promise<Job> {
  let job: Job | undefined;
  await waitFor(
    async () => {
      job = await getJob(kk, id);
      return statuses.includes(job.status);
    },
    240_000,
    `job ${id} to be ${statuses.join(" or ")} (last: ${job?.status})`,
    200,
  );
  return job!;
}

async function failAtPackaging(kk: TestKernel): Promise<Job> {
  const id = await submit(kk, { blockHls: true });
  const job = await waitStatus(kk, id, ["failed", "completed", "cancelled"]);
  expect(job.status).toBe("failed");
  expect(job.tasks.find((t) => t.type === "package")?.status).toBe("failed");
  return job;
}

async function retry(kk: TestKernel, id: string): Promise<{ status: number; body: { status?: string; error?: { code: string; message: string } } }> {
  const r = await kk.fetch(`/v1/jobs/${id}/retry`, { method: "POST" });
  return { status: r.status, body: (await r.json()) as { status?: string } };
}

async function expectPlayableMp4(kk: TestKernel, id: string): Promise<void> {
  const items = ((await (await kk.fetch(`/v1/jobs/${id}/outputs`)).json()) as { items: Array<{ kind: string; url: string }> }).items;
  const mp4 = items.find((o) => o.kind === "mp4");
  expect(items.map((o) => o.kind).sort()).toEqual(["hls", "mp4"]);
  // PUBLIC_URL defaults to the configured PORT, which is 0 for an in-process test kernel: use the real one.
  const info = await probe(new URL(new URL(mp4!.url).pathname, kk.url).toString());
  expect(info.video?.frames).toBe(75);
  expect(info.audio).not.toBeNull();
}

describe("retry after a packaging failure", () => {
  test("the failed job keeps its parts (its outputs go); the retry resumes at packaging and completes", async () => {
    const job = await failAtPackaging(k);
    // The error is about our output location, not the user's file.
    expect(job.error?.code).not.toBe("WE-JOB-007");
    expect(readdirSync(partsDir(k, job.id)).sort()).toEqual(["audio_0_0.m4a", "v0_360p_h264_00000.mp4"]);
    expect(existsSync(join(storage(k), "jobs", job.id, "hls"))).toBe(false);

    const r = await retry(k, job.id);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("packaging");
    const done = await waitStatus(k, job.id, ["completed", "failed"]);
    expect({ status: done.status, error: done.error }).toEqual({ status: "completed", error: null });
    // Only packaging ran again; the media tasks were not redone.
    const byType = (t: string) => done.tasks.filter((x) => x.type === t);
    expect(byType("package")[0]!.attempts.length).toBe(2);
    for (const t of [...byType("video"), ...byType("audio")]) expect(t.attempts.length).toBe(1);
    await expectPlayableMp4(k, job.id);
    // Completed: the parts are gone now.
    expect(existsSync(partsDir(k, job.id))).toBe(false);
  }, 300_000);

  test("parts that disappeared meanwhile are made again: the tasks that produced them re-run, then packaging", async () => {
    const job = await failAtPackaging(k);
    unlinkSync(join(partsDir(k, job.id), "audio_0_0.m4a")); // an operator's clean-up, a lost disk …
    const r = await retry(k, job.id);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("processing");
    const done = await waitStatus(k, job.id, ["completed", "failed"]);
    expect({ status: done.status, error: done.error }).toEqual({ status: "completed", error: null });
    expect(done.tasks.find((t) => t.type === "audio")!.attempts.length).toBe(2);
    expect(done.tasks.find((t) => t.type === "video")!.attempts.length).toBe(1);
    expect(done.tasks.find((t) => t.type === "package")!.attempts.length).toBe(2);
    await expectPlayableMp4(k, job.id);
  }, 300_000);

  test("a cancelled job can be retried too, and completes", async () => {
    const id = await submit(k, { blockHls: false });
    const c = await k.fetch(`/v1/jobs/${id}/cancel`, { method: "POST" });
    expect(c.status).toBe(200);
    expect((await getJob(k, id)).status).toBe("cancelled");
    const r = await retry(k, id);
    expect(r.status).toBe(200);
    const done = await waitStatus(k, id, ["completed", "failed"]);
    expect({ status: done.status, error: done.error }).toEqual({ status: "completed", error: null });
    await expectPlayableMp4(k, id);
    // A completed job cannot be retried: it says so.
    const again = await retry(k, id);
    expect(again.status).toBe(409);
    expect(again.body.error?.code).toBe("WE-JOB-006");
  }, 300_000);
});

describe("FAILED_JOB_RETENTION", () => {
  test("once it has passed the retention sweep removes the parts (noted in the timeline); a retry then re-runs everything", async () => {
    const job = await failAtPackaging(short);
    expect(readdirSync(partsDir(short, job.id)).length).toBe(2);
    await Bun.sleep(1100); // the configured retention: 1 s after the job ended
    await runRetention(short.handle.ctx);
    expect(existsSync(partsDir(short, job.id)) ? readdirSync(partsDir(short, job.id)) : []).toEqual([]);
    const after = await getJob(short, job.id);
    expect(after.timeline.map((e) => e.status)).toContain("storage:parts_removed");
    // Swept once per ending: a second sweep adds nothing.
    await runRetention(short.handle.ctx);
    expect((await getJob(short, job.id)).timeline.filter((e) => e.status === "storage:parts_removed").length).toBe(1);

    const r = await retry(short, job.id);
    expect(r.status).toBe(200);
    expect(r.body.status).toBe("processing");
    const done = await waitStatus(short, job.id, ["completed", "failed"]);
    expect({ status: done.status, error: done.error }).toEqual({ status: "completed", error: null });
    for (const t of done.tasks.filter((x) => x.type !== "analyze")) expect(t.attempts.length).toBe(2);
  }, 300_000);

  test("the retention does not touch a job that failed more recently than it", async () => {
    const job = await failAtPackaging(k); // k keeps the default (7 days)
    await runRetention(k.handle.ctx);
    expect(readdirSync(partsDir(k, job.id)).length).toBe(2);
  }, 300_000);
});
