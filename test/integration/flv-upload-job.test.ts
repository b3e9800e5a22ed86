/**
 * An uploaded FLV with B-frames through the whole VOD pipeline (real kernel, embedded worker, PostgreSQL):
 * (2 s) split into two 1 s chunks, the job completes with every frame. The video tasks' params carry the
 * source's format (analyze), so the first chunk decodes from the file's start (FFmpeg 5.1's FLV seek near
 * the start lands a GOP late) and the others seek; the argv of each attempt shows which.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestKernel, type TestKernel } from "../helpers/kernel.ts";
import { probe } from "../helpers/media.ts";
import { waitFor } from "../helpers/wait.ts";

interface Job {
  status: string;
  status_reason: string | null;
  error: { code: string; message: string } | null;
  tasks: Array<{ type: string; status: string; attempts: Array<{ attempt: number; argv?: string[] | null }> }>;
}

let k: TestKernel;
let scratch = "";
let source = "";

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "webencode-flv-job-"));
  const flv = join(scratch, "upload.flv");
  const made = Bun.spawnSync([
    ...["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2", "-f", "lavfi", "-i", "sine=f=440:r=44100:d=2"],
    ...["-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv", flv],
  ]);
  expect(made.exitCode).toBe(0);
  k = await startTestKernel({ env: { EMBEDDED_WORKER: "true", CHUNK_MIN_DURATION: "1s", CHUNK_MAX_DURATION: "1s", SPLIT_MIN_DURATION: "1s" } });
  const form = new FormData();
  form.append("file", Bun.file(flv), "upload.flv");
  const r = await k.fetch("/v1/files", { method: "POST", body: form });
  expect(r.status).toBe(201);
  source = ((await r.json()) as { source_url: string }).source_url;
}, 120_000);

afterAll(async () => {
  await k?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test("a B-frame FLV upload split into chunks completes with every frame; only the first chunk skips the seek", async () => {
  const created = await k.fetch("/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source_url: source, profiles: ["360p_h264"], outputs: ["mp4"] }) });
  expect(created.status).toBe(201);
  const id = ((await created.json()) as { id: string }).id;
  let job: Job | undefined;
  await waitFor(async () => {
    job = (await (await k.fetch(`/v1/jobs/${id}`)).json()) as Job;
    return ["completed", "failed", "cancelled"].includes(job.status);
  }, 120_000, `the FLV job to end (last: ${job?.status} ${job?.status_reason ?? ""})`, 250);
  expect([job!.status, job!.error]).toEqual(["completed", null]);

  const video = job!.tasks.filter((t) => t.type === "video");
  expect(video).toHaveLength(2);
  const seeks = video.map((t) => [...t.attempts].sort((a, b) => a.attempt - b.attempt).at(-1)?.argv?.includes("-ss") ?? null).sort();
  expect(seeks).toEqual([false, true]);

  const items = ((await (await k.fetch(`/v1/jobs/${id}/outputs`)).json()) as { items: Array<{ kind: string; url: string }> }).items;
  const mp4 = items.find((o) => o.kind === "mp4");
  expect(mp4).toBeDefined();
  const info = await probe(new URL(new URL(mp4!.url).pathname + new URL(mp4!.url).search, k.url).toString());
  expect(info.video?.frames).toBe(50);
}, 150_000);
