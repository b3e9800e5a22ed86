/**
 * Recording and archive through the COMPILED kernel in standalone mode (embedded worker): a stream with
 * `archive` on, FFmpeg publishing for ~6 s over RTMP, is recorded as it arrives (stream copy); when the session
 * ends (publisher gone, grace over) the recording goes to storage and becomes a VOD job with the stream's
 * archive profiles, linked from the session (archive_job_id). The job completes, and its MP4's duration
 * matches the session's media (the publisher's 6 s) within 0.5 s, checked with ffprobe.
 *
 * The publisher sends B-frames (x264's default, as OBS's "high" profile does): FFmpeg 5.1's FLV demuxer
 * seeks a GOP late near the file's start, which once cost the archive's first chunk its first GOP
 * (WE-JOB-008 "part has 100 frames, expected 150"); the first chunk now decodes without seeking
 * (src/media/args/video-chunk.ts, chunkSeekArgs).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { useCompiledBinaries } from "../helpers/e2e-setup.ts";
import { startStandaloneKernel } from "../helpers/first-job.ts";
import { freePort, type Proc, runProc, spawnProc } from "../helpers/proc.ts";
import { waitFor } from "../helpers/wait.ts";

const e2e = useCompiledBinaries("webencode-live-archive");
const PUBLISH_SECONDS = 6;

let kernel: Proc;
let base = "";
let rtmpPort = 0;
let auth: Record<string, string> = {};

beforeAll(async () => {
  const dir = e2e.dir("kernel");
  const dataDir = join(dir, "data");
  const port = await freePort();
  rtmpPort = await freePort();
  const started = await startStandaloneKernel(e2e.kernel, dir, { PORT: String(port), DATA_DIR: dataDir, LIVE_RTMP_PORT: String(rtmpPort), LIVE_RECONNECT_GRACE: "1s" }, dataDir);
  kernel = started.proc;
  base = started.base;
  auth = { authorization: `Bearer ${started.key}` };
}, 180_000);

afterAll(async () => {
  await kernel?.stop("SIGTERM", 15_000).catch(() => {});
});

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, { method, headers: { ...auth, "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  expect(response.status).toBeLessThan(300);
  return (await response.json()) as T;
}

describe("live archive (compiled kernel, standalone)", () => {
  test("a 6 s session with archive on becomes a completed VOD job whose MP4 lasts 6 s (±0.5 s)", async () => {
    const stream = await api<{ id: string; key: string }>("POST", "/v1/streams", { name: "archived", archive: true, archive_profiles: ["360p_h264"], ladder: "light" });
    const publisher = spawnProc([
      "ffmpeg", "-hide_banner", "-loglevel", "warning", "-re",
      "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
      "-t", String(PUBLISH_SECONDS), "-c:v", "libx264", "-preset", "veryfast", "-g", "50", "-bf", "3", "-b:v", "600k", "-c:a", "aac", "-b:a", "64k",
      "-f", "flv", `rtmp://127.0.0.1:${rtmpPort}/live/${stream.key}`,
    ]);
    expect((await publisher.exited).code).toBe(0);

    type Session = { id: string; ended_at: string | null; end_reason: string | null; archive_job_id: string | null };
    let session: Session | undefined;
    await waitFor(async () => {
      session = (await api<{ items: Session[] }>("GET", `/v1/streams/${stream.id}/sessions`)).items[0];
      return session?.archive_job_id != null;
    }, 60_000, "the session's archive job", 250);
    expect(session!.ended_at).not.toBeNull();
    expect(session!.end_reason).toBe("publisher_closed");

    const jobId = session!.archive_job_id!;
    let job: { status: string; metadata: Record<string, unknown>; error: unknown } | undefined;
    await waitFor(async () => {
      job = await api("GET", `/v1/jobs/${jobId}`);
      return job!.status === "completed" || job!.status === "failed";
    }, 120_000, "the archive job to end", 500);
    expect([job!.status, job!.error]).toEqual(["completed", null]);
    expect(job!.metadata).toMatchObject({ live_archive: { stream_id: stream.id, session_id: session!.id, part: 1, parts: 1 } });

    const outputs = await api<{ items: Array<{ kind: string; url: string | null }> }>("GET", `/v1/jobs/${jobId}/outputs`);
    const mp4 = outputs.items.find((output) => output.kind === "mp4" && output.url);
    expect(mp4).toBeDefined();
    const probe = await runProc(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", mp4!.url!], { timeoutMs: 60_000 });
    const duration = Number.parseFloat(probe.stdout);
    expect(Math.abs(duration - PUBLISH_SECONDS)).toBeLessThanOrEqual(0.5);
  }, 240_000);
});
